// Node side of the purchase proofs, for Python (ledger/privacy/node.py): one JSON request on stdin,
// one JSON answer on stdout. Poseidon is circomlibjs's (the circuit's own constants); proofs are
// snarkjs's. Field elements travel as decimal strings.
//   root   {leaves}                  -> {root}
//   roots  {leaves, anchors:[{size, zeroed}]} -> {roots}: the root after each anchor
//   path   {leaves, index}           -> {root, pathElements, pathIndices}
//   chunkroots {chunks, bits}       -> {roots}: each chunk's subtree root (height bits, zeros after it)
//   upper  {roots, bits}             -> {root, levels}: the root over the chunk roots, and the levels above them
//   commit {secret, batch}           -> {holder, commitment}: Poseidon(secret), Poseidon(holder, batch)
//   prove  {input, wasm, zkey}       -> {proof, publicSignals, seconds}
//   verify {vkey, proof, publicSignals} -> {ok}
import { readFileSync } from "node:fs";
import { buildPoseidon } from "circomlibjs";
import * as snarkjs from "snarkjs";

export const DEPTH = 20;

export async function hasher() {
  const poseidon = await buildPoseidon();
  const F = poseidon.F;
  const zeros = [F.e(0)];
  for (let i = 0; i < DEPTH; i++) zeros.push(poseidon([zeros[i], zeros[i]]));
  const levels = (leaves) => {
    const out = [leaves.map((x) => F.e(BigInt(x)))];
    for (let l = 0; l < DEPTH; l++) {
      const cur = out[l];
      const next = [];
      for (let i = 0; i < cur.length; i += 2) next.push(poseidon([cur[i], i + 1 < cur.length ? cur[i + 1] : zeros[l]]));
      out.push(next.length ? next : []);
    }
    return out;
  };
  const rootOf = (lv) => F.toObject(lv[DEPTH].length ? lv[DEPTH][0] : zeros[DEPTH]).toString();
  return { poseidon, F, zeros, levels, rootOf };
}

// the root of the subtree whose nodes at level `from` are `nodes` (the rest zero), at level `to`
// (each level above `from` pushed on `levels` if given)
function subtree(h, nodes, from, to, levels) {
  let level = nodes;
  for (let l = from; l < to; l++) {
    const next = [];
    for (let i = 0; i < level.length; i += 2) next.push(h.poseidon([level[i], i + 1 < level.length ? level[i + 1] : h.zeros[l]]));
    level = next;
    if (levels) levels.push(level);
  }
  return level.length ? level[0] : h.zeros[to];
}

async function main() {
  const cmd = process.argv[2];
  const req = JSON.parse(readFileSync(0, "utf8") || "{}");
  let res;
  if (cmd === "prove") {
    const t0 = performance.now();
    const { proof, publicSignals } = await snarkjs.groth16.fullProve(req.input, req.wasm, req.zkey);
    res = { proof, publicSignals, seconds: (performance.now() - t0) / 1000 };
  } else if (cmd === "verify") {
    res = { ok: await snarkjs.groth16.verify(JSON.parse(readFileSync(req.vkey, "utf8")), req.publicSignals, req.proof) };
  } else {
    const h = await hasher();
    if (cmd === "root") res = { root: h.rootOf(h.levels(req.leaves)) };
    else if (cmd === "roots") {
      const leaves = [...req.leaves];
      res = { roots: [] };
      for (const a of req.anchors) {
        for (const z of a.zeroed || []) leaves[z] = "0";
        res.roots.push(h.rootOf(h.levels(leaves.slice(0, a.size))));
      }
    } else if (cmd === "path") {
      const lv = h.levels(req.leaves);
      const pathElements = [];
      const pathIndices = [];
      let idx = req.index;
      for (let l = 0; l < DEPTH; l++) {
        const sib = idx ^ 1;
        pathElements.push(h.F.toObject(sib < lv[l].length ? lv[l][sib] : h.zeros[l]).toString());
        pathIndices.push(idx & 1);
        idx >>= 1;
      }
      res = { root: h.rootOf(lv), pathElements, pathIndices };
    } else if (cmd === "chunkroots") {
      res = { roots: req.chunks.map((c) => h.F.toObject(subtree(h, c.map((x) => h.F.e(BigInt(x))), 0, req.bits)).toString()) };
    } else if (cmd === "upper") {
      const levels = [];
      const top = subtree(h, req.roots.map((x) => h.F.e(BigInt(x))), req.bits, DEPTH, levels);
      res = { root: h.F.toObject(top).toString(), levels: levels.map((l) => l.map((x) => h.F.toObject(x).toString())) };
    } else if (cmd === "commit") {
      const holder = h.poseidon([BigInt(req.secret)]);
      res = { holder: h.F.toObject(holder).toString(), commitment: h.F.toObject(h.poseidon([holder, BigInt(req.batch)])).toString() };
    } else throw new Error(`unknown command ${cmd}`);
  }
  // exit once written: a pipe takes 64 KB at a time and process.exit would cut a longer answer
  process.stdout.write(JSON.stringify(res), () => process.exit(0));
}

main().catch((e) => {
  process.stderr.write(String(e && e.message ? e.message : e));
  process.exit(1);
});
