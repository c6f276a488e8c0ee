// The auditor's page (reads everything, writes nothing): on-chain records read from the node with
// filters and links to their block and transaction; a code URI or an EPCIS document verified
// against the chain with every check shown; reconciliation runs with their breaks and a chart;
// the audit log with filters.
import { $, LANG, T, api, attention, button, duration, fill, rows, say, short, when, yuan } from './common.js';
import { bars } from './charts.js';
import { argsView, eventCell, eventName, loadExplorerWords } from './explorer_view.js';
import { wireReports } from './lists.js';
import { signOffCell } from './signoff.js';

const params = new URLSearchParams(window.location.search);

function link(text, query) {
  const a = document.createElement('a');
  const next = new URLSearchParams({ lang: LANG, ...query });
  a.href = `/console/auditor?${next}#chain-detail`; a.textContent = text;
  return a;
}



let older = null;
let shownRecords = [];  // drawn again once the explorer's words (members, ABIs) arrive
function showRecords() {
  rows('records', shownRecords, (r) => [
    link(String(r.block), { block: r.block }), link(short(r.tx), { tx: r.tx }), r.contract, eventCell(r.event),
    argsView(r.contract, r.event, r.args),
  ]);
}
let searches = 0;  // the latest search wins: an earlier one answering later is dropped

