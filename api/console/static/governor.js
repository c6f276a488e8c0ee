// The governor's page: proposals decoded into sentences ("接纳 0xef9b… 为商家") with proposer,
// approvals and expiry, approved with a transaction signed in the page (not offered when the last
// approval would fail); new proposals from a form; the members with their roles and the caps,
// minimums and timeouts in force, all read from the chain.
import { $, T, api, attention, button, duration, figures, fill, rows, say, session, short, toFen, when, write, yuan } from './common.js';

let names = {};  // address => "商家 0xef9b…" from the member list

function who(address) { return names[String(address).toLowerCase()] || short(address); }

function roleWords(roles) {
  const list = Array.isArray(roles) ? roles : [roles];
  return list.map((r) => T[`role_${r}`] || r).join(T.list_sep);
}

// a purchase root (a field element in decimal) as people compare them: its first and last digits
function shortRoot(root) { const r = String(root); return r.length > 16 ? `${r.slice(0, 8)}…${r.slice(-6)}` : r; }

// an action as a sentence in the page's language, its values as people read them
export function sentence(a) {
  const v = { ...a };
  if (a.address) v.address = short(a.address);
  if (a.merchant) v.merchant = who(a.merchant);
  if (a.holder) v.holder = who(a.holder);
  if (a.root !== undefined) v.root = shortRoot(a.root);
  if (a.roles !== undefined) v.roles = roleWords(a.roles);
  for (const k of ['minimum_fen', 'threshold_fen']) if (a[k] !== undefined) v[k] = yuan(a[k]);
  if (a.seconds !== undefined) v.seconds = duration(a.seconds);
  if (a.delay_seconds !== undefined) v.delay_seconds = duration(a.delay_seconds);
  if (a.vault) v.vault = short(a.vault);
  if (a.batch) v.batch = short(a.batch);
  if (a.amount_fen !== undefined) v.amount_fen = yuan(a.amount_fen);
  if (a.until !== undefined) v.until = when(a.until * 1000);
  if (a.platform_fee_bps !== undefined) v.platform_fee_bps = `${a.platform_fee_bps / 100}%`;
  if (a.referral_bps) v.referral_bps = a.referral_bps.map((b) => `${b / 100}%`).join(' / ');
  const text = T[`act:${a.type}`];
  return text ? fill(text, v) : `${a.type} ${JSON.stringify(a)}`;
}

function status(p) {
  const word = T[`status_${p.status}`] || p.status;
  const outlook = p.last_approval;
  return outlook && !outlook.ok ? `${word}${T.semicolon}${T.would_fail}${outlook.error || ''}` : word;
}

async function loadProposals() {
  const council = await api('/v1/governance');
  $('council').textContent = `${T.threshold}${T.colon}${council.threshold} / ${council.governors.length}`;
  const proposals = await api('/v1/governance/proposals');
  const me = (session.address || '').toLowerCase();
  const waiting = proposals.filter((p) => p.status === 'open' && !p.approvals.map((x) => x.toLowerCase()).includes(me));
  attention(waiting.map((p) => [fill(T.attn_proposal, { id: p.id, what: sentence(p.action), at: when(p.expires_at * 1000) }),
    `#proposal-${p.id}`]));
  rows('proposals', proposals, (p, tr) => {  // newest first, as the API gives them
    tr.dataset.proposal = p.id; tr.id = `proposal-${p.id}`;
    const mine = p.approvals.map((a) => a.toLowerCase()).includes(me);
    const fails = p.last_approval && !p.last_approval.ok;
    let approve = '';
    if (p.status === 'open' && !mine) {
      approve = button(T.approve, `${T.approve} #${p.id}`, async () => {
        try {
          await write(`/v1/governance/proposals/${p.id}/approvals`, {});
          say('governor-status', `${T.approved} #${p.id}`);
          await loadProposals();
        } catch (err) { say('governor-status', T.error + err.message, true); }
      });
      approve.disabled = Boolean(fails);  // its last approval would fail: not offered
    }
    const executed = p.executed_in ? `${T.block} ${p.executed_in.block}` : '';
    const what = document.createElement('span');
    what.textContent = sentence(p.action);
    const meta = document.createElement('small');
    meta.className = 'meta';
    meta.textContent = `${T.proposer}${T.colon}${who(p.proposer)}${T.semicolon}${T.approved_by}${T.colon}`
      + `${p.approvals.map(who).join(T.list_sep) || '—'}${T.semicolon}${T.expires}${T.colon}${when(p.expires_at * 1000)}`;
    const cellBox = document.createElement('div'); cellBox.append(what, document.createElement('br'), meta);
    return [String(p.id), cellBox, p.reason || '', `${p.approvals.length} / ${council.threshold}`, status(p), executed, approve];
  });
}

async function loadMembers() {
  const members = await api('/v1/governance/members');
  names = Object.fromEntries(members.map((m) => [m.address.toLowerCase(), `${roleWords(m.roles)} ${short(m.address)}`]));
  rows('members', members, (m) => {
    const c = document.createElement('code'); c.textContent = short(m.address); c.title = m.address;
    return [c, roleWords(m.roles)];
  });
}

