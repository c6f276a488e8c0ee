"""The tree's roots as members check them: every anchored root recomputed from the logs (right or
wrong, revoked or not), an auditor's confirmation of the right ones, the latest valid root.

Recomputing replays every anchor's leaves through Poseidon on Node (seconds, minutes for a large
tree), and a root's rightness never changes once its logs are final: the result is kept per
contract and recomputed only when the chain's anchors changed (their count and `anchoredHash`, the
contract's running hash of what was anchored), so a governor's page or an auditor's check does not
replay the tree each time. Whether a root is revoked is read each time."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import Any

from ledger.chain.client import Sender
from ledger.chain.deploy import Deployment

from . import node, onchain

_RECOMPUTED: dict[str, tuple[tuple[int, bytes], list[dict[str, Any]]]] = {}
_LOCK = threading.Lock()  # one replay at a time; callers meanwhile wait for its result


def confirm_roots(dep: Deployment, auditor: Sender) -> dict[str, list[str]]:
    """An auditor's check: every root recomputed from the logs; each valid one found right and not
    yet confirmed is confirmed on chain with the auditor's key (claims and disputes pay only on
    those); a wrong one is never confirmed, and listed."""
    c = dep.contract("PurchaseProofs")
    out: dict[str, list[str]] = {"confirmed": [], "wrong": []}
    for r in verify_roots(dep):
        root = int(r["root"])
        if not r["ok"]:
            out["wrong"].append(r["root"])
        elif c.functions.rootValid(root).call() and not c.functions.confirmedAt(root).call():
            auditor.transact(c.functions.confirmRoot(root))
            out["confirmed"].append(r["root"])
    return out


def _recomputed(dep: Deployment) -> list[dict[str, Any]]:
    c = dep.contract("PurchaseProofs")
    state = (int(c.functions.anchors().call()), bytes(c.functions.anchoredHash().call()))
    with _LOCK:
        hit = _RECOMPUTED.get(c.address)
        if hit is not None and hit[0] == state and c.functions.rootSeq(int(hit[1][-1]["root"])).call() == state[0]:
            return hit[1]  # the same anchors, and its last root still the last one (not reorged away)
        anchors = onchain.anchored(dep)
        leaves: list[int] = []
        plan: list[tuple[int, Sequence[int]]] = []
        for a in anchors:
            leaves.extend(a["leaves"])
            plan.append((len(leaves), a["zeroed"]))
        expected = node.roots(leaves, plan) if anchors else []
        rows = [
            {"seq": a["seq"], "root": str(a["root"]), "expected": str(e), "ok": a["root"] == e}
            for a, e in zip(anchors, expected, strict=True)
        ]
        if rows and len(rows) == state[0]:  # the logs read are the anchors counted (not a block behind)
            _RECOMPUTED[c.address] = (state, rows)
        return rows


def verify_roots(dep: Deployment) -> list[dict[str, Any]]:
    """Every anchored root recomputed from the logs: [{seq, root, expected, ok, revoked}]."""
    c = dep.contract("PurchaseProofs")
    return [r | {"revoked": bool(c.functions.revokedRoot(int(r["root"])).call())} for r in _recomputed(dep)]


def latest_root(dep: Deployment) -> int | None:
    c = dep.contract("PurchaseProofs")
    anchors = onchain.anchored(dep)
    for a in reversed(anchors):
        if c.functions.rootValid(a["root"]).call():
            return a["root"]
    return None
