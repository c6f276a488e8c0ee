"""circomlib's Poseidon over BN254's scalar field, in Python, for the one hash the platform computes
per order: a purchase's leaf Poseidon(holder, batch) from the batch the order is for (docs/zk.md).
The constants are circomlibjs's own file (`node_modules/circomlibjs/src/poseidon_constants.json`,
the circuit's); the rounds follow its reference implementation (`poseidon_reference.js`). Tests
check it against circomlibjs on Node for random inputs. Trees are still hashed on Node
(`node.py`, `chunks.py`): thousands of hashes a second need more than Python's big integers."""

from __future__ import annotations

import json
from collections.abc import Sequence
from functools import cache

from ledger.paths import node_modules

from .fields import FIELD

CONSTANTS = node_modules() / "circomlibjs" / "src" / "poseidon_constants.json"
FULL_ROUNDS = 8
PARTIAL_ROUNDS = (56, 57, 56, 60, 60, 63, 64, 63, 60, 66, 60, 65, 70, 60, 64, 68)


@cache
def _constants(t: int) -> tuple[tuple[int, ...], tuple[tuple[int, ...], ...]]:
    raw = json.loads(CONSTANTS.read_text())
    c = tuple(int(x, 0) for x in raw["C"][t - 2])
    m = tuple(tuple(int(x, 0) for x in row) for row in raw["M"][t - 2])
    return c, m


def hash(inputs: Sequence[int]) -> int:  # noqa: A001 - the primitive's own name
    """Poseidon of 1 to 16 field elements, as circomlib's `Poseidon(n)` template computes it."""
    if not 0 < len(inputs) <= len(PARTIAL_ROUNDS):
        raise ValueError(f"Poseidon takes 1 to {len(PARTIAL_ROUNDS)} inputs, not {len(inputs)}")
    if any(not 0 <= int(x) < FIELD for x in inputs):
        raise ValueError("a Poseidon input outside the field")
    t = len(inputs) + 1
    c, m = _constants(t)
    partial = PARTIAL_ROUNDS[t - 2]
    p = FIELD
    state = [0, *(int(x) for x in inputs)]
    for r in range(FULL_ROUNDS + partial):
        state = [(a + c[r * t + i]) % p for i, a in enumerate(state)]
        if r < FULL_ROUNDS // 2 or r >= FULL_ROUNDS // 2 + partial:
            state = [pow(a, 5, p) for a in state]
        else:
            state[0] = pow(state[0], 5, p)
        state = [sum(mi[j] * a for j, a in enumerate(state)) % p for mi in m]
    return state[0]


def holder(secret: int) -> int:
    """What a shopper's browser hands the checkout: Poseidon(secret). The secret stays with it."""
    return hash([secret])


def leaf(holder_: int, batch: int) -> int:
    """A purchase's leaf, the commitment the tree holds: Poseidon(holder, batch), the batch the
    platform's order is for (not the shopper's word)."""
    return hash([holder_, batch])
