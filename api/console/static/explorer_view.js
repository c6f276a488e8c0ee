// The explorer's words: the events to pick from (a select of the deployment's events, grouped by
// contract, narrowed to the chosen kind of record), and a record's arguments decoded as a person
// reads them: addresses by member ("商家 0xef9b…1234"), amounts of the money contracts in yuan
// (their ABIs count integer fen: `amount`, `balance`, `minimum`, `refund`, `remaining`, `threshold`),
// durations in days and hours, moments in Beijing time.
import { $, T, api, duration, short, when, yuan } from './common.js';

const MONEY = new Set(['SettlementToken', 'GuaranteeVault', 'OrderSettlement', 'PurchaseProofs']);
const FEN = /^(amount|balance|minimum|refund|remaining|threshold)$/;
// the contracts' durations (seconds) and moments (Unix seconds), as a person reads them (the explorer showed
// `returnWindow 604800`; phone trial)
const SECONDS = /^(cooldown|settlementTimeout|returnWindow|delay)$/;
const MOMENT = /^(windowEnds|deadline|until)$/;
let abis = {};   // contract => its events' inputs by event name
let names = {};  // address => "商家 0xef9b…1234"

export async function loadExplorerWords() {
  const [m, members] = await Promise.all([api('/v1/contracts'), api('/v1/governance/members').catch(() => [])]);
  abis = Object.fromEntries(Object.entries(m.contracts).map(([name, c]) => [name,
    Object.fromEntries(c.abi.filter((x) => x.type === 'event').map((e) => [e.name, e.inputs]))]));
  names = Object.fromEntries(members.map((x) => [x.address.toLowerCase(),
    `${(Array.isArray(x.roles) ? x.roles : [x.roles]).map((r) => T[`role_${r}`] || r).join(T.list_sep)} ${short(x.address)}`]));
  fillEvents();
  $('explorer-kind').addEventListener('change', fillEvents);
}

// the event select: every event of the kind's contracts (all contracts for "all"), grouped by contract
function fillEvents() {
  const select = $('explorer-event');
  const kind = $('explorer-kind').selectedOptions[0];
  const contracts = kind.dataset.contracts ? kind.dataset.contracts.split(' ') : Object.keys(abis);
  const only = kind.dataset.events ? new Set(kind.dataset.events.split(' ')) : null;
  const keep = select.value;
  const any = document.createElement('option'); any.value = ''; any.textContent = T.event_any;
  const groups = contracts.filter((c) => abis[c]).map((c) => {
    const g = document.createElement('optgroup'); g.label = c;
    for (const name of Object.keys(abis[c]).sort()) {
      if (only && !only.has(name)) continue;
      const o = document.createElement('option'); o.value = name; o.textContent = T[`event:${name}`] || name;
      o.title = name; g.append(o);
    }
    return g;
  }).filter((g) => g.children.length);
  select.replaceChildren(any, ...groups);
  select.value = [...select.options].some((o) => o.value === keep) ? keep : '';
}

function shown(contract, event, name, value) {
  const input = (abis[contract]?.[event] || []).find((i) => i.name === name);
  const v = String(value);
  if (/^0x[0-9a-fA-F]{40}$/.test(v)) return names[v.toLowerCase()] || short(v);
  if (MONEY.has(contract) && input && /^uint/.test(input.type) && FEN.test(name) && /^\d+$/.test(v)) {
    return `${yuan(v)} (${v} ${T.fen_unit})`;
  }
  if (/^0x[0-9a-fA-F]{64,}$/.test(v)) return short(v);
  if (input && /^uint/.test(input.type) && /^\d{1,12}$/.test(v)) {
    if (SECONDS.test(name)) return `${duration(v)} (${v} s)`;
    if (MOMENT.test(name) && v !== '0') return when(Number(v) * 1000);
  }
  return Array.isArray(value) ? `[${value.map((x) => shown(contract, event, '', x)).join(', ')}]` : v;
}

// an event and an argument as the reader's language names them (the ABI's own name beside an event's,
// on hover for an argument's: the Chinese page named both in English; phone trial)
export function eventName(event) {
  const said = T[`event:${event}`];
  return said && said !== event ? `${said} · ${event}` : event;
}

// a record's event in a table cell: its name in the reader's language, the ABI's on hover
export function eventCell(event) {
  const span = document.createElement('span');
  span.textContent = T[`event:${event}`] || event; span.title = event; span.dataset.event = event;
  return span;
}

// a record's arguments, one "name: value" line each, with the full value on hover
export function argsView(contract, event, args) {
  const dl = document.createElement('dl'); dl.className = 'args';
  for (const [k, v] of Object.entries(args || {})) {
    const dt = document.createElement('dt'); dt.textContent = T[`arg:${k}`] || k; dt.title = k;
    const dd = document.createElement('dd'); dd.textContent = shown(contract, event, k, v);
    dd.title = typeof v === 'string' ? v : JSON.stringify(v);
    dl.append(dt, dd);
  }
  return dl;
}
