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
};

// --- writes signed by the member's own key ----------------------------------------------------
// A session from a keystore signs its writes itself: the API stops each write at its unsigned
// transaction (X-Ledger-Sign: self, answer 202), the page shows what it does and the member agrees
// (each transaction), the page signs it with the key (unlocked once per page with the keystore's
// password) and submits it; the API then answers as the write does.
let wallet = null;

function unlock() {
  if (wallet) return Promise.resolve(wallet);
  const form = $('unlock-form');
  form.hidden = false;
  $('unlock-password').focus();
  return new Promise((resolve, reject) => {
    form.onsubmit = async (e) => {
      e.preventDefault();
      say('unlock-status', T.decrypting);
      try {
        wallet = await ethers.Wallet.fromEncryptedJson(session.keystore, $('unlock-password').value);
        form.hidden = true;
        say('unlock-status', '');
        resolve(wallet);
      } catch (err) { say('unlock-status', T.signin_failed + err.message, true); reject(err); }
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

function refuse(err) {  // shown in the panel, with nothing to sign
  $('sign-call').replaceChildren();
  $('sign-go').hidden = true;
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
  figures('sign-call', [[T.sign_contract, `${call.contract} (${answer.transaction.to})`],
    [T.sign_function, `${call.function} (${call.selector})`], ...call.args, [T.sign_value, call.value]]);
  say('sign-status', '');
  panel.hidden = false;
  $('sign-go').focus();
  return new Promise((resolve, reject) => {
    $('sign-go').onclick = () => { panel.hidden = true; resolve(call); };
    $('sign-cancel').onclick = () => { panel.hidden = true; reject(new Error(T.sign_cancelled)); };
  });
}

export async function write(path, body) {
  const headers = { 'Content-Type': 'application/json' };
  if (session.keystore || session.wallet) headers['X-Ledger-Sign'] = 'self';  // else the gateway signs, if it may
  let answer = await api(path, { method: 'POST', headers, body: JSON.stringify(body) });
  while (answer && answer.prepared_id) {  // a transaction to sign (a write may need several)
    await confirmed(answer);  // shown and agreed to before any password or wallet is asked
    let signed;
    if (session.keystore) {
      const key = await unlock();
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
  if (!r.ok) {
    const err = new Error(describe(body) || `HTTP ${r.status}`);
    err.status = r.status;
    err.body = body;
    throw err;
  }
  return body;
}

function describe(body) {
  if (!body || typeof body !== 'object') return '';
  const detail = body.detail;
  if (Array.isArray(detail)) return detail.map((p) => `${p.path || p.field}: ${p.reason}`).join('; ');
  return detail || body.title || body.error || '';
}

export function say(id, text, isError = false) {
  const el = $(id);
  el.textContent = text;
  el.classList.toggle('error', isError);
}

export function fen(n) { return `${(Number(n) / 100).toFixed(2)} ¥`; }

export function fill(text, values) { return text.replace(/\{(\w+)\}/g, (_, k) => String(values[k])); }

export function cell(tr, content) {
  const td = document.createElement('td');
  if (content instanceof Node) td.append(content); else td.textContent = content;
  tr.append(td);
  return td;
}

export function rows(tableId, items, toCells, empty = T.none_yet) {
  const body = $(tableId).tBodies[0];
  body.replaceChildren(...items.map((item) => {
    const tr = document.createElement('tr');
    for (const c of toCells(item, tr)) cell(tr, c);
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

export function when(iso) { return iso ? new Date(iso).toLocaleString(LANG) : ''; }

// --- charts: bars drawn as SVG elements -------------------------------------------------------

const SVG = 'http://www.w3.org/2000/svg';

export function bars(target, values, labels) {
  const width = 600; const height = 160; const max = Math.max(1, ...values);
  const svg = document.createElementNS(SVG, 'svg');
  svg.setAttribute('viewBox', `0 0 ${width} ${height + 20}`);
  svg.setAttribute('class', 'chart');
  const w = width / Math.max(values.length, 1);
  values.forEach((v, i) => {
    const h = Math.round((v / max) * height);
    const rect = document.createElementNS(SVG, 'rect');
    rect.setAttribute('x', String(i * w + 2)); rect.setAttribute('width', String(Math.max(w - 4, 1)));
    rect.setAttribute('y', String(height - h)); rect.setAttribute('height', String(h));
    const title = document.createElementNS(SVG, 'title'); title.textContent = `${labels[i]}: ${v}`;
    rect.append(title); svg.append(rect);
  });
  $(target).replaceChildren(svg);
}
