"""The tree of delivered purchases served so that a prover fetches little and says nothing of its
leaf (docs/zk.md, "Fetching the tree"). The 2^20 leaves are cut into chunks of 2^10 (1,024):

- the summary: every chunk's subtree root, the levels above them and the tree's root (one
  answer, the same for everyone);
- the prefix pages: the first 4 bytes of every leaf, 65,536 a page (everyone fetches every page:
  a prover finds where its commitment is without asking anyone);
- a chunk: its 1,024 leaves, 32 bytes each, whole; a prover fetches its own chunk (and a decoy),
  hashes the 10 lower levels of its path from it and reads the 10 upper ones from the summary.

The answers are binary and carry an ETag (a hash of their content) so browsers and caches keep
them; a chunk only changes while it fills or when a refund zeroes one of its leaves. Chunk roots
are hashed by Node (circomlibjs's Poseidon, `tools/zk.mjs`) and kept by the chunk's content, in
memory and in the database (`chunk_store`), so an anchor recomputes only the chunks it changed, a
restarted server does not hash the tree again, and an anonymous request never makes the server
hash more than what changed since the last one."""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session as DbSession

from ledger.store.purchase_tables import PurchaseCommitment, PurchaseForeignLeaf

from . import chunk_store, node

#: the circuit's tree depth (2^20 leaves)
DEPTH = 20

CHUNK_BITS = 10
CHUNK = 1 << CHUNK_BITS
PREFIX_BYTES = 4
PREFIX_PAGE = 1 << 16
#: chunk roots kept by content (a full tree has 1,024 chunks)
KEEP = 2048
#: chunks hashed per Node call (131,072 leaves)
PER_CALL = 128

_lock = threading.Lock()
#: one summary computed at a time: callers arriving meanwhile wait and take it from the cache
_computing = threading.Lock()
_roots: OrderedDict[bytes, int] = OrderedDict()
_summary: dict[tuple, dict[str, Any]] = {}


def _state(db: DbSession) -> tuple[int, int]:
    """What changes when the tree does: its size and the number of zeroed leaves."""
    sizes = (db.scalar(select(func.max(t.leaf_index))) for t in (PurchaseCommitment, PurchaseForeignLeaf))
    size = max((x for x in sizes if x is not None), default=None)
    zeroed = db.scalar(select(func.count()).where(PurchaseCommitment.state == "zeroed"))
    return (-1 if size is None else int(size)), int(zeroed or 0)


def size(db: DbSession) -> int:
    """How many leaves the tree holds."""
    return _state(db)[0] + 1


def leaves(db: DbSession, start: int = 0, stop: int | None = None) -> list[int]:
    """Leaves [start, stop) as the tree holds them (0 for a zeroed one): the commitments that came
    with orders; those carriers vouched for on chain without one (`PurchaseForeignLeaf`) are
    zeroed as they join (`tree.anchor`), 0 here too."""
    q = select(PurchaseCommitment.leaf_index, PurchaseCommitment.commitment, PurchaseCommitment.state).where(
        PurchaseCommitment.leaf_index.is_not(None), PurchaseCommitment.leaf_index >= start
    )
    f = select(PurchaseForeignLeaf.leaf_index).where(PurchaseForeignLeaf.leaf_index >= start)
    if stop is not None:
        q = q.where(PurchaseCommitment.leaf_index < stop)
        f = f.where(PurchaseForeignLeaf.leaf_index < stop)
    out: list[int] = []
    for i, c, s in db.execute(q.order_by(PurchaseCommitment.leaf_index)):
        out.extend([0] * (i - start - len(out)))  # a foreign leaf's place, filled below
        out.append(int(c) if s == "anchored" else 0)
    for (i,) in db.execute(f):
        out.extend([0] * (i - start + 1 - len(out)))
    return out


def pack(values: list[int], width: int = 32) -> bytes:
    return b"".join(v.to_bytes(32, "big")[:width] for v in values)


