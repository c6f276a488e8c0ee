// The regulator's page (an inspector's): the shoppers' counterfeit reports on every product, newest
// first, with their count on top when there are any; and a batch recalled on chain (Provenance lets
// inspectors recall any batch), signed in the page like a merchant's recall, the dialog naming it.
import { $, T, attention, batchId, doneNow, say, write } from './common.js';
import { wireReports } from './lists.js';

const needs = {};
function need(key, item) { needs[key] = item; attention(Object.values(needs).filter(Boolean)); }

export function initInspector() {
  wireReports(need);
  $('recall-form').addEventListener('submit', async (e) => {
    e.preventDefault();
    const gtin = $('recall-gtin').value.trim().padStart(14, '0'); const lot = $('recall-lot').value.trim();
    const reason = $('recall-reason').value.trim();
    if (!reason) { say('recall-status', T.recall_needs_reason, true); $('recall-reason').focus(); return; }
    batchId(gtin, lot);  // so the signing dialog names the batch it recalls
    try {
      await write(`/v1/batches/${gtin}/${encodeURIComponent(lot)}/recall`, { reason });
      say('recall-status', doneNow());
    } catch (err) { say('recall-status', T.error + err.message, true); }
  });
}
