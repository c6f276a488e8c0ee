"""Purchase proofs (issue 28), on a fresh deployment with the circuit `make zk` built:

- zk.proof_node_p50_s / p95: a Groth16 proof with snarkjs on Node (witness and proof, timed in the
  Node process), over a tree of ANCHOR_BATCH leaves; zk.proof_node_cli_p50_s: the same as Python
  asks for it (two Node processes: the Merkle path, then the proof);
- zk.proof_browser_p50_s / p95: the same proof in Debian's chromium (bench/zk_browser.mjs);
- zk.verify_gas: the generated verifier's gas for one proof (absolute; budget 260,000), and
  zk.review_tx_gas: a whole verified-buyer review transaction;
- zk.commitment_gas_per_leaf: what a purchase's commitment costs on top of its delivery (budget
  8,505: delivery stays within 20,000 gas an order in batches of 500, 11,495 without it): the
  carrier vouching for ANCHOR_BATCH commitments in one transaction (zk.vouch_gas_per_leaf) and the
  operator anchoring them in one (zk.anchor_gas_per_leaf);
- zk.reviews_per_s: ready proofs through the contract (simulated, then sent), one after another;
- zk.roots_per_s: anchored roots recomputed from the logs per second (`ledger zk verify`).
"""

from __future__ import annotations

import json
import os
import shutil
import statistics
import subprocess
import time
from pathlib import Path

from ledger.paths import ROOT
from ledger.privacy import build, fields, node, onchain, tree

from .fresh import fresh_deployment

ANCHOR_BATCH = 500
PROOFS = 5
BUDGETS = {"zk.verify_gas": 260_000, "zk.commitment_gas_per_leaf": 8_505}
TARGETS: dict[str, float] = {}
INFO_BUDGETS = {"zk.proof_node_p95_s": 2.0, "zk.proof_browser_p95_s": 2.0}


def _p(values: list[float], q: float) -> float:
    s = sorted(values)
    return round(s[min(len(s) - 1, int(q * len(s)))], 3)


def _browser(inputs: list[dict]) -> list[float]:
    chromium = shutil.which("chromium") or "/usr/bin/chromium"
    m = build.build()
    req = {
        "inputs": inputs,
        "wasm": str(build.BUILD / m["files"]["wasm"]),
        "zkey": str(build.BUILD / m["files"]["zkey"]),
    }
    out = subprocess.run(
        ["node", str(ROOT / "bench" / "zk_browser.mjs")], input=json.dumps(req), capture_output=True, text=True,
        timeout=900, cwd=ROOT, env={**os.environ, "CHROMIUM": chromium}, check=True,
    )  # fmt: skip
    return json.loads(out.stdout)["seconds"]


def measure(url: str, manifest: Path) -> dict[str, float]:
    build.build()
    _, dep, _, who = fresh_deployment(url, manifest)
    platform, carrier = who["platform"], who["logistics"]
    onchain.deploy(dep, platform, manifest)
    c = dep.contract("PurchaseProofs")
    batch = fields.batch_id("06901234567892", "BENCH")
    secrets = [int.from_bytes(os.urandom(31), "big") for _ in range(ANCHOR_BATCH)]
    leaves = [node.commitment(x, batch) for x in secrets[:PROOFS]]
    leaves += [int.from_bytes(os.urandom(31), "big") for _ in range(ANCHOR_BATCH - PROOFS)]  # other shoppers'
    root = node.root(leaves)
    vouch_per_leaf = carrier.transact(c.functions.vouch(leaves))["gasUsed"] / ANCHOR_BATCH
    receipt = platform.transact(c.functions.anchor(root, leaves, [], 0))
    per_leaf = receipt["gasUsed"] / ANCHOR_BATCH
    proofs, seconds, cli, inputs, here = [], [], [], [], onchain.domain(dep)
    for i in range(PROOFS):
        msg = fields.review_message(here, 5, fields.text_hash(f"review {i}"))
        t0 = time.perf_counter()
        p = node.prove(secrets[i], batch, 1, msg, leaves, i)
        cli.append(time.perf_counter() - t0)
        seconds.append(p["seconds"])
        proofs.append((p, msg, i))
        path = node.path(leaves, i)
        inputs.append({"root": path["root"], "batch": str(batch), "purpose": "1", "message": str(msg),
                       "secret": str(secrets[i]), "pathElements": path["pathElements"],
                       "pathIndices": path["pathIndices"]})  # fmt: skip
    w = node.solidity_proof(proofs[0][0]["proof"])
    pub = [int(x) for x in proofs[0][0]["publicSignals"]]
    verify_gas = onchain.verifier_gas(dep, w, pub)["verify"]
    t0 = time.perf_counter()
    gas = []
    for p, _, i in proofs:
        pub = [int(x) for x in p["publicSignals"]]
        fn = c.functions.review(
            node.solidity_proof(p["proof"]), pub[1], batch, pub[0], 5, fields.text_hash(f"review {i}")
        )
        gas.append(onchain.send(dep, platform, fn)["gasUsed"])
    reviews_per_s = PROOFS / (time.perf_counter() - t0)
    for _ in range(9):  # more anchors to recompute
        extra = [int.from_bytes(os.urandom(31), "big") for _ in range(50)]
        leaves += extra
        carrier.transact(c.functions.vouch(extra))
        platform.transact(c.functions.anchor(node.root(leaves), extra, [], len(leaves) - len(extra)))
    t0 = time.perf_counter()
    checked = tree.verify_roots(dep)
    assert all(r["ok"] for r in checked)
    roots_per_s = len(checked) / (time.perf_counter() - t0)
    browser = _browser(inputs[:3])
    return {
        "zk.proof_node_p50_s": _p(seconds, 0.5),
        "zk.proof_node_p95_s": _p(seconds, 0.95),
        "zk.proof_node_cli_p50_s": _p(cli, 0.5),
        "zk.proof_browser_p50_s": _p(browser, 0.5),
        "zk.proof_browser_p95_s": _p(browser, 0.95),
        "zk.verify_gas": verify_gas,
        "zk.review_tx_gas": int(statistics.median(gas)),
        "zk.anchor_gas_per_leaf": round(per_leaf, 1),
        "zk.vouch_gas_per_leaf": round(vouch_per_leaf, 1),
        "zk.commitment_gas_per_leaf": round(per_leaf + vouch_per_leaf, 1),
        "zk.reviews_per_s": round(reviews_per_s, 2),
        "zk.roots_per_s": round(roots_per_s, 2),
    }
