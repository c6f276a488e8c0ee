// The merchant's page (own data only): the guarantee deposit and the cases against it, orders and
// payouts pulled, products and batches, code issues with labels and a QR preview, EPCIS uploads
// with each problem's path and the anchoring status, the scan statistics of its codes, carbon
// footprints, and its devices with the cold-chain alarms about its products (devices.js).
import { $, T, api, attention, batchId, button, doneNow, duration, fen, figures, fill, rows, say, session, short, toFen, when, write } from './common.js';
import { bars, everyDay } from './charts.js';
import { wireCarbon } from './carbon.js';
import { wireDevices } from './devices.js';
import { loadOrderPage, wireOrders } from './orders.js';
import { wireReferralTerms } from './referral_terms.js';
import { wireIssues, wireReports } from './lists.js';

let reloadIssues = () => {};

// what needs the merchant now, each loader saying its part: [sentence, link to its task]
const needs = {};
function need(key, item) { needs[key] = item; attention(Object.values(needs).filter(Boolean)); }

async function loadScans() {
  const stats = await api('/v1/scans/stats?days=30');
  rows('scans', stats.per_day, (d) => [d.day, d.scans, d.codes, d.networks, d.suspicious].map(String));
  const days = everyDay(stats.per_day, 30, { scans: 0, codes: 0, networks: 0, suspicious: 0 });
  bars('scans-chart', days.map((d) => d.scans), days.map((d) => d.day), { unit: T.chart_scans, axis: T.chart_day, short: (d) => d.slice(5) });
  const sus = stats.suspicious_codes.length;
  need('scans', sus ? [fill(T.attn_suspicious, { n: sus }), '#task-scans'] : null);
  $('suspicious').replaceChildren(...stats.suspicious_codes.map((c) => {
    const li = document.createElement('li');
    li.textContent = `${c.gtin} / ${c.lot} / ${c.serial}: ${c.scans} (${c.networks})`;
    return li;
  }));
}

async function previewQr(issue) {
  const csv = await (await api(`/v1/code-issues/${issue.issue_id}/codes.csv`, { headers: { Accept: '*/*' } })).text();
  const first = csv.split('\n')[1];
  if (!first) return;
  const serial = first.split(',')[0];
  const lot = encodeURIComponent(issue.lot);
  const png = await api(`/v1/batches/${issue.gtin}/${lot}/codes/${encodeURIComponent(serial)}.png`, { headers: { Accept: 'image/png' } });
  $('qr-img').src = URL.createObjectURL(png);
  $('qr-caption').textContent = serial;
  $('qr').hidden = false;
}

async function loadDeposit() {
  const d = await api(`/v1/deposits/${session.address}`);
  const pairs = [[T.balance, fen(d.balance_fen)], [T.required, fen(d.required_fen)], [T.frozen, fen(d.frozen_fen)],
    [T.pending_withdrawal, fen(d.pending_withdrawal_fen)]];
  // a request not taken within its window lapses (the vault's WITHDRAWAL_WINDOW): it is asked again
  const lapsed = Boolean(d.pending_withdrawal_fen) && d.lapses_at * 1000 < Date.now();
  const pending = Boolean(d.pending_withdrawal_fen) && !lapsed;
  if (d.unlock_at) pairs.push([T.unlocks_at, when(d.unlock_at * 1000)], [T.lapses_at, when(d.lapses_at * 1000)]);
  const free = Math.max(0, d.balance_fen - d.frozen_fen - (pending ? d.pending_withdrawal_fen : 0) - d.required_fen);
  pairs.push([T.can_request, fen(free)]);
  countdown(pending ? d.unlock_at : 0);
  figures('deposit', pairs);
  $('withdraw-request').hidden = pending;  // one request at a time: the second button shows once it is taken
  $('withdraw-take').hidden = !pending;
  takeLocked = pending && d.unlock_at * 1000 > Date.now();
  depositButtons();
  const asked = { amount: fen(d.pending_withdrawal_fen), at: when(d.unlock_at * 1000), until: when(d.lapses_at * 1000) };
  need('withdrawal', pending || lapsed ? [fill(lapsed ? T.attn_withdrawal_lapsed : T.attn_withdrawal, asked), '#task-deposit'] : null);
  if (d.balance_fen < d.required_fen) need('minimum', [fill(T.attn_below_minimum, { amount: fen(d.required_fen - d.balance_fen) }), '#task-deposit']);
  const cases = await api(`/v1/deposits/${session.address}/cases`);
  const open = cases.filter((c) => c.open);
  need('cases', open.length ? [fill(T.attn_cases, { n: open.length, amount: fen(open.reduce((a, c) => a + c.amount_fen, 0)) }), '#task-deposit'] : null);
  rows('cases', cases, (c) => [`#${c.case_id}`, short(c.claimant), fen(c.amount_fen), c.open ? T.case_open : T.case_closed]);
}

