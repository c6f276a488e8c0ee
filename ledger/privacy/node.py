"""Python's way to Poseidon and snarkjs: `tools/zk.mjs` on Node, one JSON request per call (no
re-implementation here). Field elements are ints on this side, decimal strings on the wire."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Sequence
from typing import Any

from ledger.errors import LedgerError
from ledger.paths import ROOT

from .build import BUILD, build

SCRIPT = ROOT / "tools" / "zk.mjs"


class ProverFailed(LedgerError):
    pass


def call(command: str, request: dict[str, Any], timeout: float = 300) -> dict[str, Any]:
    done = subprocess.run(
        ["node", str(SCRIPT), command],
        input=json.dumps(request),
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=ROOT,
        check=False,
    )
    if done.returncode != 0:
        raise ProverFailed(f"zk {command}: {done.stderr.strip()[-500:]}")
    return json.loads(done.stdout)


def _dec(values: Sequence[int]) -> list[str]:
    return [str(int(v)) for v in values]


def root(leaves: Sequence[int]) -> int:
    """The depth-20 Poseidon Merkle root of `leaves` (the rest zero)."""
    return int(call("root", {"leaves": _dec(leaves)})["root"])


def roots(leaves: Sequence[int], anchors: Sequence[tuple[int, Sequence[int]]]) -> list[int]:
    """The root after each anchor (size of the tree then, leaves it zeroed), replayed in order."""
    req = {"leaves": _dec(leaves), "anchors": [{"size": s, "zeroed": list(z)} for s, z in anchors]}
    return [int(r) for r in call("roots", req, timeout=900)["roots"]]


def commitment(secret: int, batch: int) -> int:
    return int(call("commit", {"secret": str(secret), "batch": str(batch)})["commitment"])


def path(leaves: Sequence[int], index: int) -> dict[str, Any]:
    return call("path", {"leaves": _dec(leaves), "index": index})


def prove(secret: int, batch: int, purpose: int, message: int, leaves: Sequence[int], index: int) -> dict[str, Any]:
    """A Groth16 proof that the shopper holding `secret` owns leaf `index` of the tree of `leaves`:
    {"proof", "publicSignals": [nullifier, root, batch, purpose, message], "seconds"}."""
    m = build()
    p = path(leaves, index)
    inp = {
        "root": p["root"],
        "batch": str(batch),
        "purpose": str(purpose),
        "message": str(message),
        "secret": str(secret),
        "pathElements": p["pathElements"],
        "pathIndices": p["pathIndices"],
    }
    files = m["files"]
    return call("prove", {"input": inp, "wasm": str(BUILD / files["wasm"]), "zkey": str(BUILD / files["zkey"])})


def verify(proof: dict[str, Any], public_signals: Sequence[str]) -> bool:
    """snarkjs's own check of a proof, off chain."""
    m = build()
    req = {"vkey": str(BUILD / m["files"]["vkey"]), "proof": proof, "publicSignals": list(public_signals)}
    return bool(call("verify", req)["ok"])


def solidity_proof(proof: dict[str, Any]) -> list[int]:
    """snarkjs's proof as the contract's uint256[8]: a, b (each pair swapped: EIP-197 order), c."""
    a, b, c = proof["pi_a"], proof["pi_b"], proof["pi_c"]
    return [int(x) for x in (a[0], a[1], b[0][1], b[0][0], b[1][1], b[1][0], c[0], c[1])]
