// A Merkle path from what a prover fetches (docs/zk.md, "Fetching the tree"), with no imports so
// that the page (shopper.js) and the bench (bench/zk_tree_client.mjs, on Node) run the same code.
// `p` is circomlibjs's Poseidon (p(inputs), p.F).

export function zerosOf(p, depth) {
  const zeros = [p.F.e(0)];
  for (let i = 0; i < depth; i++) zeros.push(p([zeros[i], zeros[i]]));
  return zeros;
}

export function wordAt(bytes, offset) {
  let x = 0n;
  for (let i = 0; i < 32; i++) x = (x << 8n) | BigInt(bytes[offset + i]);
  return x;
}

// The leaf indexes in a page of 4-byte prefixes (starting at leaf `first`) whose prefix is the
// commitment's.
export function candidates(prefixes, first, commitment) {
  const want = Number((BigInt(commitment) >> 224n) & 0xffffffffn);
  const out = [];
  for (let i = 0; i + 4 <= prefixes.length; i += 4) {
    const v = ((prefixes[i] << 24) | (prefixes[i + 1] << 16) | (prefixes[i + 2] << 8) | prefixes[i + 3]) >>> 0;
    if (v === want) out.push(first + i / 4);
  }
  return out;
}

// From level `from` (nodes at that level, the rest zero) up to `to`: the root and the siblings of
// node `idx` on the way.
export function climb(p, zeros, nodes, idx, from, to) {
  let level = nodes;
  const elements = [];
  const indices = [];
  for (let l = from; l < to; l++) {
    const sib = idx ^ 1;
    elements.push(p.F.toObject(sib < level.length ? level[sib] : zeros[l]).toString());
    indices.push(idx & 1);
    const next = [];
    for (let i = 0; i < level.length; i += 2) next.push(p([level[i], i + 1 < level.length ? level[i + 1] : zeros[l]]));
    level = next;
    idx >>= 1;
  }
  return { root: level.length ? level[0] : zeros[to], elements, indices };
}

// The whole path of leaf `index` (holding `commitment`) from its chunk's bytes and the summary;
// null if the leaf there is another one (a shared prefix).
export function pathIn(p, zeros, summary, chunk, index, commitment, depth) {
  const bits = summary.chunk_bits;
  const ci = index >> bits;
  const at = index - ci * (1 << bits);
  if (wordAt(chunk, at * 32) !== BigInt(commitment)) return null;
  const leaves = [];
  for (let o = 0; o < chunk.length; o += 32) leaves.push(p.F.e(wordAt(chunk, o)));
  const low = climb(p, zeros, leaves, at, 0, bits);
  if (p.F.toObject(low.root).toString() !== summary.chunk_roots[ci]) throw new Error("tree: a chunk does not match its root; retry");
  // the upper path from the summary's levels, checked by hashing it up to the root
  const siblings = [];
  const indices = [];
  let node = low.root;
  let idx = ci;
  for (let l = bits; l < depth; l++) {
    const level = l === bits ? summary.chunk_roots : summary.upper[l - bits - 1];
    const sib = (idx ^ 1) < level.length ? p.F.e(BigInt(level[idx ^ 1])) : zeros[l];
    siblings.push(p.F.toObject(sib).toString());
    indices.push(idx & 1);
    node = idx & 1 ? p([sib, node]) : p([node, sib]);
    idx >>= 1;
  }
  const high = { elements: siblings, indices };
  const root = p.F.toObject(node).toString();
  if (root !== summary.root) throw new Error("tree: the chunk roots do not give the root; retry");
  return { root, pathElements: [...low.elements, ...high.elements], pathIndices: [...low.indices, ...high.indices] };
}