let ticking = null;
let takeLocked = true;  // a requested withdrawal still cooling down
let depositBusy = false;  // a deposit step is being signed and mined: no second one starts meanwhile

function depositButtons() {
  $('deposit-form').querySelector('button[type=submit]').disabled = depositBusy;
  $('withdraw-request').disabled = depositBusy;
  $('withdraw-take').disabled = depositBusy || takeLocked;
  $('deposit-form').setAttribute('aria-busy', String(depositBusy));
}

function countdown(unlockAt) {
  clearInterval(ticking);
  const tick = () => {
    const left = Math.max(0, Math.round(unlockAt - Date.now() / 1000));
    if (!unlockAt) { $('unlock-countdown').textContent = ''; return; }
    const h = Math.floor(left / 3600); const m = Math.floor((left % 3600) / 60); const sec = left % 60;
    $('unlock-countdown').textContent = left ? `${T.unlocks_in} ${left >= 3600 ? duration(left) : `${m}:${String(sec).padStart(2, '0')}`}`
      : T.unlocked;
    if (!left && takeLocked) { takeLocked = false; depositButtons(); }
  };
  tick();
  ticking = setInterval(tick, 1000);
}

async function loadOrders() {
  const owed = await api('/v1/payouts/me');
  figures('payouts', [[T.owed_settlement, fen(owed.settlement_fen)], [T.owed_claims, fen(owed.vault_claims_fen)]]);
  $('payouts-pull').disabled = !(owed.settlement_fen || owed.vault_claims_fen);
  await loadOrderPage();
  const disputed = await api('/v1/orders?status=disputed&limit=1000');
  need('orders', disputed.length ? [fill(T.attn_disputed, { n: disputed.length }), '#task-orders'] : null);
}

async function loadProducts() {
  const products = await api('/v1/products');
  rows('products', products, (p) => [p.gtin, p.name]);
  const batches = await api('/v1/batches');
  rows('batches', batches, (b) => [b.gtin, b.lot, when(b.created_at),
    b.recalled ? `${T.batch_recalled}${b.recall_reason ? `${T.colon}${b.recall_reason}` : ''}` : T.batch_active]);
  // a batch someone else recalled (an inspector): the merchant hears of it first thing
  const byOthers = batches.filter((b) => b.recalled && b.recalled_by && b.recalled_by !== session.address);
  need('recalls', byOthers.length ? [fill(T.attn_recalled, { batch: `${byOthers[0].gtin} / ${byOthers[0].lot}`,
    n: byOthers.length, reason: byOthers[0].recall_reason || '' }), '#task-products'] : null);
}

async function loadAnchoring() {
  const s = await api('/v1/epcis/status');
  $('epcis-anchoring').textContent = fill(T.epcis_anchoring, s);
  need('anchoring', s.pending ? [fill(T.attn_anchoring, { n: s.pending }), '#task-epcis'] : null);
}

function download(link, path, name) {
  link.addEventListener('click', async (e) => {
    e.preventDefault();
    const blob = await api(path, { headers: { Accept: '*/*' } });
    const url = URL.createObjectURL(blob);
    const a = document.createElement('a');
    a.href = url; a.download = name; document.body.append(a); a.click(); a.remove();
    setTimeout(() => URL.revokeObjectURL(url), 10000);
  });
}

