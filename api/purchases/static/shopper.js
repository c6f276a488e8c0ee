// The shopper's side of purchase proofs, in the browser (docs/zk.md). The secret is made here and
// never leaves the browser: the checkout gets only its holder Poseidon(secret), and the platform
// makes the purchase's commitment Poseidon(holder, batch) from the batch the order is for; the receipt link keeps
// the secret in the URL fragment (never sent to a server); proofs are made here with snarkjs
// (window.snarkjs, snarkjs.min.js) from a path built of what every prover fetches and whole
// chunks of 1,024 leaves, so no request says which purchase is proving. Poseidon is circomlibjs's; the message a proof binds is the contract's
// keccak (window.ethers, ethers.umd.min.js).
import buildPoseidon from "./poseidon.js";
import * as tree from "./treepath.js";

export const FIELD = 21888242871839275222246405745257275088548364400416034343698204186575808495617n;
export const DEPTH = 20;
export const PURPOSES = { review: 1, claim: 2, dispute: 3 };
const STATIC = new URL("./", import.meta.url);
const API = new URL("../", STATIC);
const STORE = "traceledger.purchases";

let poseidonP = null;
function poseidon() {
  poseidonP ||= buildPoseidon();
  return poseidonP;
}

export async function batchId(gtin, lot) {
  const d = new Uint8Array(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(`${gtin}/${lot}`)));
  let x = 0n;
  for (const b of d) x = (x << 8n) | BigInt(b);
  return x >> 8n;
}

export function newSecret() {
  const b = crypto.getRandomValues(new Uint8Array(31)); // 248 bits: below the field
  let x = 0n;
  for (const v of b) x = (x << 8n) | BigInt(v);
  return x === 0n ? newSecret() : x;
}

// What the checkout hands the platform: Poseidon(secret). The secret stays here.
export async function holder(secret) {
  const p = await poseidon();
  return p.F.toObject(p([BigInt(secret)]));
}

// The purchase's leaf and hand-over code, Poseidon(holder, batch): the platform computes the same
// from the batch its order is for; a receipt naming another batch shows a code no carrier vouches for.
export async function commitment(secret, batch) {
  const p = await poseidon();
  return p.F.toObject(p([await holder(secret), BigInt(batch)]));
}

export function saved() {
  try {
    return JSON.parse(localStorage.getItem(STORE) || "[]");
  } catch {
    return [];
  }
}

export function save(purchase) {
  const all = saved().filter((p) => p.commitment !== purchase.commitment);
  all.push(purchase);
  localStorage.setItem(STORE, JSON.stringify(all));
}

export function receiptUrl(p) {
  const f = new URLSearchParams({ s: p.secret, g: p.gtin, l: p.lot });
  return new URL(`mine#${f}`, API).href;
}

// The checkout embeds this: a purchase's secret, kept here; only `holder` goes to the platform
// (POST /v1/purchases/commitments with the order and its batch); `commitment` is what the
// platform will answer with, and the hand-over code.
export async function checkout(gtin, lot) {
  const secret = newSecret();
  const batch = await batchId(gtin, lot);
  const c = await commitment(secret, batch);
  const h = await holder(secret);
  const p = { gtin, lot, secret: secret.toString(), batch: batch.toString(), commitment: c.toString() };
  save(p);
  return { holder: h.toString(), commitment: p.commitment, receipt: receiptUrl(p) };
}

// A GTIN-14 whose check digit is right (GS1 General Specifications 7.9.1).
export function gtinValid(g) {
  if (!/^\d{14}$/.test(g)) return false;
  const sum = [...g.slice(0, 13)].reduce((a, d, i) => a + Number(d) * (i % 2 === 0 ? 3 : 1), 0);
  return (10 - (sum % 10)) % 10 === Number(g[13]);
}

