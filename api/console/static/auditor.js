// The auditor's page (reads everything, writes nothing): on-chain records read from the node with
// filters and links to their block and transaction; a code URI or an EPCIS document verified
// against the chain with every check shown; reconciliation runs with their breaks and a chart;
// the audit log with filters.
import { $, LANG, T, api, bars, button, fill, rows, say, when } from './common.js';

const params = new URLSearchParams(window.location.search);

function link(text, query) {
  const a = document.createElement('a');
  const next = new URLSearchParams({ lang: LANG, ...query });
  a.href = `/console/auditor?${next}#chain-detail`; a.textContent = text;
  return a;
}

function short(hash) { return `${hash.slice(0, 10)}…${hash.slice(-6)}`; }

function code(text) { const c = document.createElement('code'); c.textContent = text; return c; }

let older = null;

async function search(next) {
  const q = new URLSearchParams();
  for (const [key, id] of [['kind', 'explorer-kind'], ['event', 'explorer-event'], ['subject', 'explorer-subject'],
    ['from_block', 'explorer-from'], ['to_block', 'explorer-to']]) {
    const v = $(id).value.trim();
    if (v) q.set(key, v);
  }
  if (next) {  // further back: the block and log index the last page ended at
    q.set('to_block', String(next.to_block)); q.delete('from_block');
    if (next.before_log_index !== null) q.set('before_log_index', String(next.before_log_index));
  }
  const page = await api(`/v1/chain/records?${q}`);
  say('explorer-status', fill(T.records_range, { from: page.from_block, to: page.to_block, head: page.head, n: page.records.length }));
  rows('records', page.records, (r) => [
    link(String(r.block), { block: r.block }), link(short(r.tx), { tx: r.tx }), r.contract, r.event,
    code(JSON.stringify(r.args)),
  ]);
  older = page.next;
  $('explorer-older').hidden = !older;
}

function detail(title, pairs, records) {
  const box = $('chain-detail');
  const h = document.createElement('h3'); h.textContent = title;
  const dl = document.createElement('dl'); dl.className = 'figures';
  for (const [k, v] of pairs) {
    const dt = document.createElement('dt'); dt.textContent = k;
    const dd = document.createElement('dd'); if (v instanceof Node) dd.append(v); else dd.textContent = String(v);
    dl.append(dt, dd);
  }
  box.replaceChildren(h, dl);
  if (records) {
    const ul = document.createElement('ul');
    for (const r of records) {
      const li = document.createElement('li');
      li.append(`${r.contract}.${r.event} `, code(JSON.stringify(r.args)));
      ul.append(li);
    }
    box.append(ul);
  }
  box.focus();
}

async function showLinked() {
  if (params.get('tx')) {
    const tx = await api(`/v1/chain/transactions/${params.get('tx')}`);
    detail(T.tx_detail, [[T.hash, tx.hash], [T.block, link(String(tx.block), { block: tx.block })], [T.from, tx.from],
      [T.to, `${tx.to}${tx.to_contract ? ` (${tx.to_contract})` : ''}`], [T.status, tx.status], [T.gas_used, tx.gas_used]],
    tx.records);
  } else if (params.get('block')) {
    const b = await api(`/v1/chain/blocks/${params.get('block')}`);
    const txs = document.createElement('ul');
    for (const h of b.transactions) { const li = document.createElement('li'); li.append(link(h, { tx: h })); txs.append(li); }
    detail(T.block_detail, [[T.block, b.number], [T.hash, b.hash], [T.timestamp, new Date(b.timestamp * 1000).toLocaleString(LANG)],
      [T.gas_used, b.gas_used], [T.transaction, txs]]);
  }
}

// a check's name in the page's language (an EPCIS event's check is named "event N (hash ID)")
function checkName(name) {
  const event = /^event (\d+) (.*)$/.exec(name);
  if (event) return `${T['check:event']} ${event[1]} ${event[2]}`;
  return T[`check:${name}`] || name;
}

