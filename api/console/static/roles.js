// The pages of the issuer (issue and redeem settlement tokens against fiat transfers), the operator
// (every order, disputes first) and the carrier (the orders it carries, deliveries first): each with
// what needs it now on top.
import { $, T, api, attention, button, fill, rows, say, session, short, toFen, when, write, yuan } from './common.js';

async function loadIssuer() {
  const s = await api('/v1/token/supply');
  const pairs = Object.entries(s).filter(([, v]) => typeof v === 'number')
    .map(([k, v]) => [T[`supply_${k}`] || k, /fen/.test(k) ? yuan(v) : String(v)]);
  $('supply').replaceChildren(...pairs.flatMap(([k, v]) => {
    const dt = document.createElement('dt'); dt.textContent = k;
    const dd = document.createElement('dd'); dd.textContent = v; return [dt, dd];
  }));
  const issued = await api('/v1/token/issuances');
  rows('issuances', [...issued].reverse(), (i) => [short(i.to), yuan(i.amount_fen), i.fiat_reference, String(i.block_number)]);
  attention([s.balanced === false ? T.attn_supply_mismatch : null].filter(Boolean));
}

function initIssuer() {
  loadIssuer().catch((err) => say('issue-status', T.error + err.message, true));
  const step = async (path, body) => {
    try {
      const r = await write(path, body);
      say('issue-status', `${T.done}${yuan(r.amount_fen)} · ${r.fiat_reference}`);
      await loadIssuer();
    } catch (err) { say('issue-status', T.error + err.message, true); }
  };
  $('issue-form').addEventListener('submit', (e) => {
    e.preventDefault();
    const amount = toFen($('issue-amount').value);
    if (!amount) { say('issue-status', T.amount_invalid, true); return; }
    step('/v1/token/issuances', { to: $('issue-to').value.trim(), amount_fen: amount, fiat_reference: $('issue-ref').value.trim() });
  });
  $('redeem').addEventListener('click', () => {
    const amount = toFen($('issue-amount').value);
    if (!amount || !$('issue-ref').value.trim()) { say('issue-status', T.amount_invalid, true); return; }
    step('/v1/token/redemptions', { amount_fen: amount, fiat_reference: $('issue-ref').value.trim() });
  });
}

// operator and carrier: the orders they may see, the ones that need them first
async function loadWork(page) {
  const orders = await api('/v1/orders?limit=1000');
  const me = (session.address || '').toLowerCase();
  const needs = page === 'carrier'
    ? (o) => o.status === 'escrowed' && (o.carrier || '').toLowerCase() === me
    : (o) => o.status === 'disputed';
  const urgent = orders.filter(needs);
  const ordered = [...urgent, ...orders.filter((o) => !needs(o)).reverse()];
  rows('work', ordered, (o, tr) => {
    if (needs(o)) tr.dataset.urgent = '1';
    const cells = [o.order_id, yuan(o.amount_fen), T[`order_${o.status}`] || o.status, when(o.created_at)];
    if (page === 'carrier') {  // the carrier's "delivered": the order into the delivery form
      cells.push(needs(o) ? button(T.deliver_this, `${T.deliver_this} ${o.order_id}`, () => {
        $('deliver-order').value = o.order_id;
        const named = [...$('deliver-event').options].find((op) => op.dataset.order === o.order_id);
        if (named) $('deliver-event').value = named.value;
        $('deliver-event').focus();
      }) : '');
    }
    return cells;
  });
  attention(urgent.length ? [`${T[`attn_${page}`]}${urgent.length}`] : []);
}

// the operator's steps on an order: assign its carrier, open a dispute for a shopper
function initSteps() {
  const step = (form, path, body) => $(form).addEventListener('submit', async (e) => {
    e.preventDefault();
    try {
      const o = await write(path(), body());
      say('steps-status', `${T.done}${o.order_id} ${T[`order_${o.status}`] || o.status}`);
      await loadWork('operator');
    } catch (err) { say('steps-status', T.error + err.message, true); }
  });
  const id = (input) => encodeURIComponent($(input).value.trim());
  step('carrier-form', () => `/v1/orders/${id('carrier-order')}/carrier`, () => ({ carrier: $('carrier-address').value.trim() }));
  step('dispute-form', () => `/v1/orders/${id('dispute-order')}/dispute`, () => ({ reason: $('dispute-reason').value.trim() }));
}

// the delivery events the carrier may confirm with (its own or its orders' merchants' receiving
// or accepting events, not yet used), newest first: picked from a list, not typed; or the hand-over
// recorded here and now ("now": the default when none is waiting)
async function loadEvents() {
  const events = await api('/v1/deliveries/waiting');
  const options = events.map((e) => {
    const op = document.createElement('option'); op.value = e.hash_id;
    // the order first: a phone's closed list shows ~30 characters, and every event read "收货 · <date>…" (phone trial)
    const what = [e.order_id ? `${T.order} ${e.order_id}` : '', T[`dstep_${e.biz_step}`] || e.biz_step, when(e.event_time),
      `${T.recorded_by_short}${short(e.recorder)}`, `${T.event_short}0x${e.hash_id.split(';')[1].slice(0, 8)}…`];
    op.textContent = what.filter(Boolean).join(' · ');
    if (e.order_id) op.dataset.order = e.order_id;
    return op;
  });
  const none = document.createElement('option'); none.value = '';
  none.textContent = events.length ? T.deliver_pick : T.deliver_none;
  const now = document.createElement('option'); now.value = 'now'; now.textContent = T.deliver_record_now;
  $('deliver-event').replaceChildren(none, now, ...options);
  if (!events.length) $('deliver-event').value = 'now';
  $('deliver-event-hint').hidden = events.length > 0;  // how an event gets here, said where the list is empty
}