async function loadParameters() {
  const p = await api('/v1/governance/parameters');
  const minimums = Object.entries(p.minimum_deposits_fen).map(([m, v]) => `${who(m)}${T.colon}${yuan(v)}`).join(T.semicolon) || '—';
  const shown = (k) => (k.endsWith('_s') ? duration(p[k]) : k.endsWith('_fen') ? yuan(p[k]) : k.endsWith('_bps') ? `${p[k] / 100}%` : String(p[k]));
  figures('parameters', [
    ...['platform_fee_cap_bps', 'settlement_timeout_s', 'return_window_s', 'ruling_threshold_fen', 'arbiter_quorum',
      'withdrawal_cooldown_s', 'case_threshold_fen', 'case_arbiter_quorum'].map((k) => [T[k], shown(k)]),
    [T.referral_cap_bps, p.referral_cap_bps.map((b) => `${b / 100}%`).join(' / ')], [T.minimum_deposits_fen, minimums],
  ]);
}

// purchase roots an auditor's or the operator's key revoked: the council may put back one the logs
// recompute right (PurchaseProofs.reinstateRoot); the button fills the proposal form, the reason is theirs
async function loadRoots() {
  let roots;
  try { roots = await api('/v1/purchases/roots'); } catch (err) {
    if (err.status === 409) { say('roots-status', T.roots_none_deployed); return; }  // no purchase proofs here
    throw err;
  }
  const revoked = roots.filter((r) => r.revoked);
  say('roots-status', fill(T.roots_counts, { all: roots.length, revoked: revoked.length }));
  rows('roots', [...revoked].reverse(), (r) => {
    const c = document.createElement('code'); c.textContent = shortRoot(r.root); c.title = r.root;
    const propose = button(T.propose_reinstate, `${T.propose_reinstate} ${shortRoot(r.root)}`, () => {
      $('propose-type').value = 'reinstate_root';
      showFields();
      $('propose-root').value = r.root;
      $('propose-reason').focus();
    });
    propose.disabled = !r.ok;  // a root the logs do not give stays revoked
    return [String(r.seq), c, r.ok ? T.root_right : T.root_wrong, T.root_revoked, propose];
  });
}

// the proposal form: only the fields its type takes, values as people type them (yuan, days, %)
function action() {
  const type = $('propose-type').value;
  const a = { type };
  const address = $('propose-address').value.trim();
  const roles = [...document.querySelectorAll('input[name="propose-role"]:checked')].map((i) => i.value);
  const count = Number($('propose-count').value);
  const money = toFen($('propose-yuan').value || '0');
  const seconds = Math.round(Number($('propose-days').value) * 86400);
  const pct = (x) => Math.round(Number(x) * 100);
  if (['admit_member', 'set_roles', 'remove_member', 'add_governor', 'remove_governor'].includes(type)) a.address = address;
  if (['admit_member', 'set_roles'].includes(type)) a.roles = roles;
  if (type === 'set_minimum_deposit') Object.assign(a, { merchant: address, minimum_fen: money });
  if (['set_withdrawal_cooldown', 'set_settlement_timeout', 'set_return_window'].includes(type)) a.seconds = seconds;
  if (['set_ruling', 'set_case_ruling'].includes(type)) Object.assign(a, { threshold_fen: money, quorum: count });
  if (type === 'set_threshold') a.threshold = count;
  if (type === 'assign_prefix') Object.assign(a, { prefix: $('propose-prefix').value.trim(), holder: address });
  if (type === 'reinstate_root') a.root = $('propose-root').value.trim();  // decimal digits: past 2^53
  if (type === 'set_caps') {
    Object.assign(a, { platform_fee_bps: pct($('propose-fee').value),
      referral_bps: $('propose-referral').value.split('/').map((x) => pct(x.trim())) });
  }
  return a;
}

function showFields() {
  const type = $('propose-type').value;
  for (const el of document.querySelectorAll('#propose-form [data-for]')) {
    el.hidden = !el.dataset.for.split(' ').includes(type);
  }
  if (['add_governor', 'remove_governor'].includes(type)) $('propose-address').closest('p').hidden = false;
  $('propose-address').labels[0].textContent = type === 'assign_prefix' ? T.prefix_holder : T.address;
}

export function initGovernor() {
  const fail = (id) => (err) => say(id, T.error + err.message, true);
  // members first (proposals and minimums name them), then parameters and proposals together
  loadMembers().then(() => Promise.all([loadParameters(), loadProposals()])).catch(fail('governor-status'));
  loadRoots().catch(fail('roots-status'));
  $('propose-type').addEventListener('change', showFields);
  showFields();
  $('propose-form').addEventListener('submit', async (e) => {
    e.preventDefault();
    const a = action();
    try {
      const r = await write('/v1/governance/proposals', { action: a, reason: $('propose-reason').value.trim() });
      say('propose-status', `${T.proposed} #${r.id}${T.colon}${sentence(a)}`);
      await loadProposals();
    } catch (err) { fail('propose-status')(err); }
  });
}
