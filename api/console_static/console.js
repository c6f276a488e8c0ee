// The console's one script: sign in with the member's own key (a keystore decrypted here, or an
// injected EIP-1193 wallet), then call the API with the session token. The key never leaves
// this page: only the signed EIP-4361 message goes to the server.
const T = JSON.parse(document.getElementById('i18n').textContent);
const LANG = document.body.dataset.lang;
const PAGE = document.body.dataset.page;
const $ = (id) => document.getElementById(id);

const session = {
  get keystore() { return sessionStorage.getItem('tl_keystore'); },
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
// transaction (X-Ledger-Sign: self, answer 202), this page signs it with the key (unlocked once
// per page with the keystore's password) and submits it; the API then answers as the write does.
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

async function write(path, body, selfSigned = true) {
  const headers = { 'Content-Type': 'application/json' };
  if (session.keystore && selfSigned) headers['X-Ledger-Sign'] = 'self';
  let answer = await api(path, { method: 'POST', headers, body: JSON.stringify(body) });
  while (answer && answer.prepared_id) {  // a transaction to sign (a write may need several)
    const key = await unlock();
    const raw = await key.signTransaction(asEthers(answer.transaction));
    answer = await api(answer.submit, {
      method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ raw_transaction: raw }),
    });
  }
  return answer;
}

async function api(path, options = {}) {
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

function say(id, text, isError = false) {
  const el = $(id);
  el.textContent = text;
  el.classList.toggle('error', isError);
}

function fen(n) { return `${(Number(n) / 100).toFixed(2)} ¥`; }

// --- sign-in --------------------------------------------------------------------------------

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
  const next = login.roles.includes('merchant') ? 'merchant' : login.roles.includes('governor') ? 'governor' : 'auditor';
  window.location.assign(`/console/${next}?lang=${LANG}`);
}

