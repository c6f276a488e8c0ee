// The merchant's referral terms (docs/money.md): the most each referral level of its orders pays,
// beside the on-chain caps, and a form to change them; the change is a transaction on
// OrderSettlement signed here with the merchant's own key, like every write. The platform's rule
// offers referrers its rates; an order pays each level the lower of the two.
import { $, T, api, doneNow, figures, say, session, write } from './common.js';

const pct = (bps) => `${bps / 100}%`;

async function load() {
  const terms = await api(`/v1/referral-terms/${session.address}`);
  const caps = terms.caps_referral_bps;
  figures('referral-terms', terms.referral_bps.map((bps, i) => [T[`referral_level_${i + 1}`],
    `${pct(bps)}${T.semicolon}${T.referral_cap}${T.colon}${pct(caps[i])}`]));
  terms.referral_bps.forEach((bps, i) => {
    const input = $(`referral-${i + 1}`);
    input.value = String(bps / 100);
    input.max = String(caps[i] / 100);
  });
}

export function wireReferralTerms() {
  load().catch((err) => say('referral-status', T.error + err.message, true));
  $('referral-form').addEventListener('submit', async (e) => {
    e.preventDefault();
    const bps = [1, 2, 3].map((n) => Math.round(Number($(`referral-${n}`).value) * 100));
    try {
      await write('/v1/referral-terms', { referral_bps: bps }, 'PUT');
      await load();
      say('referral-status', doneNow());
    } catch (err) { say('referral-status', T.error + err.message, true); }
  });
}
