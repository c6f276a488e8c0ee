// An auditor signs a reconciliation run off: the page fetches what to sign (EIP-712: the run's id,
// cut-off, inputs' hash, verdict and the auditor's note), says it in words, signs it with the
// auditor's own key (the keystore's password dialog, or the wallet) and records it; a signed run
// shows who signed it and when, and is never offered for signing again; an incomplete run concluded
// nothing and is never offered (the API refuses it: 409).
import { $, T, api, button, fill, say, short, signTyped, when } from './common.js';

async function signOff(run) {
  const note = $('signoff-note').value.trim();
  const typed = await api(`/v1/audit/reconciliation/runs/${run.id}/signoff?${new URLSearchParams({ note })}`);
  const words = fill(T.signoff_sentence, { id: run.id, verdict: T[`verdict_${run.verdict}`] || run.verdict });
  const signature = await signTyped(typed, words);
  await api(`/v1/audit/reconciliation/runs/${run.id}/signoff`, {
    method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ note, signature }),
  });
  say('recon-status', fill(T.signoff_done, { id: run.id }));
}

// the run's sign-off cell: who signed it and when, or the button that signs it
export function signOffCell(run, reload) {
  if (run.signed_off) {
    const s = document.createElement('span');
    s.textContent = fill(T.signoff_by, { who: short(run.signed_off.auditor), at: when(run.signed_off.signed_at) });
    s.title = run.signed_off.auditor;
    s.className = 'signed-off';
    return s;
  }
  if (run.verdict === 'incomplete') {
    const s = document.createElement('span');
    s.textContent = T.signoff_incomplete;
    s.className = 'not-signable';
    return s;
  }
  const b = button(T.signoff_do, `${T.signoff_do} #${run.id}`, async () => {
    b.disabled = true;
    try { await signOff(run); await reload(); } catch (err) { say('recon-status', T.error + err.message, true); } finally { b.disabled = false; }
  });
  b.dataset.run = String(run.id);
  b.className = 'signoff';
  return b;
}