// The hand-over recorded here, now: an EPCIS 2.0 ObjectEvent (bizStep receiving) naming the order
// in its bizTransactionList by the platform's URL for it, captured with the carrier's own signature
// (the capture confirms the delivery of an order it names); the order is read first, so a mistyped
// one records nothing. The delivery's answer, as POST /v1/orders/deliveries gives it.
async function recordHandover(order) {
  const o = await api(`/v1/orders/${encodeURIComponent(order)}`);
  const refused = (detail) => Object.assign(new Error(detail), { body: { detail } });
  if ((o.carrier || '').toLowerCase() !== (session.address || '').toLowerCase()) throw refused(`order ${order} names another carrier`);
  if (o.status !== 'escrowed') throw refused(`order ${order} is ${o.status}, not escrowed`);
  const at = new Date();
  const minutes = -at.getTimezoneOffset();
  const pad = (n) => String(Math.floor(Math.abs(n))).padStart(2, '0');
  const event = {
    type: 'ObjectEvent', eventTime: at.toISOString().replace(/\.\d{3}Z$/, 'Z'),
    eventTimeZoneOffset: `${minutes < 0 ? '-' : '+'}${pad(minutes / 60)}:${pad(minutes % 60)}`,
    epcList: [], action: 'OBSERVE', bizStep: 'receiving',
    bizTransactionList: [{ type: 'po', bizTransaction: `${location.origin}/v1/orders/${order}` }],
  };
  const doc = { '@context': 'https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld', type: 'EPCISDocument',
    schemaVersion: '2.0', creationDate: event.eventTime, epcisBody: { eventList: [event] } };
  const captured = await write('/v1/epcis/capture', doc);
  const d = (captured.deliveries || []).find((x) => x.order_id === order);
  if (!d || d.status !== 'delivered') throw refused(d ? d.detail : `order ${order} names another carrier`);
  return api(`/v1/orders/${encodeURIComponent(order)}`);
}

// the API's refusal of a delivery said in the page's language, with what to do: its English
// detail ("order X: event … names other orders …") reached a Chinese page as "输入有误" alone (phone trial)
const REFUSALS = [[/no EPCIS event with hash ID/, 'deliver_err_uncaptured'], [/is an? \S+ step, not a delivery/, 'deliver_err_step'],
  [/recorded by another member/, 'deliver_err_recorder'], [/declared erroneous/, 'deliver_err_erroneous'],
  [/names other orders/, 'deliver_err_other_order'], [/names another carrier/, 'deliver_err_carrier'],
  [/before the order was escrowed/, 'deliver_err_too_old'], [/already backs the delivery of order/, 'deliver_err_used'],
  [/^order \S+ not found$/, 'deliver_err_no_order'], [/^order \S+ is \w+, not escrowed$/, 'deliver_err_status']];
function refusal(err, order, event) {
  const detail = String(err.body && err.body.detail);
  const found = REFUSALS.find(([re]) => re.test(detail));
  const status = /^order \S+ is (\w+)/.exec(detail);
  return found && fill(T[found[1]], { order, event: `0x${event.split(';')[1]?.slice(0, 8) || ''}…`,
    status: status ? T[`order_${status[1]}`] || status[1] : '' });
}

// the carrier confirms a delivery, signed with its own key: the order and its EPCIS event's hash ID
function initDeliveries() {
  loadEvents().catch((err) => say('deliver-status', T.error + err.message, true));
  $('deliver-form').addEventListener('submit', async (e) => {
    e.preventDefault();
    const order = $('deliver-order').value.trim(); const event = $('deliver-event').value.trim();
    if (!event) {  // no event chosen (or none captured): what to do, not the browser's "select an item"
      say('deliver-status', $('deliver-event').options.length > 1 ? T.deliver_pick_first : T.deliver_none_how, true);
      return;
    }
    try {
      const d = event === 'now' ? await recordHandover(order)
        : (await write('/v1/orders/deliveries', { deliveries: [{ order_id: order, epcis_event: event }] }))[0];
      let done = fill(T.delivered_done, { order: d.order_id, until: when(d.window_ends_at) });
      const code = $('deliver-code').value.trim();  // the recipient's hand-over code: vouched for on chain, also signed here
      if (code) {
        await write('/v1/purchases/vouches', { handed: [{ order_id: d.order_id, commitment: code }] });
        done += T.handover_vouched;
        $('deliver-code').value = '';
      }
      say('deliver-status', done);
      await Promise.all([loadWork('carrier'), loadEvents()]);
    } catch (err) { say('deliver-status', refusal(err, order, event) || T.error + err.message, true); }
  });
}

export function initRole(page) {
  if (page === 'issuer') { initIssuer(); return; }
  if (page === 'carrier') initDeliveries();
  if (page === 'operator') initSteps();
  loadWork(page).catch((err) => say('work-status', T.error + err.message, true));
}