async function issueCodes(e) {
  e.preventDefault();
  const gtin = $('codes-gtin').value.trim();
  const lot = encodeURIComponent($('codes-lot').value.trim());
  $('codes-progress').hidden = false;
  say('codes-status', T.issuing);
  try {
    // the issue's anchor is signed here; the codes are the ones drawn when it was prepared
    // short codes (the default): QR version 5 instead of 9, same proof on a scan, but only through the
    // resolver; long codes carry the whole signature (docs/codes-and-scans.md)
    const issue = await write(`/v1/batches/${gtin}/${lot}/codes`, { count: Number($('codes-count').value), short: $('codes-short').value === 'short' });
    say('codes-status', `${T.issued}${issue.count}${T.paren_open}${short(issue.anchor_tx || issue.root)}${T.paren_close}`);
    const links = $('codes-downloads');
    const pdf = $('labels-pdf').cloneNode(true); const csv = $('codes-csv').cloneNode(true);
    links.replaceChildren(pdf, document.createTextNode(' '), csv);
    download(pdf, `/v1/code-issues/${issue.issue_id}/labels.pdf`, `labels-${issue.issue_id}.pdf`);
    download(csv, `/v1/code-issues/${issue.issue_id}/codes.csv`, `codes-${issue.issue_id}.csv`);
    links.hidden = false;
    previewQr(issue).catch(() => {});
    reloadIssues();
  } catch (err) {  // a lot never registered: "找不到" alone left the merchant guessing what (phone trial)
    const missing = err.status === 404 && /batch/.test(String(err.body && err.body.detail)) && fill(T.codes_no_batch, { gtin, lot: $('codes-lot').value.trim() });
    say('codes-status', missing || T.error + err.message, true);
  } finally { $('codes-progress').hidden = true; }
}

// each stored event with where it is on chain: pending, or anchored in a transaction
async function anchoringOf(events) {
  const shown = events.slice(0, 20);
  const hexOf = (ev) => ev.hashId.split(';')[1].slice(0, 64);
  const proofs = await Promise.all(shown.map((ev) => api(`/v1/epcis/proofs/${hexOf(ev)}`)
    .catch(() => ({ status: '?' }))));
  const ul = document.createElement('ul'); ul.id = 'epcis-events';
  shown.forEach((ev, i) => {  // what each event says, when, whether it is new, where it is on chain
    const li = document.createElement('li'); li.dataset.status = ev.status;
    const step = String(ev.bizStep || '').replace(/^.*(BizStep-|bizstep:)/, '');
    const what = document.createElement('strong'); what.textContent = T[`step:${step}`] || step || ev.type;
    const code = document.createElement('code'); code.textContent = short(hexOf(ev));
    code.title = ev.hashId;
    const check = document.createElement('a'); check.textContent = T.check_on_chain;
    check.href = `/scan/events/${hexOf(ev)}?lang=${document.documentElement.lang.startsWith('zh') ? 'zh' : 'en'}`;
    const where = proofs[i].status === 'anchored' ? `${T.anchored_in} ${short(proofs[i].tx)}` : T.pending_anchor;
    li.append(what, ` ${when(ev.eventTime)} · ${ev.status === 'duplicate' ? T.epcis_was_stored : T.epcis_new} · ${where} · `,
      code, ' ', check);
    ul.append(li);
  });
  return ul;
}

async function uploadEpcis(e) {
  e.preventDefault();
  const file = $('epcis-file').files[0];
  const text = await file.text();
  const xml = file.name.endsWith('.xml') || text.trimStart().startsWith('<');
  const out = $('epcis-result');
  out.replaceChildren();
  try {
    let stored; let duplicates; let events = [];
    if (xml) {
      await api('/epcis/capture', { method: 'POST', headers: { 'Content-Type': 'application/xml' }, body: text });
      const jobs = await api('/epcis/capture?perPage=1');
      if (!jobs[0].success) throw Object.assign(new Error(''), { body: { detail: jobs[0].errors.map((p) => ({ path: p.pointer, reason: p.detail })) } });
      stored = jobs[0].eventIDs.length; duplicates = 0;
    } else {  // not JSON at all: said so, not the parser's "body.0 JSON decode error" (phone trial)
      try { JSON.parse(text); } catch { throw Object.assign(new Error(''), { body: { detail: [{ path: '', reason: T.epcis_not_json }] } }); }
      const r = await api('/v1/epcis/capture', { method: 'POST', headers: { 'Content-Type': 'application/ld+json' }, body: text });
      stored = r.stored; duplicates = r.duplicates; events = r.events || [];
    }
    const p = document.createElement('p');
    p.textContent = `${T.epcis_stored}${stored}${T.epcis_duplicates}${duplicates}${T.anchoring}`;
    out.append(p, await anchoringOf(events));
    loadAnchoring().catch(() => {});
  } catch (err) {
    const p = document.createElement('p'); p.className = 'error'; p.textContent = T.epcis_refused;
    const ul = document.createElement('ul');
    const problems = Array.isArray(err.body && err.body.detail) ? err.body.detail : [{ path: '', reason: err.message }];
    for (const problem of problems) {
      const li = document.createElement('li');
      const code = document.createElement('code'); code.textContent = problem.path || problem.field || '';
      li.append(code, document.createTextNode(` ${problem.reason}`));
      ul.append(li);
    }
    out.append(p, ul);
  }
}