// A receipt link's fragment (#s=..&g=..&l=..) becomes a saved purchase; a link cut short or
// damaged is refused (null), not saved as a purchase no proof could ever be made for.
export async function fromFragment(hash) {
  const f = new URLSearchParams(hash.replace(/^#/, ""));
  const s = f.get("s") || "", g = f.get("g") || "", l = f.get("l") || "";
  if (!/^\d{1,78}$/.test(s) || BigInt(s) === 0n || BigInt(s) >= FIELD) return null;
  if (!gtinValid(g) || l.length < 1 || l.length > 20) return null;
  const batch = await batchId(f.get("g"), f.get("l"));
  const secret = BigInt(f.get("s"));
  const p = { gtin: f.get("g"), lot: f.get("l"), secret: secret.toString(), batch: batch.toString() };
  p.commitment = (await commitment(secret, batch)).toString();
  save(p);
  return p;
}

async function bytesOf(path) {
  const r = await fetch(new URL(path, API));
  if (!r.ok) throw new Error(`${path}: ${r.status}`);
  return new Uint8Array(await r.arrayBuffer());
}

// The Merkle path of `commitment`, fetching only what everyone fetches (the summary: chunk roots;
// every page of 4-byte leaf prefixes) and whole chunks: its own and a decoy (docs/zk.md), asked for
// in a random order. `decoyOf(ci, chunks)` names the decoy; `prove` keeps one per purchase.
export async function locate(commitment, decoyOf = (ci, chunks) => (ci + 1 + Math.floor(Math.random() * (chunks - 1))) % chunks) {
  const p = await poseidon();
  const zeros = tree.zerosOf(p, DEPTH);
  const summary = await (await fetch(new URL("tree/summary", API))).json();
  const found = [];
  const PAGE = 65536;
  for (let page = 0; page * PAGE < summary.size; page++) {
    found.push(...tree.candidates(await bytesOf(`tree/prefixes/${page}`), page * PAGE, commitment));
  }
  const chunks = summary.chunk_roots.length;
  for (const index of found) {
    const ci = index >> summary.chunk_bits;
    const decoy = chunks > 1 ? decoyOf(ci, chunks) : null;
    const asked = decoy === null ? [ci] : Math.random() < 0.5 ? [ci, decoy] : [decoy, ci];
    const got = await Promise.all(asked.map((c) => bytesOf(`tree/chunks/${c}`)));
    const path = tree.pathIn(p, zeros, summary, got[asked.indexOf(ci)], index, commitment, DEPTH);
    if (path) return path;
  }
  return null;
}

// A purchase's decoy chunk: one chunk, chosen among those that exist at its first proof and kept
// (the tree only grows): every proof of the purchase asks for the same two chunks. A fresh decoy at
// each proof, or one that moved as the tree grew, left the real chunk as the one they shared.
function keptDecoy(purchase) {
  return (ci, chunks) => {
    const d = purchase.decoy_chunk;
    if (!Number.isInteger(d) || d === ci || d >= chunks) {
      purchase.decoy_chunk = (ci + 1 + Math.floor(Math.random() * (chunks - 1))) % chunks;
      save(purchase);
    }
    return purchase.decoy_chunk;
  };
}

function fieldOf(hex) {
  return BigInt(hex) % FIELD;
}

// Every message binds this chain and the PurchaseProofs contract, as the contract computes it: a
// proof spent on one deployment is not spent again on another. A server naming another contract
// only makes this browser's proof fail on the real one.
let domainP = null;
export function domain() {
  domainP ||= fetch(new URL("domain", API)).then((r) => {
    if (!r.ok) throw new Error(`domain: ${r.status}`);
    return r.json();
  }).catch((e) => { domainP = null; throw e; });
  return domainP;
}

async function message(kind, types, values) {
  const { AbiCoder, keccak256, getAddress } = window.ethers;
  const d = await domain();
  const blob = AbiCoder.defaultAbiCoder().encode(
    ["string", "uint256", "address", ...types], [kind, BigInt(d.chain_id), getAddress(d.contract), ...values]);
  return fieldOf(keccak256(blob));
}

export function reviewMessage(rating, text) {
  const { keccak256, toUtf8Bytes } = window.ethers;
  return message("review", ["uint8", "bytes32"], [rating, keccak256(toUtf8Bytes(text))]);
}

export function claimMessage(payTo, amountFen) {
  return message("claim", ["address", "uint256"], [window.ethers.getAddress(payTo), amountFen]);
}

export function disputeMessage(statement, payTo) {
  const { keccak256, toUtf8Bytes, getAddress } = window.ethers;
  return message("dispute", ["bytes32", "address"], [keccak256(toUtf8Bytes(statement)), getAddress(payTo)]);
}

// A proof that `purchase` (a saved one) is a delivered purchase, for `purpose`, bound to `message`.
export async function prove(purchase, purpose, message) {
  const t0 = performance.now();
  const path = await locate(purchase.commitment, keptDecoy(purchase));
  if (!path) throw new Error("not_in_tree: this purchase is not (or no longer) a delivered one");
  const input = {
    root: path.root,
    batch: purchase.batch,
    purpose: String(PURPOSES[purpose]),
    message: message.toString(),
    secret: purchase.secret,
    pathElements: path.pathElements,
    pathIndices: path.pathIndices,
  };
  const { proof, publicSignals } = await window.snarkjs.groth16.fullProve(
    input,
    new URL("purchase.wasm", STATIC).href,
    new URL("purchase.zkey", STATIC).href,
  );
  return { proof, publicSignals, seconds: (performance.now() - t0) / 1000 };
}

async function post(path, body) {
  const r = await fetch(new URL(path, API), {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(body),
  });
  return { status: r.status, body: await r.json() };
}

export async function review(purchase, rating, text) {
  const { proof, publicSignals, seconds } = await prove(purchase, "review", await reviewMessage(rating, text));
  const [nullifier, root] = publicSignals;
  const out = await post("reviews", { gtin: purchase.gtin, lot: purchase.lot, root, nullifier, proof, rating, text });
  return { ...out, seconds };
}

// What a proven claim on the purchase's batch pays (null: nothing): the same for every claim.
export async function claimTerms(purchase) {
  const r = await fetch(new URL(`batches/${purchase.gtin}/${encodeURIComponent(purchase.lot)}`, API));
  return r.ok ? (await r.json()).claim_terms : null;
}

export async function claim(purchase, payTo, amountFen) {
  const { proof, publicSignals, seconds } = await prove(purchase, "claim", await claimMessage(payTo, amountFen));
  const [nullifier, root] = publicSignals;
  const body = { gtin: purchase.gtin, lot: purchase.lot, root, nullifier, proof, pay_to: payTo, amount_fen: amountFen };
  return { ...(await post("claims", body)), seconds };
}

// A dispute: what went wrong, for arbiters, and the address an award is paid to; the batch's
// claim amount is frozen from the merchant's deposit as a case. Its number is kept here.
export async function dispute(purchase, statement, payTo) {
  const { proof, publicSignals, seconds } = await prove(purchase, "dispute", await disputeMessage(statement, payTo));
  const [nullifier, root] = publicSignals;
  const body = { gtin: purchase.gtin, lot: purchase.lot, root, nullifier, proof, statement, pay_to: payTo };
  const out = await post("disputes", body);
  if (out.status === 201) save({ ...purchase, case_id: out.body.case_id });
  return { ...out, seconds };
}

// Once arbiters awarded the case: the award sent to the address the dispute named (anyone may ask).
export async function collect(caseId) {
  const t0 = performance.now();
  return { ...(await post(`disputes/${caseId}/payment`, {})), seconds: (performance.now() - t0) / 1000 };
}
