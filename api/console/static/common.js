// What every console page shares: the language table, the session (token, address, roles, the
// keystore still encrypted), calling the API, writes signed by the member's own key, and small
// helpers that build tables and charts as DOM elements (no inline script or style).
export const T = JSON.parse(document.getElementById('i18n').textContent);
export const LANG = document.body.dataset.lang;
export const PAGE = document.body.dataset.page;
export const $ = (id) => document.getElementById(id);

export const session = {
  get keystore() { return sessionStorage.getItem('tl_keystore'); },
  get wallet() { return sessionStorage.getItem('tl_wallet') === '1' && window.ethereum; },
  get token() { return sessionStorage.getItem('tl_token'); },
  get address() { return sessionStorage.getItem('tl_address'); },
  get roles() { return JSON.parse(sessionStorage.getItem('tl_roles') || '[]'); },
  save(login) {
    sessionStorage.setItem('tl_token', login.token);
    sessionStorage.setItem('tl_address', login.address);
    sessionStorage.setItem('tl_roles', JSON.stringify(login.roles));
  },
  clear() { sessionStorage.clear(); },
  // the session ended (its token expired): back to sign-in, which returns to this page after
  ended() {
    const who = sessionStorage.getItem('tl_address') || '';
    for (const k of ['tl_token', 'tl_address', 'tl_roles']) sessionStorage.removeItem(k);
    const next = encodeURIComponent(location.pathname + location.search + location.hash);
    location.assign(`/console/?lang=${LANG}&expired=1&who=${who}&next=${next}`);
  },
};

// --- writes signed by the member's own key ----------------------------------------------------
// A session from a keystore signs its writes itself: the API stops each write at its unsigned
// transaction (X-Ledger-Sign: self, answer 202), the page shows what it does and the member agrees
// (each transaction), the page signs it with the key (unlocked once per page with the keystore's
// password) and submits it; the API then answers as the write does.
let wallet = null;

// eth-account (Python) writes a keystore's AES-CTR IV without its leading zero bytes (1 file in 256);
// ethers wants all 16 bytes. The IV is one number, so padding it back opens the same key.
export function openKeystore(json, password) {
  let fixed = json;
  try {
    const parsed = JSON.parse(json);
    const params = (parsed.crypto || parsed.Crypto || {}).cipherparams;
    if (params && typeof params.iv === 'string' && /^[0-9a-f]{1,31}$/i.test(params.iv)) {
      params.iv = params.iv.padStart(32, '0');
      fixed = JSON.stringify(parsed);
    }
  } catch { /* not JSON: ethers says what is wrong with it */ }
  return ethers.Wallet.fromEncryptedJson(fixed, password);
}

function unlock(summary) {
  if (wallet) return Promise.resolve(wallet);
  const form = $('unlock-form');
  $('unlock-summary').textContent = summary;
  form.hidden = false;
  $('unlock-password').focus();
  return new Promise((resolve, reject) => {
    $('unlock-cancel').onclick = () => { form.hidden = true; reject(new Error(T.sign_cancelled)); };
    form.onsubmit = async (e) => {
      e.preventDefault();
      say('unlock-status', T.decrypting);
      try {
        wallet = await openKeystore(session.keystore, $('unlock-password').value);
        form.hidden = true;
        say('unlock-status', '');
        resolve(wallet);
      } catch { say('unlock-status', T.wrong_password, true); }  // asked again; Cancel gives up
    };
  });
}

function asEthers(tx) {
  const out = { to: tx.to, data: tx.data, value: BigInt(tx.value || 0), nonce: Number(tx.nonce),
    chainId: BigInt(tx.chainId), gasLimit: BigInt(tx.gas) };
  if (tx.maxFeePerGas !== undefined) {
    Object.assign(out, { type: 2, maxFeePerGas: BigInt(tx.maxFeePerGas), maxPriorityFeePerGas: BigInt(tx.maxPriorityFeePerGas) });
  } else { Object.assign(out, { type: 0, gasPrice: BigInt(tx.gasPrice) }); }
  return out;
}

// An injected wallet (EIP-1193) sends the prepared transaction itself; the API is given its hash.
async function sendByWallet(tx) {
  const hex = (v) => `0x${BigInt(v).toString(16)}`;
  return window.ethereum.request({
    method: 'eth_sendTransaction',
    params: [{ from: session.address, to: tx.to, data: tx.data, value: hex(tx.value || 0), gas: hex(tx.gas) }],
  });
}

// --- what a transaction does, shown before it is signed ----------------------------------------
// The page decodes the prepared transaction itself: its `to` must be a contract of the deployment
// (GET /v1/contracts, the manifest with its ABIs) and its data a function of that contract (by the
// 4-byte selector); the API's own description must agree. The member then sees contract, function,
// arguments and value, and signs or cancels.
let contracts = null;