async function loadKeys() {
  const keys = await api('/v1/auth/api-keys');
  $('key-list').tBodies[0].replaceChildren(...keys.map((k) => {
    const tr = document.createElement('tr');
    cell(tr, k.name);
    cell(tr, new Date(k.created_at).toLocaleString(LANG));
    if (k.revoked_at) { cell(tr, T.key_revoked); } else {
      const b = document.createElement('button'); b.type = 'button'; b.textContent = T.key_revoke;
      b.setAttribute('aria-label', `${T.key_revoke} ${k.name}`);
      b.addEventListener('click', async () => {
        try { await api(`/v1/auth/api-keys/${k.id}`, { method: 'DELETE' }); await loadKeys(); }
        catch (err) { say('key-status', T.error + err.message, true); }
      });
      cell(tr, b);
    }
    return tr;
  }));
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

function initSignin() {
  if (session.token) initKeys();
  $('keystore-form').addEventListener('submit', async (e) => {
    e.preventDefault();
    try {
      say('signin-status', T.decrypting);
      const json = await $('keystore').files[0].text();
      const key = await ethers.Wallet.fromEncryptedJson(json, $('password').value);
      sessionStorage.setItem('tl_keystore', json);  // still encrypted: writes ask for the password again
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
      await signInWith(checksummed, (m) => window.ethereum.request({
        method: 'personal_sign', params: [ethers.hexlify(ethers.toUtf8Bytes(m)), checksummed],
      }));
    } catch (err) {
      say('signin-status', T.signin_failed + err.message, true);
    }
  });
}

// --- charts: bars drawn as SVG elements (no inline style or script) ---------------------------

const SVG = 'http://www.w3.org/2000/svg';

function bars(target, values, labels) {
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

// --- merchant -------------------------------------------------------------------------------

async function loadScans() {
  const stats = await api('/v1/scans/stats?days=30');
  $('scans').tBodies[0].replaceChildren(...stats.per_day.map((d) => {
    const tr = document.createElement('tr');
    for (const v of [d.day, d.scans, d.codes, d.networks, d.suspicious]) cell(tr, String(v));
    return tr;
  }));
  bars('scans-chart', stats.per_day.map((d) => d.scans), stats.per_day.map((d) => d.day));
  $('suspicious').replaceChildren(...stats.suspicious_codes.map((c) => {
    const li = document.createElement('li');
    li.textContent = `${c.gtin} / ${c.lot} / ${c.serial}: ${c.scans} (${c.networks})`;
    return li;
  }));
}

async function previewQr(issue) {
  const csv = await (await api(`/v1/code-issues/${issue.issue_id}/codes.csv`, { headers: { Accept: '*/*' } })).text();
  const first = csv.split('\n')[1];
  if (!first) return;
  const serial = first.split(',')[0];
  const lot = encodeURIComponent(issue.lot);
  const png = await api(`/v1/batches/${issue.gtin}/${lot}/codes/${encodeURIComponent(serial)}.png`, { headers: { Accept: 'image/png' } });
  $('qr-img').src = URL.createObjectURL(png);
  $('qr-caption').textContent = serial;
  $('qr').hidden = false;
}

async function loadDeposit() {
  const d = await api(`/v1/deposits/${session.address}`);
  const rows = [[T.balance, fen(d.balance_fen)], [T.required, fen(d.required_fen)], [T.frozen, fen(d.frozen_fen)],
    [T.pending_withdrawal, fen(d.pending_withdrawal_fen)]];
  if (d.unlock_at) rows.push([T.unlocks_at, new Date(d.unlock_at * 1000).toLocaleString(LANG)]);
  countdown(d.pending_withdrawal_fen ? d.unlock_at : 0);
  $('deposit').replaceChildren(...rows.flatMap(([k, v]) => {
    const dt = document.createElement('dt'); dt.textContent = k;
    const dd = document.createElement('dd'); dd.textContent = v; dd.dataset.figure = k;
    return [dt, dd];
  }));
}

let ticking = null;

function countdown(unlockAt) {
  clearInterval(ticking);
  const tick = () => {
    const left = Math.max(0, Math.round(unlockAt - Date.now() / 1000));
    if (!unlockAt) { $('unlock-countdown').textContent = ''; return; }
    const h = Math.floor(left / 3600); const m = Math.floor((left % 3600) / 60); const sec = left % 60;
    $('unlock-countdown').textContent = left ? `${T.unlocks_in} ${h}:${String(m).padStart(2, '0')}:${String(sec).padStart(2, '0')}`
      : T.unlocked;
  };
  tick();
  ticking = setInterval(tick, 1000);
}

async function loadProducts() {
  const products = await api('/v1/products');
  const body = $('products').tBodies[0];
  body.replaceChildren(...products.map((p) => {
    const tr = document.createElement('tr');
    for (const v of [p.gtin, p.name]) { const td = document.createElement('td'); td.textContent = v; tr.append(td); }
    return tr;
  }));
  if (!products.length) {
    const tr = document.createElement('tr'); const td = document.createElement('td');
    td.colSpan = 2; td.textContent = T.none_yet; tr.append(td); body.append(tr);
  }
}

function download(link, path, name) {
  link.addEventListener('click', async (e) => {
    e.preventDefault();
    const blob = await api(path, { headers: { Accept: '*/*' } });
    const url = URL.createObjectURL(blob);
    const a = document.createElement('a');
    a.href = url; a.download = name; document.body.append(a); a.click(); a.remove();
    setTimeout(() => URL.revokeObjectURL(url), 10000);
  });
}

function initMerchant() {
  loadDeposit().catch((err) => say('deposit-status', T.error + err.message, true));
  loadProducts().catch(() => {});
  loadScans().catch(() => {});
  $('deposit-form').addEventListener('submit', async (e) => {
    e.preventDefault();
    try {
      await write('/v1/deposits', { amount_fen: Number($('deposit-amount').value) });
      say('deposit-status', '');
      await loadDeposit();
    } catch (err) { say('deposit-status', T.error + err.message, true); }
  });
  const done = async (promise) => {
    try { await promise; say('products-status', T.done + new Date().toLocaleTimeString(LANG)); await loadProducts(); }
    catch (err) { say('products-status', T.error + err.message, true); }
  };
  $('product-form').addEventListener('submit', (e) => {
    e.preventDefault();
    done(write('/v1/products', { gtin: $('product-gtin').value.trim(), name: $('product-name').value.trim() }));
  });
  $('batch-form').addEventListener('submit', (e) => {
    e.preventDefault();
    done(write('/v1/batches', { gtin: $('batch-gtin').value.trim(), lot: $('batch-lot').value.trim() }));
  });
  $('batch-recall').addEventListener('click', () => {
    const lot = encodeURIComponent($('batch-lot').value.trim());
    done(write(`/v1/batches/${$('batch-gtin').value.trim()}/${lot}/recall`, { reason: $('batch-reason').value.trim() }));
  });
  $('withdraw-request').addEventListener('click', async () => {
    const amount = Number($('deposit-amount').value);
    if (!amount) { $('deposit-amount').focus(); return; }
    try {
      await write('/v1/deposits/withdrawal-requests', { amount_fen: amount });
      say('deposit-status', '');
      await loadDeposit();
    } catch (err) { say('deposit-status', T.error + err.message, true); }
  });
  $('withdraw-take').addEventListener('click', async () => {
    try {
      await write('/v1/deposits/withdrawals', {});
      say('deposit-status', '');
      await loadDeposit();
    } catch (err) { say('deposit-status', T.error + err.message, true); }
  });
  $('codes-form').addEventListener('submit', async (e) => {
    e.preventDefault();
    const gtin = $('codes-gtin').value.trim();
    const lot = encodeURIComponent($('codes-lot').value.trim());
    $('codes-progress').hidden = false;
    say('codes-status', T.issuing);
    try {
      // the issue's anchor goes through the gateway: replaying an issue after its signature would draw new serials
      const issue = await write(`/v1/batches/${gtin}/${lot}/codes`, { count: Number($('codes-count').value) }, false);
      say('codes-status', `${T.issued}${issue.count} (${issue.anchor_tx || issue.root})`);
      const links = $('codes-downloads');
      const pdf = $('labels-pdf').cloneNode(true); const csv = $('codes-csv').cloneNode(true);
      links.replaceChildren(pdf, document.createTextNode(' '), csv);
      download(pdf, `/v1/code-issues/${issue.issue_id}/labels.pdf`, `labels-${issue.issue_id}.pdf`);
      download(csv, `/v1/code-issues/${issue.issue_id}/codes.csv`, `codes-${issue.issue_id}.csv`);
      links.hidden = false;
      previewQr(issue).catch(() => {});
    } catch (err) {
      say('codes-status', T.error + err.message, true);
    } finally { $('codes-progress').hidden = true; }
  });
  $('epcis-form').addEventListener('submit', async (e) => {
    e.preventDefault();
    const file = $('epcis-file').files[0];
    const text = await file.text();
    const xml = file.name.endsWith('.xml') || text.trimStart().startsWith('<');
    const out = $('epcis-result');
    out.replaceChildren();
    try {
      let stored; let duplicates;
      if (xml) {
        await api('/epcis/capture', { method: 'POST', headers: { 'Content-Type': 'application/xml' }, body: text });
        const jobs = await api('/epcis/capture?perPage=1');
        if (!jobs[0].success) throw Object.assign(new Error(''), { body: { detail: jobs[0].errors.map((p) => ({ path: p.pointer, reason: p.detail })) } });
        stored = jobs[0].eventIDs.length; duplicates = 0;
      } else {
        const r = await api('/v1/epcis/capture', { method: 'POST', headers: { 'Content-Type': 'application/ld+json' }, body: text });
        stored = r.stored; duplicates = r.duplicates;
      }
      const p = document.createElement('p');
      p.textContent = `${T.epcis_stored}${stored}${T.epcis_duplicates}${duplicates}${T.anchoring}`;
      out.append(p);
    } catch (err) {
      const p = document.createElement('p'); p.className = 'error'; p.textContent = T.epcis_refused;
      const ul = document.createElement('ul');
      const problems = Array.isArray(err.body && err.body.detail) ? err.body.detail : [{ path: '', reason: err.message }];
      for (const problem of problems) {
        const li = document.createElement('li');
        const code = document.createElement('code'); code.textContent = problem.path || problem.field || '';
        li.append(code, document.createTextNode(` ${problem.reason}`));
        ul.append(li);
      }
      out.append(p, ul);
    }
  });
}

// --- auditor --------------------------------------------------------------------------------

async function initAuditor() {
  const log = await api('/v1/audit/log?limit=50');
  $('audit').tBodies[0].replaceChildren(...log.map((a) => {
    const tr = document.createElement('tr');
    for (const v of [new Date(a.at).toLocaleString(LANG), a.actor || '', `${a.method} ${a.path}`, `${a.status} ${a.outcome}`]) {
      const td = document.createElement('td'); td.textContent = v; tr.append(td);
    }
    return tr;
  }));
  const runs = await api('/v1/audit/reconciliation/runs');
  const ordered = [...runs].reverse();
  bars('recon-chart', ordered.map((r) => r.breaks.new + r.breaks.persisting), ordered.map((r) => `#${r.id} ${r.verdict}`));
  $('recon').tBodies[0].replaceChildren(...runs.map((r) => {
    const tr = document.createElement('tr');
    const cells = [r.id, new Date(r.created_at).toLocaleString(LANG), r.verdict, `${r.breaks.new} / ${r.breaks.persisting}`];
    for (const v of cells) { const td = document.createElement('td'); td.textContent = v; tr.append(td); }
    return tr;
  }));
}

// --- governor -------------------------------------------------------------------------------

function cell(tr, content) {
  const td = document.createElement('td');
  if (content instanceof Node) td.append(content); else td.textContent = content;
  tr.append(td);
}

async function loadGovernance() {
  const council = await api('/v1/governance');
  $('council').textContent = `${T.threshold}: ${council.threshold} / ${council.governors.length}`;
  const proposals = await api('/v1/governance/proposals');
  $('proposals').tBodies[0].replaceChildren(...proposals.map((p) => {
    const tr = document.createElement('tr');
    tr.dataset.proposal = p.id;
    cell(tr, String(p.id));
    const action = document.createElement('code'); action.textContent = JSON.stringify(p.action);
    cell(tr, action);
    cell(tr, p.reason || '');
    cell(tr, `${p.approvals.length} / ${council.threshold}`);
    cell(tr, T[`status_${p.status}`] || p.status);
    const mine = p.approvals.map((a) => a.toLowerCase()).includes((session.address || '').toLowerCase());
    if (p.status === 'open' && !mine) {
      const b = document.createElement('button'); b.type = 'button'; b.textContent = T.approve;
      b.setAttribute('aria-label', `${T.approve} #${p.id}`);
      b.addEventListener('click', async () => {
        try {
          await write(`/v1/governance/proposals/${p.id}/approvals`, {});
          say('governor-status', `${T.approved} #${p.id}`);
          await loadGovernance();
        } catch (err) { say('governor-status', T.error + err.message, true); }
      });
      cell(tr, b);
    } else { cell(tr, ''); }
    return tr;
  }));
}

// --- every page -----------------------------------------------------------------------------

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
} else if (PAGE === 'merchant') initMerchant();
else if (PAGE === 'auditor') initAuditor().catch((err) => console.error(err));
else if (PAGE === 'governor') loadGovernance().catch((err) => say('governor-status', T.error + err.message, true));