def chunk_roots(all_leaves: list[int], db: DbSession | None = None) -> list[int]:
    """Each chunk's subtree root, hashing only chunks not seen before: in this process's memory,
    then (with `db`) in the table of stored chunk roots (`chunk_store`), which it writes back."""
    chunks = [all_leaves[i : i + CHUNK] for i in range(0, len(all_leaves), CHUNK)]
    keys = [hashlib.sha256(pack(c)).digest() for c in chunks]
    with _lock:
        missing = [i for i, k in enumerate(keys) if k not in _roots]
    found = chunk_store.stored(db, {i: keys[i].hex() for i in missing}) if db is not None and missing else {}
    check = chunk_store.sample(found)
    computed = _hash(chunks, [i for i in missing if i not in found] + check)
    bad = [i for i in check if computed[i] != found[i]]
    if bad and db is not None:  # one stored root wrong: none is trusted, every one is hashed again
        chunk_store.distrust(db, bad)
        computed.update(_hash(chunks, [i for i in found if i not in computed]))
        found = {}
    if db is not None:
        chunk_store.save(db, {i: (keys[i].hex(), r) for i, r in computed.items() if i not in found})
    return _remember(keys, {**found, **computed})


def _hash(chunks: list[list[int]], which: list[int]) -> dict[int, int]:
    """{chunk: root} of the chunks `which`, on Node, in bounded calls (a whole tree: 8 of them)."""
    out: dict[int, int] = {}
    for at in range(0, len(which), PER_CALL):
        part = which[at : at + PER_CALL]
        got = node.call("chunkroots", {"chunks": [[str(x) for x in chunks[i]] for i in part], "bits": CHUNK_BITS})
        out.update(zip(part, map(int, got["roots"]), strict=True))
    return out


def _remember(keys: list[bytes], new: dict[int, int]) -> list[int]:
    with _lock:
        for i, r in new.items():
            _roots[keys[i]] = r
        out = []
        for k in keys:
            _roots.move_to_end(k)
            out.append(_roots[k])
        while len(_roots) > KEEP:
            _roots.popitem(last=False)
    return out


def upper(roots: list[int]) -> dict[str, Any]:
    """{root, levels}: the tree's root over the chunk roots, and every level above them."""
    return node.call("upper", {"roots": [str(r) for r in roots], "bits": CHUNK_BITS})


def root(all_leaves: list[int], db: DbSession | None = None) -> int:
    """The tree's root (node.root's), hashing again only the chunks that changed."""
    return int(upper(chunk_roots(all_leaves, db))["root"])


def summary(db: DbSession) -> dict[str, Any]:
    """{depth, chunk_bits, size, root, chunk_roots, upper}: the same for every caller while the tree stays."""
    state = _state(db)
    with _lock:
        if state in _summary:
            return _summary[state]
    with _computing:
        with _lock:
            if state in _summary:
                return _summary[state]
        return _compute(db, state)


def _compute(db: DbSession, state: tuple[int, int]) -> dict[str, Any]:
    roots = chunk_roots(leaves(db), db)
    top = upper(roots)
    out = {
        "depth": DEPTH,
        "chunk_bits": CHUNK_BITS,
        "size": state[0] + 1,
        "root": top["root"],
        "chunk_roots": [str(r) for r in roots],
        "upper": top["levels"],
    }
    with _lock:
        _summary.clear()
        _summary[state] = out
    return out


def chunk(db: DbSession, index: int) -> bytes:
    """Chunk `index`'s leaves, 32 bytes each, big-endian (fewer in the last, filling chunk)."""
    return pack(leaves(db, index * CHUNK, (index + 1) * CHUNK))


def prefixes(db: DbSession, page: int) -> bytes:
    """The first PREFIX_BYTES of leaves [page * PREFIX_PAGE, ...), in order."""
    return pack(leaves(db, page * PREFIX_PAGE, (page + 1) * PREFIX_PAGE), PREFIX_BYTES)