async function decoded(tx) {
  if (!contracts) {
    const m = await api('/v1/contracts');
    contracts = Object.entries(m.contracts).map(([name, c]) => (
      { name, address: String(c.address).toLowerCase(), iface: new ethers.Interface(c.abi) }));
  }
  const known = contracts.find((c) => c.address === String(tx.to || '').toLowerCase());
  if (!known) throw new Error(T.sign_unknown + tx.to);
  let call = null;
  try { call = known.iface.parseTransaction({ data: tx.data, value: BigInt(tx.value || 0) }); } catch { call = null; }
  if (!call) throw new Error(T.sign_unknown + `${known.name} ${String(tx.data).slice(0, 10)}`);
  const shown = (v) => (Array.isArray(v) ? `[${Array.from(v, shown).join(', ')}]` : String(v));
  return { contract: known.name, function: call.name, selector: call.selector, value: String(BigInt(tx.value || 0)),
    args: call.fragment.inputs.map((p, i) => [p.name || `arg${i}`, shown(call.args[i])]) };
}

// hashes this page can name for a person because it computed them itself (a batch id from the GTIN
// and lot it sends): the confirmation names the batch, not only its hash (a recall said neither)
export const named = new Map();
export function batchId(gtin, lot) {  // Provenance.batchId: keccak256(abi.encode(uint64 gtin, string lot))
  const id = ethers.keccak256(ethers.AbiCoder.defaultAbiCoder().encode(['uint64', 'string'], [BigInt(gtin), lot]));
  named.set(id.toLowerCase(), `${String(gtin).padStart(14, '0')} / ${lot}`);
  return id;
}

// the call in words: "存入保证金 ¥100.00" from the catalog's `call:Contract.function` sentence
export function sentence(call) {
  const args = Object.fromEntries(call.args);
  for (const [k, v] of call.args) {
    if (/amount|fen|minimum|value|^threshold$/i.test(k) && /^\d+$/.test(v)) {
      args[k] = BigInt(v) >= 2n ** 255n ? T.unlimited : yuan(v);  // an approval of all: said so, not 10^77 yuan
    }
    if (k === 'gtin') args[k] = String(v).padStart(14, '0');
    if (/^0x[0-9a-fA-F]{40}$/.test(v)) args[k] = short(v);
    if (/^0x[0-9a-fA-F]{64}$/.test(v)) args[k] = named.get(v.toLowerCase()) || short(v);
  }
  const text = T[`call:${call.contract}.${call.function}`];
  return text ? fill(text, args) : `${call.contract}.${call.function}`;
}

function refuse(err) {  // shown in the panel, with nothing to sign; Cancel closes it
  $('sign-call').replaceChildren();
  $('sign-summary').textContent = '';
  $('sign-go').hidden = true;
  $('sign-cancel').onclick = () => { $('sign-confirm').hidden = true; };
  say('sign-status', err.message, true);
  $('sign-confirm').hidden = false;
  throw err;
}

async function confirmed(answer) {
  const panel = $('sign-confirm');
  const call = await decoded(answer.transaction).catch(refuse);
  const said = answer.call || {};
  if (said.contract !== call.contract || said.function !== call.function || said.selector !== call.selector) {
    refuse(new Error(`${T.sign_mismatch}${said.contract}.${said.function} ≠ ${call.contract}.${call.function}`));
  }
  $('sign-go').hidden = false;
  call.summary = sentence(call);
  $('sign-summary').textContent = call.summary;
  figures('sign-call', [[T.sign_contract, `${call.contract} (${answer.transaction.to})`],
    [T.sign_function, `${call.function} (${call.selector})`],
    ...call.args.map(([k, v]) => [k, /amount|fen|minimum|value/i.test(k) && /^\d+$/.test(v) ? `${yuan(v)} (${v})` : v]),
    [T.sign_value, call.value]]);
  say('sign-status', '');
  panel.hidden = false;
  $('sign-go').focus();
  return new Promise((resolve, reject) => {
    $('sign-go').onclick = () => { panel.hidden = true; resolve(call); };
    $('sign-cancel').onclick = () => { panel.hidden = true; reject(new Error(T.sign_cancelled)); };
  });
}

// an EIP-712 message (a ruling's co-signature) signed with the member's own key, after the page
// says what it is in words: the keystore's password dialog repeats it; a wallet shows its own
export async function signTyped(typed, summary) {
  const types = Object.fromEntries(Object.entries(typed.types).filter(([k]) => k !== 'EIP712Domain'));
  if (session.keystore) {
    const key = await unlock(summary);
    return key.signTypedData(typed.domain, types, typed.message);
  }
  if (!session.wallet) throw new Error(T.need_signin);
  return window.ethereum.request({ method: 'eth_signTypedData_v4', params: [session.address, JSON.stringify(typed)] });
}

