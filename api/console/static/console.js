// The console's entry script: the header (who is signed in, sign out, only the pages of the member's
// roles), then the page's own module, or a word that this page is for another role.
// Every module imports what it shares from common.js; the key never leaves this page.
import { $, LANG, PAGE, T, session, short } from './common.js';
import { initArbiter } from './arbiter.js';
import { initAuditor } from './auditor.js';
import { initGovernor } from './governor.js';
import { initInspector } from './inspector.js';
import { initMerchant } from './merchant.js';
import { initRole } from './roles.js';
import { initSignin } from './signin.js';

const ROLE = document.body.dataset.role;

function initHeader() {
  const roles = session.roles;
  for (const li of document.querySelectorAll('header li[data-role]')) {
    li.hidden = !session.token || !roles.includes(li.dataset.role);  // only the pages of the member's roles
  }
  if (session.token) {
    const who = $('who');
    who.textContent = `${T.signed_in}${short(session.address)}`;
    who.title = session.address;
    who.dataset.address = session.address;
    $('signout').hidden = false;
  }
  $('signout').addEventListener('click', async () => {
    const token = session.token;  // the session ends on the server, not only in this tab
    if (token) await fetch('/v1/auth/logout', { method: 'POST', headers: { Authorization: `Bearer ${token}` } }).catch(() => {});
    session.clear(); window.location.assign(`/console/?lang=${LANG}`);
  });
}

function notice(text, href) {
  const p = $('role-missing') || document.createElement('p');
  p.className = 'notice'; p.setAttribute('role', 'alert'); p.hidden = false;
  const a = document.createElement('a'); a.href = href; a.textContent = text;
  p.replaceChildren(a);
  if (!p.parentNode) $('main').prepend(p);
  const list = $('attention'); if (list) list.hidden = true;
  for (const s of document.querySelectorAll('main section, nav.tasks')) s.hidden = true;
}

initHeader();
if (PAGE === 'signin') initSignin();
else if (!session.token) notice(T.need_signin, `/console/?lang=${LANG}`);
else if (ROLE && !session.roles.includes(ROLE)) {
  const mine = session.roles.map((r) => T[`role_${r}`] || r).join(T.list_sep) || T.no_role;
  const own = [...document.querySelectorAll('header li[data-role]')].find((li) => session.roles.includes(li.dataset.role));
  notice(`${T[`nav_${PAGE}`]}${T.colon}${T.role_missing}${mine}`, own ? own.querySelector('a').href : `/console/?lang=${LANG}`);
} else ({ merchant: initMerchant, auditor: initAuditor, governor: initGovernor, arbiter: initArbiter, inspector: initInspector }[PAGE]
  || initRole)(PAGE);
document.body.removeAttribute('data-loading');  // the page's buttons now answer (console.css)