async function search(next) {
  const seq = ++searches;
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
  if (seq !== searches) return;
  say('explorer-status', fill(T.records_range, { from: page.from_block, to: page.to_block, head: page.head, n: page.records.length }));
  shownRecords = page.records;
  showRecords();
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
      li.append(`${eventName(r.event)} · ${r.contract} `, argsView(r.contract, r.event, r.args));
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
    detail(T.block_detail, [[T.block, b.number], [T.hash, b.hash], [T.timestamp, when(b.timestamp * 1000)],
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
    // the detail in the page's language from its key and values (`ledger.trace.verify.DETAILS`)
    const said = c.key && T[`detail:${c.key}`] ? fill(T[`detail:${c.key}`], c.args || {}) : c.detail;
    li.append(mark, ` ${checkName(c.name)}${T.colon}${said}`);
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

// a run's breaks, filtered by priority and status, exported as CSV, and its report read here
async function showBreaks(run) {
  const box = $('run-breaks');
  const h = document.createElement('h3'); h.textContent = fill(T.breaks_of_run, { id: run.id });
  const filters = document.createElement('form'); filters.className = 'inline'; filters.id = 'breaks-filter';
  const select = (id, label, values) => {
    const p = document.createElement('p'); p.className = 'field';
    const l = document.createElement('label'); l.htmlFor = id; l.textContent = label;
    const s = document.createElement('select'); s.id = id;
    for (const [v, text] of [['', T.any], ...values]) { const o = document.createElement('option'); o.value = v; o.textContent = text; s.append(o); }
    p.append(l, s); return p;
  };
  filters.append(select('breaks-priority', T.priority, [1, 2, 3, 4].map((n) => [String(n), `P${n}`])),
    select('breaks-status', T.status, ['new', 'persisting', 'resolved'].map((k) => [k, T[`break_${k}`]])));
  const go = document.createElement('button'); go.type = 'submit'; go.textContent = T.filter;
  const csv = button(T.export_csv, '', () => exportCsv(run).catch((err) => say('recon-status', T.error + err.message, true)));
  const report = button(T.read_report, '', () => readReport(run).catch((err) => say('recon-status', T.error + err.message, true)));
  csv.className = 'secondary'; report.className = 'secondary';
  const actions = document.createElement('p'); actions.className = 'actions'; actions.append(go, csv, report);
  filters.append(actions);
  const table = document.createElement('table'); table.id = 'breaks';
  const head = table.createTHead().insertRow();
  for (const k of ['rule', 'priority', 'status', 'order', 'amount', 'age', 'details']) {
    const th = document.createElement('th'); th.scope = 'col'; th.textContent = T[k]; head.append(th);
  }
  table.createTBody();
  const wrap = document.createElement('div'); wrap.className = 'scroll'; wrap.tabIndex = 0;
  wrap.setAttribute('role', 'region'); wrap.setAttribute('aria-label', h.textContent); wrap.append(table);
  const out = document.createElement('div'); out.id = 'run-report'; out.className = 'report'; out.tabIndex = 0;
  out.setAttribute('role', 'region'); out.setAttribute('aria-label', T.read_report);
  box.replaceChildren(h, filters, wrap, out);
  const load = async () => {
    const q = new URLSearchParams();
    if ($('breaks-priority').value) q.set('priority', $('breaks-priority').value);
    if ($('breaks-status').value) q.set('status', $('breaks-status').value);
    const breaks = await api(`/v1/audit/reconciliation/runs/${run.id}/breaks?${q}`);
    rows('breaks', breaks, (b) => [T[`rule_${b.rule}`] || b.rule, b.priority, T[`break_${b.status}`] || b.status,
      b.order_id || short(b.subject || ''), b.amount_fen === null || b.amount_fen === undefined ? '' : yuan(b.amount_fen),
      duration(b.age_s), b.detail || ''], T.no_breaks);
  };
  filters.addEventListener('submit', (e) => { e.preventDefault(); load().catch((err) => say('recon-status', T.error + err.message, true)); });
  await load();
  box.focus();
}

async function exportCsv(run) {
  const q = new URLSearchParams({ format: 'csv' });
  if ($('breaks-priority').value) q.set('priority', $('breaks-priority').value);
  if ($('breaks-status').value) q.set('status', $('breaks-status').value);
  const blob = await api(`/v1/audit/reconciliation/runs/${run.id}/breaks?${q}`, { headers: { Accept: 'text/csv' } });
  const url = URL.createObjectURL(blob);
  const a = document.createElement('a'); a.href = url; a.download = `breaks-run-${run.id}.csv`;
  document.body.append(a); a.click(); a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10000);
}

// the run's HTML report, fetched with the session's token (a plain link has none: a 401), its body
// shown here as inert nodes (no script runs; its styles stay outside this page's policy)
async function readReport(run) {
  const blob = await api(`/v1/audit/reconciliation/runs/${run.id}/report?lang=${LANG}`, { headers: { Accept: 'text/html' } });
  // the report's own styles are left out before parsing (a parsed document inherits this page's
  // policy, which refuses inline style): its structure and words are what the console shows
  const html = (await blob.text()).replace(/<style[\s\S]*?<\/style>/gi, '').replace(/\sstyle="[^"]*"/gi, '');
  const doc = new DOMParser().parseFromString(html, 'text/html');
  for (const el of doc.querySelectorAll('script, style, link, iframe, object, embed')) el.remove();
  for (const el of doc.querySelectorAll('[style]')) el.removeAttribute('style');  // the page's policy: no inline style
  const out = $('run-report');
  out.replaceChildren(...[...doc.body.childNodes].map((n) => document.importNode(n, true)));
  out.focus();
}

async function loadRuns() {
  const runs = await api('/v1/audit/reconciliation/runs');
  const ordered = [...runs].reverse();
  const verdict = (v) => T[`verdict_${v}`] || v;
  bars('recon-chart', ordered.map((r) => r.breaks.new + r.breaks.persisting), ordered.map((r) => `#${r.id} ${verdict(r.verdict)}`),
    { unit: T.chart_breaks, axis: T.chart_run, short: (label) => label.split(' ')[0] });
  rows('recon', runs, (r) => [String(r.id), when(r.created_at), verdict(r.verdict), `${r.breaks.new} / ${r.breaks.persisting}`,
    signOffCell(r, () => recon()),
    button(T.show_breaks, `${T.show_breaks} #${r.id}`, () => showBreaks(r).catch((err) => say('recon-status', T.error + err.message, true)))]);
  return runs;
}

// what needs the auditor now: open breaks by priority with the oldest's age, and the latest run
async function loadAttention(runs) {
  const open = await api('/v1/audit/reconciliation/breaks');
  const items = [];
  for (const p of ['P1', 'P2', 'P3', 'P4']) {
    const these = open.filter((b) => b.priority === p);
    if (these.length) {
      items.push([fill(T.attn_breaks, { p, n: these.length, age: duration(Math.max(...these.map((b) => b.age_s))) }), '#task-recon']);
    }
  }
  for (const r of runs.filter((x) => !x.signed_off && x.verdict !== 'incomplete').slice(0, 3)) items.push([fill(T.attn_signoff, { id: r.id }), '#task-recon']);
  const latest = runs[0];
  if (!latest) items.push([T.attn_no_run, '#task-recon']);
  else if (latest.verdict !== 'reconciled') {
    items.push([fill(T.attn_run, { id: latest.id, verdict: T[`verdict_${latest.verdict}`] || latest.verdict }), '#task-recon']);
  }
  attention(items);
}

// the audit log, newest first, 50 a page; "older" pages back from the last entry shown (keyset)
let logShown = [];
async function loadLog(more = false) {
  const q = new URLSearchParams({ limit: '50', newest_first: 'true' });
  if (more && logShown.length) q.set('before_id', String(logShown[logShown.length - 1].id));
  if ($('audit-actor').value.trim()) q.set('actor', $('audit-actor').value.trim());
  if ($('audit-outcome').value) q.set('outcome', $('audit-outcome').value);
  // dates in the viewer's zone, both days included: from the first's midnight to the day after the last
  if ($('audit-since').value) q.set('since', new Date(`${$('audit-since').value}T00:00`).toISOString());
  if ($('audit-until').value) {
    const end = new Date(`${$('audit-until').value}T00:00`); end.setDate(end.getDate() + 1);
    q.set('until', end.toISOString());
  }
  const log = await api(`/v1/audit/log?${q}`);
  logShown = more ? [...logShown, ...log] : log;
  $('audit-older').hidden = log.length < 50;
  rows('audit', logShown, (a) => [when(a.at), short(a.actor || ''), `${a.method} ${a.path}`, `${a.status} ${T[`outcome_${a.outcome}`] || a.outcome}`]);
}

const recon = () => loadRuns().then(loadAttention).catch((err) => say('recon-status', T.error + err.message, true));

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
    const text = await $('verify-file').files[0].text();
    try { JSON.parse(text); } catch {  // said so, not the parser's "0：取值无效（JSON decode error）" (phone trial)
      const p = document.createElement('p'); p.className = 'error'; p.textContent = T.verify_not_json;
      $('verify-result').replaceChildren(p); return;
    }
    verify('/v1/audit/verify/events', text);
  });
  $('audit-filter').addEventListener('submit', (e) => { e.preventDefault(); loadLog().catch(fail('audit-status')); });
  $('audit-older').addEventListener('click', () => loadLog(true).catch(fail('audit-status')));
  // the records at once; the words (event names to pick, members by name) beside them, then the
  // records and a linked transaction drawn decoded
  search().catch(fail('explorer-status'));
  loadExplorerWords().then(showRecords).catch(fail('explorer-status')).finally(() => showLinked().catch(fail('explorer-status')));
  recon();
  $('run-start').addEventListener('click', async () => {
    $('run-start').disabled = true;
    say('recon-status', T.run_running);
    try {
      const run = await api('/v1/audit/reconciliation/runs', { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: '{}' });
      say('recon-status', fill(T.run_done, { id: run.id, verdict: T[`verdict_${run.verdict}`] || run.verdict }));
      await recon();
    } catch (err) { say('recon-status', T.error + err.message, true); } finally { $('run-start').disabled = false; }
  });
  loadLog().catch(fail('audit-status'));
  wireReports();
}