// a write already on its way (a double tap, a slow network) is not sent twice: the second tap
// waits for the same answer instead of a second request and a second signing dialog
const inFlight = new Map();
export function write(path, body, method = 'POST') {
  const key = `${method} ${path} ${JSON.stringify(body)}`;
  if (!inFlight.has(key)) inFlight.set(key, writeOnce(path, body, method).finally(() => inFlight.delete(key)));
  return inFlight.get(key);
}

async function writeOnce(path, body, method) {
  const headers = { 'Content-Type': 'application/json' };
  if (session.keystore || session.wallet) headers['X-Ledger-Sign'] = 'self';  // else the gateway signs, if it may
  let answer = await api(path, { method, headers, body: JSON.stringify(body) });
  while (answer && answer.prepared_id) {  // a transaction to sign (a write may need several)
    const call = await confirmed(answer);  // shown and agreed to before any password or wallet is asked
    let signed;
    if (session.keystore) {
      const key = await unlock(call.summary);
      signed = { raw_transaction: await key.signTransaction(asEthers(answer.transaction)) };
    } else { signed = { tx_hash: await sendByWallet(answer.transaction) }; }
    answer = await api(answer.submit, {
      method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(signed),
    });
  }
  return answer;
}

export async function api(path, options = {}) {
  const headers = Object.assign({ Accept: 'application/json' }, options.headers || {});
  if (session.token) headers.Authorization = `Bearer ${session.token}`;
  const r = await fetch(path, Object.assign({}, options, { headers }));
  const body = (r.headers.get('content-type') || '').includes('json') ? await r.json() : await r.blob();
  // a session that expired on a page: not an error on every section, but the sign-in page again
  if (r.status === 401 && headers.Authorization && location.pathname !== '/console/') session.ended();
  if (!r.ok) {
    const err = new Error(describe(body) || `HTTP ${r.status}`);
    err.status = r.status;
    err.body = body;
    throw err;
  }
  const next = r.headers.get('X-Next-After');
  if (next !== null && body && typeof body === 'object') body.nextAfter = next;  // the next page's keyset cursor
  return body;
}

// an API error as a person reads it: a contract's revert by its name (CooldownNotOver(addr, time)
// => "冷却期未满，… 后可提取"), a known error code by the catalog, a field problem by its field
export function describe(body) {
  if (!body || typeof body !== 'object') return '';
  const detail = body.detail;
  const why = (p) => {
    const reason = String(p.reason || '').replace(/^Value error, /, '');  // pydantic's prefix says nothing to a person
    const digit = /check digit is (\d), expected (\d)/.exec(reason);
    if (digit) return fill(T.check_digit, { is: digit[1], expected: digit[2] });
    return T[`invalid:${reason}`] || (LANG === 'zh' ? `${T.invalid_value}（${reason}）` : reason);
  };
  if (Array.isArray(detail)) return detail.map((p) => `${String(p.path || p.field).replace(/^body\./, '')}${T.colon}${why(p)}`).join('; ');
  const revert = /([A-Z][A-Za-z]+)\(([^)]*)\)/.exec(String(detail || ''));
  if (revert && T[`revert:${revert[1]}`]) {
    const args = revert[2].split(',').map((a) => a.trim());
    const at = args.find((a) => /^\d{9,11}$/.test(a));
    return fill(T[`revert:${revert[1]}`], { at: at ? when(Number(at) * 1000) : '' });
  }
  const code = body.error || body.code || '';
  // the code's words, and the API's detail when it says more (which order was not found, which role is
  // needed): a Chinese page read "出错：找不到" alone, not knowing what (phone trial)
  const more = typeof detail === 'string' && detail.trim() && detail !== code ? detail : '';
  if (T[`error:${code}`]) return more ? fill(T.error_detail, { what: T[`error:${code}`], detail: more }) : T[`error:${code}`];
  return LANG === 'zh' && detail ? `${T.request_refused}（${detail}）` : detail || body.title || code || '';
}

export function say(id, text, isError = false) {
  const el = $(id);
  el.textContent = text;
  el.classList.toggle('error', isError);
  // the answer to what a person just tapped is brought into view (on a phone it may sit below the screen)
  const acted = document.activeElement && document.activeElement !== document.body;
  if (text && acted && typeof el.scrollIntoView === 'function') el.scrollIntoView({ block: 'nearest' });
}

