// The sign-in page: a keystore file decrypted here or an injected EIP-1193 wallet signs the same
// EIP-4361 message as the API's sign-in; the key never leaves this page. Once signed in, the
// member's API keys: created (shown once) and revoked.
import { $, LANG, T, api, button, openKeystore, session, rows, say, when } from './common.js';

async function signInWith(address, sign) {
  const { message } = await api(`/v1/auth/challenge?address=${address}`);
  say('signin-status', T.signing);
  const signature = await sign(message);
  const login = await api('/v1/auth/login', {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ message, signature }),
  });
  session.save(login);
  // the member's own landing: the first of its roles that has a page
  const pages = [['merchant', 'merchant'], ['governor', 'governor'], ['auditor', 'auditor'], ['issuer', 'issuer'],
    ['operator', 'operator'], ['arbiter', 'arbiter'], ['logistics', 'carrier'], ['inspector', 'inspector']];
  // back to the page whose session ended, if it is a console page of ours; else the member's landing
  // (only for the member whose session ended: another signing in on this browser goes to its own page)
  const asked = new URLSearchParams(location.search);
  const back = asked.get('next') || '';
  const same = (asked.get('who') || '').toLowerCase() === login.address.toLowerCase();
  if (same && /^\/console\/[a-z]+(\?[^#]*)?(#.*)?$/.test(back)) { window.location.assign(back); return; }
  const next = pages.find(([role]) => login.roles.includes(role));
  if (!next) { say('signin-status', T.no_role_page, true); initKeys(); return; }
  window.location.assign(`/console/${next[1]}?lang=${LANG}`);
}

async function loadKeys() {
  const keys = await api('/v1/auth/api-keys');
  rows('key-list', keys, (k) => [k.name, when(k.created_at), k.revoked_at ? T.key_revoked
    : button(T.key_revoke, `${T.key_revoke} ${k.name}`, async () => {
      try { await api(`/v1/auth/api-keys/${k.id}`, { method: 'DELETE' }); await loadKeys(); }
      catch (err) { say('key-status', T.error + err.message, true); }
    })]);
}

function initKeys() {
  $('keys').hidden = false;
  loadKeys().catch((err) => say('key-status', T.error + err.message, true));
  $('key-form').addEventListener('submit', async (e) => {
    e.preventDefault();
    try {
      const created = await api('/v1/auth/api-keys', {
        method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ name: $('key-name').value }),
      });
      say('key-status', T.key_shown_once + created.key);
      await loadKeys();
    } catch (err) { say('key-status', T.error + err.message, true); }
  });
}

export function initSignin() {
  if (session.token) initKeys();
  if (new URLSearchParams(location.search).get('expired')) say('signin-status', T['error:unauthorized'], true);
  $('keystore-form').addEventListener('submit', async (e) => {
    e.preventDefault();
    try {
      say('signin-status', T.decrypting);
      const json = await $('keystore').files[0].text();
      const key = await openKeystore(json, $('password').value).catch((err) => {
        // ethers says "incorrect password" for a wrong one; anything else (not a keystore, a damaged
        // file) is not blamed on the password, and the library's own words go to the console only
        if (!/password/i.test(String(err && err.message))) console.warn(err);
        throw new Error(/password/i.test(String(err && err.message)) ? T.wrong_password : T.not_a_keystore);
      });
      sessionStorage.setItem('tl_keystore', json);  // still encrypted: writes ask for the password again
      sessionStorage.removeItem('tl_wallet');
      await signInWith(key.address, (m) => key.signMessage(m));
    } catch (err) {
      say('signin-status', T.signin_failed + err.message, true);
    }
  });
  $('wallet').addEventListener('click', async () => {
    if (!window.ethereum) { say('signin-status', T.no_wallet, true); return; }
    try {
      const [address] = await window.ethereum.request({ method: 'eth_requestAccounts' });
      const checksummed = ethers.getAddress(address);
      sessionStorage.removeItem('tl_keystore');
      sessionStorage.setItem('tl_wallet', '1');  // writes are sent by the wallet, the API given their hashes
      await signInWith(checksummed, (m) => window.ethereum.request({
        method: 'personal_sign', params: [ethers.hexlify(ethers.toUtf8Bytes(m)), checksummed],
      }));
    } catch (err) {
      say('signin-status', T.signin_failed + err.message, true);
    }
  });
}