export function initMerchant() {
  loadDeposit().catch((err) => say('deposit-status', T.error + err.message, true));
  wireOrders(loadOrders);
  wireReferralTerms();
  loadOrders().catch((err) => say('payouts-status', T.error + err.message, true));
  loadProducts().catch(() => {});
  loadAnchoring().catch(() => {});
  loadScans().catch(() => {});
  const depositStep = async (path, body) => {
    if (depositBusy) return;
    depositBusy = true;
    depositButtons();
    say('deposit-status', '');
    try { await write(path, body); await loadDeposit(); say('deposit-status', doneNow()); }
    catch (err) { say('deposit-status', T.error + err.message, true); }
    finally { depositBusy = false; depositButtons(); }
  };
  $('deposit-form').addEventListener('submit', (e) => {
    e.preventDefault();
    const amount = toFen($('deposit-amount').value);
    if (!amount) { say('deposit-status', T.amount_invalid, true); return; }
    depositStep('/v1/deposits', { amount_fen: amount });
  });
  $('withdraw-request').addEventListener('click', () => {
    const amount = toFen($('deposit-amount').value);
    if (!amount) { $('deposit-amount').focus(); return; }
    depositStep('/v1/deposits/withdrawal-requests', { amount_fen: amount });
  });
  $('withdraw-take').addEventListener('click', () => depositStep('/v1/deposits/withdrawals', {}));
  $('payouts-pull').addEventListener('click', async () => {
    try { await write('/v1/payouts/withdraw', {}); say('payouts-status', T.payouts_pulled); await loadOrders(); }
    catch (err) { say('payouts-status', T.error + err.message, true); }
  });
  const done = async (promise) => {
    try { await promise; say('products-status', doneNow()); await loadProducts(); }
    catch (err) { say('products-status', T.error + err.message, true); }
  };
  $('product-form').addEventListener('submit', (e) => {
    e.preventDefault();
    done(write('/v1/products', { gtin: $('product-gtin').value.trim(), name: $('product-name').value.trim() }));
  });
  $('batch-form').addEventListener('submit', (e) => {
    e.preventDefault();
    done(write('/v1/batches', { gtin: $('batch-gtin').value.trim(), lot: $('batch-lot').value.trim() }));
  });
  $('batch-recall').addEventListener('click', () => {  // irreversible: a reason is required, the dialog names the batch
    if (!$('batch-form').reportValidity()) return;  // the GTIN and the lot, as the browser checks them
    if (!$('batch-reason').value.trim()) { say('products-status', T.recall_needs_reason, true); $('batch-reason').focus(); return; }
    const gtin = $('batch-gtin').value.trim(), lot = $('batch-lot').value.trim();
    if (/^\d{8,14}$/.test(gtin)) batchId(gtin, lot);  // so the signing dialog names the batch it recalls
    done(write(`/v1/batches/${gtin}/${encodeURIComponent(lot)}/recall`, { reason: $('batch-reason').value.trim() }));
  });
  $('codes-form').addEventListener('submit', issueCodes);
  reloadIssues = wireIssues();
  wireReports(need);
  $('epcis-form').addEventListener('submit', uploadEpcis);
  wireCarbon();
  wireDevices(need);
}
