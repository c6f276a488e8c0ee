// The prover's side of fetching the tree (bench/zk_tree.py), on Node with the browser's own code:
// api/purchases/static/treepath.js and circomlibjs's reference Poseidon (what the page loads).
//   node bench/zk_tree_client.mjs DIR COMMITMENT INDEX
// DIR holds summary.json, prefixes-N.bin and chunk.bin as the API served them. Prints JSON.
import { readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";
import buildPoseidon from "../node_modules/circomlibjs/src/poseidon_reference.js";
import * as tree from "../api/purchases/static/treepath.js";

const [dir, commitment, indexText] = process.argv.slice(2);
const t0 = performance.now();
const p = await buildPoseidon();
const zeros = tree.zerosOf(p, 20);
const t1 = performance.now();
const summary = JSON.parse(readFileSync(join(dir, "summary.json"), "utf8"));
const pages = readdirSync(dir).filter((f) => f.startsWith("prefixes-")).sort((a, b) => parseInt(a.slice(9)) - parseInt(b.slice(9)));
const found = [];
for (const f of pages) found.push(...tree.candidates(readFileSync(join(dir, f)), parseInt(f.slice(9)) * 65536, commitment));
const t2 = performance.now();
const chunk = readFileSync(join(dir, "chunk.bin"));
const path = tree.pathIn(p, zeros, summary, chunk, Number(indexText), commitment, 20);
const t3 = performance.now();
process.stdout.write(JSON.stringify({
  candidates: found.length,
  found: found.includes(Number(indexText)),
  root_ok: path !== null && path.root === summary.root,
  poseidon_setup_s: (t1 - t0) / 1000,
  prefix_scan_s: (t2 - t1) / 1000,
  path_s: (t3 - t2) / 1000,
}));
