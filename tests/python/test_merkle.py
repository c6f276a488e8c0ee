"""Merkle trees: every proof verifies, nothing else does (property tests)."""

import pytest
from eth_utils import keccak
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger.trace.merkle import MerkleTree, TreeCache, leaf_hash, verify

hashes = st.lists(st.binary(min_size=32, max_size=32), min_size=1, max_size=70, unique=True)


@given(hashes, st.data())
@settings(max_examples=200, deadline=None)
def test_every_leaf_proves_and_others_do_not(leaves, data):
    tree = MerkleTree(leaves)
    i = data.draw(st.integers(0, len(leaves) - 1))
    proof = tree.proof(i)
    assert verify(tree.root, leaves[i], proof)
    assert len(proof) <= max(1, (len(leaves) - 1).bit_length())
    outsider = keccak(b"x" + leaves[i])
    if outsider not in leaves:
        assert not verify(tree.root, outsider, proof)


def test_single_leaf_root_is_its_leaf_hash():
    h = keccak(text="only")
    assert MerkleTree([h]).root == leaf_hash(h) and MerkleTree([h]).proof(0) == []


def test_inner_node_cannot_pass_for_a_leaf():
    leaves = [keccak(text=str(i)) for i in range(4)]
    tree = MerkleTree(leaves)
    inner = tree.levels[1][0]
    assert not verify(tree.root, inner, [tree.levels[1][1]])


def test_levels_hold_nodes_end_to_end():
    leaves = [keccak(text=str(i)) for i in range(5)]
    tree = MerkleTree(leaves)
    assert [len(level) for level in tree.levels] == [5, 3, 2, 1]
    assert tree.levels[0][-1] == tree.levels[0][4] == leaf_hash(leaves[4])
    assert tree.nbytes == 32 * 11
    with pytest.raises(IndexError):
        tree.levels[1][3]


def test_tree_cache_keeps_recent_trees_up_to_its_leaves():
    def leaves(tag: str, n: int) -> list[bytes]:
        return [keccak(text=f"{tag}{i}") for i in range(n)]

    roots = {t: "0x" + MerkleTree(leaves(t, n)).root.hex() for t, n in (("a", 40), ("b", 40), ("c", 30), ("big", 150))}
    cache, built = TreeCache(max_leaves=100), []

    def get(tag, n):
        return cache.get(roots[tag], lambda: built.append(tag) or leaves(tag, n))

    get("a", 40), get("b", 40), get("a", 40)  # a is now the most recent
    assert built == ["a", "b"] and cache.leaves == 80
    get("c", 30)  # 110 > 100: the least recently used (b) goes
    assert cache.peek(roots["b"]) is None and cache.peek(roots["a"]) and cache.leaves == 70
    get("big", 150)  # larger than the budget alone: kept, everything else goes
    assert len(cache) == 1 and cache.peek(roots["big"]) and cache.leaves == 150
    with pytest.raises(ValueError, match="do not rebuild"):
        cache.get(roots["a"], lambda: leaves("b", 40))
    assert cache.peek(roots["a"]) is None