const MONEY = new Intl.NumberFormat(LANG === 'zh' ? 'zh-CN' : 'en', { style: 'currency', currency: 'CNY' });
// integer fen as yuan, by the locale: ¥1,000.00 (zh), CN¥1,000.00 (en); exact for any fen count
export function yuan(n) {
  const f = BigInt(n); const sign = f < 0n ? '-' : ''; const a = f < 0n ? -f : f;
  const whole = MONEY.formatToParts(Number(a / 100n)).filter((p) => p.type !== 'decimal' && p.type !== 'fraction')
    .map((p) => p.value).join('');
  return `${sign}${whole}.${String(a % 100n).padStart(2, '0')}`;
}
export const fen = yuan;
// yuan typed by a person ("12.3") as integer fen (1230), or null when it is not an amount
export function toFen(text) {
  const m = /^\s*(\d{1,15})(?:\.(\d{1,2}))?\s*$/.exec(String(text));
  return m ? Number(m[1]) * 100 + Number((m[2] || '').padEnd(2, '0')) : null;
}
export function short(hex) { return hex && hex.length > 14 ? `${hex.slice(0, 6)}…${hex.slice(-4)}` : hex; }
// seconds as days and hours ("7 天" / "7 days 12 h")
export function duration(seconds) {
  const s = Number(seconds); const d = Math.floor(s / 86400); const h = Math.floor((s % 86400) / 3600);
  const m = Math.floor((s % 3600) / 60);
  const parts = [];
  if (d) parts.push(fill(T.n_days, { n: d }));
  if (h) parts.push(fill(T.n_hours, { n: h }));
  if (m && !d) parts.push(fill(T.n_minutes, { n: m }));
  return parts.join(' ') || fill(T.n_seconds, { n: s });
}

export function fill(text, values) { return text.replace(/\{(\w+)\}/g, (_, k) => String(values[k])); }

export function cell(tr, content) {
  const td = document.createElement('td');
  if (content instanceof Node) td.append(content); else td.textContent = content;
  tr.append(td);
  return td;
}

export function rows(tableId, items, toCells, empty = T.none_yet) {
  const body = $(tableId).tBodies[0];
  const heads = [...$(tableId).tHead.rows[0].cells].map((th) => th.textContent);  // each cell's label on a phone
  body.replaceChildren(...items.map((item) => {
    const tr = document.createElement('tr');
    toCells(item, tr).forEach((c, i) => { cell(tr, c).dataset.label = heads[i] || ''; });
    return tr;
  }));
  if (!items.length) {
    const tr = document.createElement('tr'); const td = cell(tr, empty);
    td.colSpan = $(tableId).tHead.rows[0].cells.length; body.append(tr);
  }
}

export function figures(dlId, pairs) {
  $(dlId).replaceChildren(...pairs.flatMap(([k, v]) => {
    const dt = document.createElement('dt'); dt.textContent = k;
    const dd = document.createElement('dd'); dd.textContent = v; dd.dataset.figure = k;
    return [dt, dd];
  }));
}

export function button(text, label, onClick) {
  const b = document.createElement('button'); b.type = 'button'; b.textContent = text;
  if (label) b.setAttribute('aria-label', label);
  b.addEventListener('click', onClick);
  return b;
}

// every time the console shows is Beijing time, the zone named ("2026年12月5日 14:06（北京时间）"), as the
// scan page and the lists show them (a phone set to another zone saw two clocks on one page; phone trial)
const BEIJING = new Intl.DateTimeFormat(LANG === 'zh' ? 'zh-CN' : 'en',
  { timeZone: 'Asia/Shanghai', dateStyle: 'medium', timeStyle: 'short' });
const BEIJING_CLOCK = new Intl.DateTimeFormat(LANG === 'zh' ? 'zh-CN' : 'en', { timeZone: 'Asia/Shanghai', timeStyle: 'medium' });
export function when(iso) {
  if (!iso && iso !== 0) return '';
  return `${BEIJING.format(new Date(iso))}${T.beijing_zone}`;
}
// "Done: 14:06:05 (Beijing)": a status line's time of day
export function doneNow() { return `${T.done}${BEIJING_CLOCK.format(new Date())}${T.beijing_zone}`; }

// the landing's "what needs you now": a list of sentences, or a calm "nothing needs you"
export function attention(items) {
  const ul = $('attention-list');
  if (!ul) return;
  const shown = items.length ? items : [T.attn_nothing];
  ul.replaceChildren(...shown.map((item) => {
    const li = document.createElement('li');
    if (Array.isArray(item)) {  // [text, link to the task]
      const a = document.createElement('a'); a.href = item[1]; a.textContent = item[0]; li.append(a);
    } else li.textContent = item;
    if (items.length) li.className = 'needs';
    return li;
  }));
}
