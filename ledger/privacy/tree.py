"""The tree of delivered purchases: commitments come with orders, join the tree once their order
is delivered, are zeroed when it is refunded, and every change is anchored on chain with the
leaves in the log, so that any member recomputes every root (`ledger zk verify`).

Decided (docs/zk.md): a commitment joins at delivery (a claim within the return window needs it
before settlement); a full refund, before or after delivery, makes the purchase unprovable: a
waiting commitment is voided, an anchored leaf is zeroed in the next root, and the contract then
voids every older root. A partial refund leaves the purchase provable (the shopper kept goods)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session as DbSession

from ledger.chain.client import Sender
from ledger.chain.deploy import Deployment
from ledger.errors import Conflict, InvalidInput, NotFound
from ledger.store.models import Order
from ledger.store.purchase_tables import PurchaseCommitment

from . import chunks, node, onchain
from .fields import FIELD

DEPTH = chunks.DEPTH
CAPACITY = 1 << DEPTH
IN_TREE = ("delivered", "disputed", "settled")
#: leaves per anchoring transaction (its log carries them all)
MAX_ANCHOR = 500


def parse_field(value: Any, what: str) -> int:
    try:
        v = int(str(value), 0) if isinstance(value, str) else int(value)
    except (TypeError, ValueError):
        raise InvalidInput(f"{what}: not a number: {str(value)[:80]!r}") from None
    if not 0 < v < FIELD:
        raise InvalidInput(f"{what}: must be a field element, 0 < x < the BN254 scalar field")
    return v


def record_commitment(db: DbSession, order_id: str, batch: int, commitment: Any) -> PurchaseCommitment:
    """The commitment the shopper's browser made at checkout, kept with the still-open order."""
    c = parse_field(commitment, "commitment")
    order = db.get(Order, order_id)
    if order is None:
        raise NotFound(f"no order {order_id}")
    if order.status != "escrowed":
        raise Conflict(f"order {order_id} is {order.status}: a commitment comes with the order, before delivery")
    if db.get(PurchaseCommitment, order_id) is not None:
        raise Conflict(f"order {order_id} already has a purchase commitment")
    row = PurchaseCommitment(
        order_id=order_id, batch=str(batch), commitment=str(c), state="waiting", created_at=datetime.now(UTC)
    )
    db.add(row)
    db.flush()
    return row


def chain_leaves(dep: Deployment) -> list[int]:
    """The tree's leaves replayed from the chain's logs."""
    leaves: list[int] = []
    for a in onchain.anchored(dep):
        leaves.extend(a["leaves"])
        for z in a["zeroed"]:
            leaves[z] = 0
    return leaves


def anchor(db: DbSession, dep: Deployment, operator: Sender) -> dict[str, Any] | None:
    """Add the commitments of delivered orders, zero those of refunded ones, anchor the new root:
    one transaction (at most MAX_ANCHOR new leaves); None when nothing changed. Commits `db`."""
    waiting = (PurchaseCommitment.state == "waiting") & Order.status.in_((*IN_TREE, "refunded"))
    refunded = (PurchaseCommitment.state == "anchored") & (Order.status == "refunded")
    rows = db.execute(
        select(PurchaseCommitment, Order.status)
        .join(Order, Order.order_id == PurchaseCommitment.order_id)
        .where(waiting | refunded)
        .order_by(PurchaseCommitment.created_at, PurchaseCommitment.order_id)
    ).all()
    joining = [r for r, s in rows if r.state == "waiting" and s in IN_TREE][:MAX_ANCHOR]
    zeroing = [r for r, s in rows if r.state == "anchored" and s == "refunded"]
    for r, s in rows:
        if r.state == "waiting" and s == "refunded":
            r.state = "void"
    if not joining and not zeroing:
        db.commit()
        return None
    leaves = chain_leaves(dep)
    first = len(leaves)
    if first + len(joining) > CAPACITY:
        raise Conflict("the tree of delivered purchases is full (2^20 leaves): a new tree is needed")
    new = [int(r.commitment) for r in joining]
    zeroed = sorted(int(r.leaf_index) for r in zeroing)
    leaves.extend(new)
    for z in zeroed:
        leaves[z] = 0
    root = chunks.root(leaves, db)  # only the chunks this anchor changed are hashed again
    c = dep.contract("PurchaseProofs")
    receipt = operator.transact(c.functions.anchor(root, new, zeroed, first))
    tx = receipt["transactionHash"].hex()
    for i, r in enumerate(joining):
        r.state, r.leaf_index, r.anchor_tx = "anchored", first + i, tx
    for r in zeroing:
        r.state, r.anchor_tx = "zeroed", tx
    db.commit()
    return {
        "root": str(root),
        "added": len(new),
        "zeroed": len(zeroed),
        "size": len(leaves),
        "tx": tx,
        "gas": int(receipt["gasUsed"]),
    }


def verify_roots(dep: Deployment) -> list[dict[str, Any]]:
    """Recompute every anchored root from the logs: [{seq, root, expected, ok, revoked}]."""
    anchors = onchain.anchored(dep)
    leaves: list[int] = []
    plan: list[tuple[int, Sequence[int]]] = []
    for a in anchors:
        leaves.extend(a["leaves"])
        plan.append((len(leaves), a["zeroed"]))
    expected = node.roots(leaves, plan) if anchors else []
    c = dep.contract("PurchaseProofs")
    return [
        {
            "seq": a["seq"],
            "root": str(a["root"]),
            "expected": str(e),
            "ok": a["root"] == e,
            "revoked": bool(c.functions.revokedRoot(a["root"]).call()),
        }
        for a, e in zip(anchors, expected, strict=True)
    ]


def latest_root(dep: Deployment) -> int | None:
    c = dep.contract("PurchaseProofs")
    anchors = onchain.anchored(dep)
    for a in reversed(anchors):
        if c.functions.rootValid(a["root"]).call():
            return a["root"]
    return None