function showChecks(result) {
  const out = $('verify-result');
  const p = document.createElement('p');
  p.textContent = result.ok ? T.verified_ok : T.verified_fail;
  p.className = result.ok ? 'ok' : 'error';
  const ul = document.createElement('ul'); ul.className = 'checks';
  for (const c of result.checks) {
    const li = document.createElement('li'); li.dataset.ok = String(c.ok);
    const mark = document.createElement('strong'); mark.textContent = c.ok ? T.check_ok : T.check_fail;
    li.append(mark, ` ${checkName(c.name)}: ${c.detail}`);
    ul.append(li);
  }
  out.replaceChildren(p, ul);
}

async function verify(path, body) {
  $('verify-result').textContent = '…';
  try {
    showChecks(await api(path, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body }));
  } catch (err) {
    const p = document.createElement('p'); p.className = 'error'; p.textContent = T.error + err.message;
    $('verify-result').replaceChildren(p);
  }
}

async function showBreaks(run) {
  const breaks = await api(`/v1/audit/reconciliation/runs/${run.id}/breaks`);
  const box = $('run-breaks');
  const h = document.createElement('h3'); h.textContent = fill(T.breaks_of_run, { id: run.id });
  const table = document.createElement('table'); table.id = 'breaks';
  const head = table.createTHead().insertRow();
  for (const k of ['rule', 'priority', 'status', 'order', 'amount', 'details']) {
    const th = document.createElement('th'); th.scope = 'col'; th.textContent = T[k]; head.append(th);
  }
  table.createTBody();
  box.replaceChildren(h, table);
  rows('breaks', breaks, (b) => [b.rule, b.priority, b.status, b.order_id || b.subject || '', String(b.amount_fen ?? ''),
    b.detail || ''], T.no_breaks);
  box.focus();
}

async function loadRuns() {
  const runs = await api('/v1/audit/reconciliation/runs');
  const ordered = [...runs].reverse();
  bars('recon-chart', ordered.map((r) => r.breaks.new + r.breaks.persisting), ordered.map((r) => `#${r.id} ${r.verdict}`));
  rows('recon', runs, (r) => [String(r.id), when(r.created_at), r.verdict, `${r.breaks.new} / ${r.breaks.persisting}`,
    button(T.show_breaks, `${T.show_breaks} #${r.id}`, () => showBreaks(r).catch((err) => console.error(err)))]);
}

async function loadLog() {
  const q = new URLSearchParams({ limit: '50' });
  if ($('audit-actor').value.trim()) q.set('actor', $('audit-actor').value.trim());
  if ($('audit-outcome').value) q.set('outcome', $('audit-outcome').value);
  if ($('audit-since').value) q.set('since', `${$('audit-since').value}T00:00:00Z`);
  if ($('audit-until').value) q.set('until', `${$('audit-until').value}T00:00:00Z`);
  const log = await api(`/v1/audit/log?${q}`);
  rows('audit', log, (a) => [when(a.at), a.actor || '', `${a.method} ${a.path}`, `${a.status} ${a.outcome}`]);
}

export function initAuditor() {
  const fail = (id) => (err) => say(id, T.error + err.message, true);
  $('explorer-form').addEventListener('submit', (e) => { e.preventDefault(); search().catch(fail('explorer-status')); });
  $('explorer-older').addEventListener('click', () => search(older).catch(fail('explorer-status')));
  $('verify-code-form').addEventListener('submit', (e) => {
    e.preventDefault();
    verify('/v1/audit/verify/code', JSON.stringify({ uri: $('verify-uri').value.trim() }));
  });
  $('verify-doc-form').addEventListener('submit', async (e) => {
    e.preventDefault();
    verify('/v1/audit/verify/events', await $('verify-file').files[0].text());
  });
  $('audit-filter').addEventListener('submit', (e) => { e.preventDefault(); loadLog().catch(fail('audit-status')); });
  search().catch(fail('explorer-status'));
  showLinked().catch(fail('explorer-status'));
  loadRuns().catch((err) => console.error(err));
  loadLog().catch(fail('audit-status'));
}
