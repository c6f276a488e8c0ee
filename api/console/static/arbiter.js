// The arbiter's page: a ruling on a case against a merchant's deposit, its co-signatures collected
// in the page (each arbiter signs the EIP-712 ruling with its own key here, passes the signature
// on, and leaves it with the service for the others: the ruling shows the signatures collected so
// far, and whoever submits sends them with its own), the cases waiting for a ruling, opening a case.
import { $, T, api, attention, button, figures, fill, rows, say, short, signTyped, toFen, write, yuan } from './common.js';
import { loadDisputes, wireOrderRulings } from './order_rulings.js';

let shown = null;  // the ruling on screen: the API's answer to GET /v1/cases/{id}/ruling

async function showRuling(e) {
  e.preventDefault();
  const id = $('rule-case').value;
  const payOut = $('rule-payout').value;
  shown = await api(`/v1/cases/${id}/ruling?pay_out=${payOut}`);
  figures('rule-case-figures', [[T.case, `#${shown.case_id}`], [T.case_merchant, short(shown.merchant)],
    [T.claimant, short(shown.claimant)], [T.amount, yuan(shown.amount_fen)],
    [T.status, shown.open ? T.case_open : T.case_closed], [T.ruling, payOut === 'true' ? T.ruling_award : T.ruling_release],
    [T.rule_needed, String(shown.signatures_needed)],
    [T.collected, fill(T.rule_collected, { n: shown.collected.length, needed: shown.signatures_needed })]]);
  const have = new Set([...signatures(), ...shown.collected.map((c) => c.signature)]);
  $('rule-signatures').value = [...have].join('\n');
  $('rule-sign').hidden = !shown.open;
  say('rule-status', '');
}

function signatures() {
  return $('rule-signatures').value.split(/\s+/).map((s) => s.trim()).filter((s) => /^0x[0-9a-fA-F]{130}$/.test(s));
}

// the cases waiting for a ruling, newest first; "Rule" reads one into the ruling form
async function loadCases() {
  const cases = await api('/v1/cases?open=true&limit=50');
  rows('cases', cases, (c) => [`#${c.case_id}`, short(c.merchant), short(c.claimant), yuan(c.amount_fen),
    button(T.rule_this, `${T.rule_this} #${c.case_id}`, () => {
      $('rule-case').value = String(c.case_id);
      $('rule-form').requestSubmit();
      $('task-rule').scrollIntoView();
    })]);
  const disputes = await loadDisputes().catch((err) => { say('disputes-status', T.error + err.message, true); return []; });
  const items = [cases.length ? [fill(T.attn_cases_waiting, { n: cases.length }), '#task-cases'] : null,
    disputes.length ? [fill(T.attn_disputes_waiting, { n: disputes.length }), '#task-disputes'] : null].filter(Boolean);
  attention(items.length ? items : [T.attn_arbiter_intro]);
}

export function initArbiter() {
  wireOrderRulings(() => loadCases().catch((err) => say('cases-status', T.error + err.message, true)));
  loadCases().catch((err) => say('cases-status', T.error + err.message, true));
  const fail = (id) => (err) => say(id, T.error + err.message, true);
  $('rule-form').addEventListener('submit', (e) => showRuling(e).catch(fail('rule-status')));
  $('rule-sign-mine').addEventListener('click', async () => {
    try {
      const words = fill(T.rule_sentence, { id: shown.case_id, amount: yuan(shown.amount_fen),
        what: shown.pay_out ? T.ruling_award : T.ruling_release });
      const signature = await signTyped(shown.typed_data, words);
      // left for the other arbiters: their pages show it when they open this case's ruling
      const left = await api(`/v1/cases/${shown.case_id}/cosignatures`, { method: 'POST',
        headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ pay_out: shown.pay_out, signature }) });
      const list = new Set([...signatures(), ...left.map((c) => c.signature), signature]);
      $('rule-signatures').value = [...list].join('\n');
      say('rule-status', fill(T.rule_signed, { n: list.size, needed: shown.signatures_needed }));
    } catch (err) { fail('rule-status')(err); }
  });
  $('rule-submit').addEventListener('click', async () => {
    try {
      const r = await write(`/v1/cases/${shown.case_id}/ruling`, { pay_out: shown.pay_out, signatures: signatures() });
      say('rule-status', `${T.done}#${r.case_id} ${r.open ? T.case_open : T.case_closed}`);
      $('rule-sign').hidden = true;
      await loadCases();
    } catch (err) { fail('rule-status')(err); }
  });
  $('case-form').addEventListener('submit', async (e) => {
    e.preventDefault();
    const amount = toFen($('case-amount').value);
    if (!amount) { say('case-status', T.amount_invalid, true); return; }
    try {
      const c = await write('/v1/cases', { merchant: $('case-merchant').value.trim(), claimant: $('case-claimant').value.trim(), amount_fen: amount });
      say('case-status', `${T.done}#${c.case_id} (${yuan(c.amount_fen)})`);
      await loadCases();
    } catch (err) { fail('case-status')(err); }
  });
}
