// The console's entry script: the header (who is signed in, sign out), then the page's own module.
// Every module imports what it shares from common.js; the key never leaves this page.
import { $, LANG, PAGE, T, session } from './common.js';
import { initAuditor } from './auditor.js';
import { initGovernor } from './governor.js';
import { initMerchant } from './merchant.js';
import { initSignin } from './signin.js';

function initHeader() {
  if (session.token) {
    $('who').textContent = T.signed_in + session.address;
    $('signout').hidden = false;
  }
  $('signout').addEventListener('click', () => { session.clear(); window.location.assign(`/console/?lang=${LANG}`); });
}

initHeader();
if (PAGE === 'signin') initSignin();
else if (!session.token) {
  const p = document.createElement('p'); p.className = 'error'; p.setAttribute('role', 'alert');
  const a = document.createElement('a'); a.href = `/console/?lang=${LANG}`; a.textContent = T.need_signin;
  p.append(a); $('main').prepend(p);
} else ({ merchant: initMerchant, auditor: initAuditor, governor: initGovernor })[PAGE]();
