// The governor's page: proposals with their decoded actions (open, executed, expired), approving
// one with a transaction signed in the page; the members with their roles and the caps,
// minimums and timeouts in force, all read from the chain.
import { $, T, api, button, figures, rows, say, session, write } from './common.js';

function code(text) { const c = document.createElement('code'); c.textContent = text; return c; }

// an open proposal one approval short says whether that approval would execute it or fail (and why)
function status(p) {
  const word = T[`status_${p.status}`] || p.status;
  const outlook = p.last_approval;
  return outlook && !outlook.ok ? `${word}; ${T.would_fail}${outlook.error || ''}` : word;
}

async function loadProposals() {
  const council = await api('/v1/governance');
  $('council').textContent = `${T.threshold}: ${council.threshold} / ${council.governors.length}`;
  const proposals = await api('/v1/governance/proposals');
  rows('proposals', proposals, (p, tr) => {
    tr.dataset.proposal = p.id;
    const mine = p.approvals.map((a) => a.toLowerCase()).includes((session.address || '').toLowerCase());
    const approve = p.status === 'open' && !mine ? button(T.approve, `${T.approve} #${p.id}`, async () => {
      try {
        await write(`/v1/governance/proposals/${p.id}/approvals`, {});
        say('governor-status', `${T.approved} #${p.id}`);
        await loadProposals();
      } catch (err) { say('governor-status', T.error + err.message, true); }
    }) : '';
    const executed = p.executed_in ? `${T.block} ${p.executed_in.block}` : '';
    return [String(p.id), code(JSON.stringify(p.action)), p.reason || '', `${p.approvals.length} / ${council.threshold}`,
      status(p), executed, approve];
  });
}

async function loadConsortium() {
  const members = await api('/v1/governance/members');
  rows('members', members, (m) => [code(m.address), m.roles.join(', ')]);
  const p = await api('/v1/governance/parameters');
  const minimums = Object.entries(p.minimum_deposits_fen).map(([m, v]) => `${m.slice(0, 10)}…: ${v}`).join('; ') || '—';
  figures('parameters', [
    ...['platform_fee_cap_bps', 'settlement_timeout_s', 'return_window_s', 'ruling_threshold_fen', 'arbiter_quorum',
      'withdrawal_cooldown_s', 'case_threshold_fen', 'case_arbiter_quorum'].map((k) => [T[k], String(p[k])]),
    [T.referral_cap_bps, p.referral_cap_bps.join(' / ')], [T.minimum_deposits_fen, minimums],
  ]);
}

export function initGovernor() {
  loadProposals().catch((err) => say('governor-status', T.error + err.message, true));
  loadConsortium().catch((err) => say('governor-status', T.error + err.message, true));
}
