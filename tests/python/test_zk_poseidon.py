"""The platform's Poseidon (Python, `ledger.privacy.poseidon`) is the circuit's: circomlibjs's on
Node gives the same holder, leaf and Merkle root for random inputs."""

from __future__ import annotations

import os

import pytest

from ledger.privacy import fields, node, poseidon


def _random() -> int:
    return int.from_bytes(os.urandom(32), "big") % fields.FIELD


def test_holder_and_leaf_are_circomlibs():
    for _ in range(4):
        secret, batch = _random(), fields.batch_id("0690123456789" + str(_random() % 10), str(_random()))
        got = node.call("commit", {"secret": str(secret), "batch": str(batch)})
        assert (int(got["holder"]), int(got["commitment"])) == (
            poseidon.holder(secret),
            poseidon.leaf(poseidon.holder(secret), batch),
        )


def test_a_merkle_root_of_two_leaves_is_circomlibs():
    leaves = [_random(), _random()]
    node_ = poseidon.hash(leaves)
    zero = 0
    for _ in range(1, 20):
        zero = poseidon.hash([zero, zero])
        node_ = poseidon.hash([node_, zero])
    assert node_ == node.root(leaves)


def test_inputs_outside_the_field_or_too_many_are_refused():
    for bad in ([], [fields.FIELD], [-1], [1] * 17):
        with pytest.raises(ValueError):
            poseidon.hash(bad)
