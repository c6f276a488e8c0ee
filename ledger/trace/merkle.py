"""Merkle trees that match `Provenance.verifyEvent` (OpenZeppelin's MerkleProof).

A leaf commits to a 32-byte event hash as `keccak256(keccak256(abi.encode(eventHash)))` (the
double hash of OpenZeppelin's StandardMerkleTree, which keeps a leaf from passing for an inner
node); inner nodes hash their two children sorted. Levels are built left to right, and an odd
node out is carried up unchanged.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable

try:  # compiled keccak: building a 100,000-leaf tree is ~6x faster than with eth_utils
    from sha3 import keccak_256

    def keccak(data: bytes) -> bytes:
        return keccak_256(data).digest()
except ImportError:  # pragma: no cover
    from eth_utils import keccak


def leaf_hash(event_hash: bytes) -> bytes:
    if len(event_hash) != 32:
        raise ValueError(f"an event hash is 32 bytes, got {len(event_hash)}")
    return keccak(keccak(event_hash))  # abi.encode(bytes32) is the 32 bytes themselves


def hash_pair(a: bytes, b: bytes) -> bytes:
    return keccak(a + b) if a < b else keccak(b + a)


class Level:
    """One level of a tree: its nodes' 32-byte hashes end to end in one bytes object (32 bytes a
    node and nothing for the collector to walk, against ~90 for a list of bytes objects)."""

    __slots__ = ("_buf",)

    def __init__(self, nodes: list[bytes]):
        self._buf = b"".join(nodes)

    def __len__(self) -> int:
        return len(self._buf) // 32

    def __getitem__(self, i: int) -> bytes:
        if i < 0:
            i += len(self)
        if not 0 <= i < len(self):
            raise IndexError(i)
        return self._buf[32 * i : 32 * i + 32]

    @property
    def nbytes(self) -> int:
        return len(self._buf)


class MerkleTree:
    """A tree over event hashes, in the order given."""

    def __init__(self, event_hashes: list[bytes]):
        if not event_hashes:
            raise ValueError("a Merkle tree needs at least one leaf")
        level = [leaf_hash(h) for h in event_hashes]
        self.levels: list[Level] = [Level(level)]
        while len(level) > 1:
            nxt = [hash_pair(level[i], level[i + 1]) for i in range(0, len(level) - 1, 2)]
            if len(level) % 2:
                nxt.append(level[-1])
            self.levels.append(Level(nxt))
            level = nxt

    @property
    def root(self) -> bytes:
        return self.levels[-1][0]

    def __len__(self) -> int:
        return len(self.levels[0])

    @property
    def nbytes(self) -> int:
        """Bytes its nodes take (about 64 a leaf)."""
        return sum(level.nbytes for level in self.levels)

    def proof(self, index: int) -> list[bytes]:
        """Sibling hashes from leaf `index` up to the root."""
        if not 0 <= index < len(self):
            raise IndexError(f"leaf {index} out of range 0..{len(self) - 1}")
        path = []
        for level in self.levels[:-1]:
            sibling = index ^ 1
            if sibling < len(level):
                path.append(level[sibling])
            index //= 2
        return path


def verify(root: bytes, event_hash: bytes, proof: list[bytes]) -> bool:
    node = leaf_hash(event_hash)
    for sibling in proof:
        node = hash_pair(node, sibling)
    return node == root


class TreeCache:
    """The most recently used trees, by root, up to `max_leaves` leaves in all (the tree last
    asked for is kept even if larger alone). Keyed by root (unique on chain), a cached tree can
    never be served for other leaves; a tree rebuilt from stored leaves must give its root.

    Sized by leaves, not trees: 2,000,000 leaves are ~128 MB of nodes, e.g. the trees of twenty
    100,000-code issues, or of two thousand 1,000-event roots."""

    def __init__(self, max_leaves: int = 2_000_000):
        self._trees: OrderedDict[str, MerkleTree] = OrderedDict()
        self._lock = threading.Lock()
        self.max_leaves = max_leaves
        self._leaves = 0

    def peek(self, root: str) -> MerkleTree | None:
        """The tree of `root` if cached, else None (nothing is built)."""
        with self._lock:
            return self._trees.get(root)

    def get(self, root: str, leaves: Callable[[], list[bytes]]) -> MerkleTree:
        """The tree of `root` ("0x..."), built from `leaves()` (event hashes in order) if not cached."""
        with self._lock:
            if root in self._trees:
                self._trees.move_to_end(root)
                return self._trees[root]
        tree = MerkleTree(leaves())
        if "0x" + tree.root.hex() != root:
            raise ValueError(f"the stored leaves do not rebuild the anchored root {root}")
        with self._lock:
            if root not in self._trees:
                self._trees[root] = tree
                self._leaves += len(tree)
            while self._leaves > self.max_leaves and len(self._trees) > 1:
                _, old = self._trees.popitem(last=False)
                self._leaves -= len(old)
        return tree

    @property
    def leaves(self) -> int:
        return self._leaves

    def __len__(self) -> int:
        return len(self._trees)
