// Rulings on disputed orders (not cases) on the arbiter's page: the orders waiting for a ruling,
// "Rule" reads one into the ruling form with the refund (in yuan, what remains by default), each
// arbiter signs the EIP-712 Ruling(order, payer, refund) with its own key in the page and leaves it with the
// service for the others (the ruling shows what was collected), and whoever holds enough
// signatures submits them (the transaction signed in the page, as every write).
import { $, T, api, button, figures, fill, rows, say, short, signTyped, toFen, when, write, yuan } from './common.js';

let shown = null;  // GET /v1/orders/{id}/ruling?refund_fen= on screen

function signatures() {
  return $('oruling-signatures').value.split(/\s+/).map((s) => s.trim()).filter((s) => /^0x[0-9a-fA-F]{130}$/.test(s));
}

async function showRuling() {
  const id = $('oruling-order').value.trim();
  const typed = $('oruling-refund').value.trim();
  const refund = typed === '' ? null : toFen(typed);
  if (typed !== '' && refund === null) throw new Error(T.amount_invalid);
  let r = await api(`/v1/orders/${encodeURIComponent(id)}/ruling?refund_fen=${refund ?? 0}`);
  if (refund === null) {  // what remains, unless the arbiter typed less
    r = await api(`/v1/orders/${encodeURIComponent(id)}/ruling?refund_fen=${r.remaining_fen}`);
    $('oruling-refund').value = (r.remaining_fen / 100).toFixed(2);
  }
  if (shown && (shown.order_id !== r.order_id || shown.typed_data.message.refund !== r.typed_data.message.refund)) {
    $('oruling-signatures').value = '';  // signatures of another ruling are of no use to this one
  }
  shown = r;
  figures('oruling-figures', [[T.order, r.order_id], [T.status, T[`order_${r.status}`] || r.status],
    [T.oruling_remaining, yuan(r.remaining_fen)], [T.oruling_refund, yuan(r.typed_data.message.refund)],
    [T.oruling_settled, yuan(r.remaining_fen - r.typed_data.message.refund)], [T.rule_needed, String(r.signatures_needed)],
    [T.collected, fill(T.rule_collected, { n: r.collected.length, needed: r.signatures_needed })]]);
  const have = new Set([...signatures(), ...r.collected.map((c) => c.signature)]);
  $('oruling-signatures').value = [...have].join('\n');
  $('oruling-sign').hidden = r.status !== 'disputed';
  say('oruling-status', '');
}

// the disputed orders, newest first; "Rule" reads one into the form
export async function loadDisputes() {
  const orders = await api('/v1/orders?status=disputed&sort=newest&limit=200');
  rows('disputes', orders, (o) => [o.order_id, short(o.merchant), yuan(o.amount_fen - (o.refunded_fen || 0)), when(o.updated_at),
    button(T.rule_this, `${T.rule_this} ${o.order_id}`, () => {
      $('oruling-order').value = o.order_id; $('oruling-refund').value = '';
      $('oruling-form').requestSubmit();
      $('task-order-rule').scrollIntoView();
    })]);
  return orders;
}

export function wireOrderRulings(changed = loadDisputes) {  // `changed`: reload after a ruling (the landing too)
  const fail = (err) => say('oruling-status', T.error + err.message, true);
  $('oruling-form').addEventListener('submit', (e) => { e.preventDefault(); showRuling().catch(fail); });
  $('oruling-sign-mine').addEventListener('click', async () => {
    try {
      const words = fill(T.oruling_sentence, { order: shown.order_id, refund: yuan(shown.typed_data.message.refund),
        rest: yuan(shown.remaining_fen - shown.typed_data.message.refund) });
      const signature = await signTyped(shown.typed_data, words);
      // left for the other arbiters: their pages show it when they open this order's ruling
      const left = await api(`/v1/orders/${encodeURIComponent(shown.order_id)}/cosignatures`, { method: 'POST',
        headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify({ refund_fen: Number(shown.typed_data.message.refund), signature }) });
      const list = new Set([...signatures(), ...left.map((c) => c.signature), signature]);
      $('oruling-signatures').value = [...list].join('\n');
      say('oruling-status', fill(T.rule_signed, { n: list.size, needed: shown.signatures_needed }));
    } catch (err) { fail(err); }
  });
  $('oruling-submit').addEventListener('click', async () => {
    try {
      const o = await write(`/v1/orders/${encodeURIComponent(shown.order_id)}/ruling`,
        { refund_fen: Number(shown.typed_data.message.refund), signatures: signatures() });
      say('oruling-status', fill(T.oruling_done, { order: o.order_id, refund: yuan(shown.typed_data.message.refund),
        status: T[`order_${o.status}`] || o.status }));
      $('oruling-sign').hidden = true;
      await changed();
    } catch (err) { fail(err); }
  });
}
