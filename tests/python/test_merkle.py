"""Merkle trees: every proof verifies, nothing else does (property tests)."""

from eth_utils import keccak
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger.merkle import MerkleTree, leaf_hash, verify

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
