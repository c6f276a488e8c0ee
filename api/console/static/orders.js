// The merchant's orders: searched by order id prefix, sorted by time or amount, 50 a page paged on by
// the API's keyset cursor, exported as CSV (the same search and sort), each order's details on a
// tap (split, referrals, fee, history, transactions) and its refund, signed in the page.
import { $, T, api, button, fen, figures, fill, rows, say, short, when, write } from './common.js';

let shown = [];
let reloadAll = async () => {};
// only the newest request draws: a slow first load answering after a search must not replace it
let pageSeq = 0;
let detailSeq = 0;

function query(after = '') {
  const q = new URLSearchParams({ limit: '50', sort: $('orders-sort').value });
  if ($('orders-q').value.trim()) q.set('q', $('orders-q').value.trim());
  if (after) q.set('after', after);
  return q;
}

async function showOrder(id) {
  const seq = ++detailSeq;
  const o = await api(`/v1/orders/${encodeURIComponent(id)}`);
  if (seq !== detailSeq) return; // another order was opened meanwhile
  const box = $('order-detail');
  const h = document.createElement('h3'); h.textContent = `${T.order_detail} ${o.order_id}`;
  const dl = document.createElement('dl'); dl.id = 'order-figures'; dl.className = 'figures';
  const ol = document.createElement('ol'); ol.id = 'order-history';
  box.replaceChildren(h, dl, ol);
  const split = o.settlement ? Object.entries(o.settlement).filter(([, v]) => /^\d+$/.test(String(v)))
    .map(([k, v]) => `${k} ${fen(v)}`).join(T.list_sep) : '';
  figures('order-figures', [[T.amount, fen(o.amount_fen)], [T.order_refunded, fen(o.refunded_fen)],
    [T.status, T[`order_${o.status}`] || o.status], [T.order_payer, short(o.payer)],
    [T.order_carrier, o.carrier ? short(o.carrier) : T.none_word], [T.order_fee, `${o.platform_fee_bps / 100}%`],
    [T.order_referrals, o.referrers.length ? o.referrers.map((r) => `${short(r.address)} ${r.bps / 100}%`).join(T.list_sep) : T.none_word],
    ...(split ? [[T.order_split, split]] : []),
    [T.order_escrow_tx, short(o.escrow_tx)], [T.order_close_tx, o.close_tx ? short(o.close_tx) : T.none_word],
    [T.order_settle_after, o.settle_after ? when(o.settle_after) : T.none_word],
    [T.order_window, o.window_ends_at ? when(o.window_ends_at) : T.none_word], [T.created, when(o.created_at)]]);
  ol.replaceChildren(...o.history.map((step) => {
    const li = document.createElement('li');
    li.textContent = `${when(step.at)} ${T[`order_${step.status}`] || step.status || ''}${step.tx ? ` · ${short(step.tx)}` : ''}`;
    return li;
  }));
  box.focus();
}

function refundButton(o, left) {
  const b = button(fill(T.refund_amount, { amount: fen(left) }), `${T.refund} ${o.order_id}`, async () => {
    try {  // the whole remainder back to the payer, signed here after the dialog says so
      await write(`/v1/orders/${encodeURIComponent(o.order_id)}/refund`, { amount_fen: left });
      say('payouts-status', `${T.done}${o.order_id} ${fen(left)}`);
      await reloadAll();
    } catch (err) { say('payouts-status', T.error + err.message, true); }
  });
  b.className = 'secondary';
  return b;
}

export async function loadOrderPage(more = false) {
  const seq = ++pageSeq;
  const orders = await api(`/v1/orders?${query(more ? $('orders-more').dataset.after : '')}`);
  if (seq !== pageSeq) return; // a newer search, sort or page answers instead
  shown = more ? [...shown, ...orders] : [...orders];
  rows('orders', shown, (o) => {
    const left = o.amount_fen - o.refunded_fen;
    const status = T[`order_${o.status}`] || o.status;
    const id = button(o.order_id, `${T.order_detail} ${o.order_id}`, () => showOrder(o.order_id).catch((err) => say('payouts-status', T.error + err.message, true)));
    id.className = 'link';
    if (!['escrowed', 'delivered', 'disputed'].includes(o.status) || left <= 0) return [id, fen(o.amount_fen), status, when(o.created_at)];
    const box = document.createElement('span'); box.append(`${status} `, refundButton(o, left));
    return [id, fen(o.amount_fen), box, when(o.created_at)];
  });
  $('orders-more').hidden = !orders.nextAfter;
  $('orders-more').dataset.after = orders.nextAfter || '';
}

async function exportCsv() {
  const q = query(); q.set('format', 'csv'); q.set('limit', '1000');
  const blob = await api(`/v1/orders?${q}`, { headers: { Accept: 'text/csv' } });
  const url = URL.createObjectURL(blob);
  const a = document.createElement('a'); a.href = url; a.download = 'orders.csv';
  document.body.append(a); a.click(); a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10000);
}

export function wireOrders(reload) {
  reloadAll = reload;
  const fail = (err) => say('payouts-status', T.error + err.message, true);
  $('orders-filter').addEventListener('submit', (e) => { e.preventDefault(); loadOrderPage().catch(fail); });
  $('orders-more').addEventListener('click', () => loadOrderPage(true).catch(fail));
  $('orders-csv').addEventListener('click', () => exportCsv().catch(fail));
}
