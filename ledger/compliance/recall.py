"""A recall drafted from a forward trace: which batches (with their on-chain batch ids and
whether already recalled), which merchants and which orders (named in the trace's
bizTransactionList) are affected, and the calls that execute it (`Provenance.recall(batchId,
reason)`, by the product's merchant, an inspector or an operator), or the same as governance
actions (`recall_batch`, executed by the council's k-of-n approval once the council holds the
inspector role: if it does not yet, the draft's first action admits the Governance contract as
an inspector). A draft changes nothing."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from ledger.store.models import Batch, Order, Product

from .genealogy import Trace


def _order_candidates(trace: Trace) -> set[str]:
    out = set()
    for e in trace.events.values():
        for t in e.get("bizTransactionList") or []:
            v = t.get("bizTransaction") if isinstance(t, dict) else t
            if isinstance(v, str):
                out.add(v.rsplit(":", 1)[-1].rsplit("/", 1)[-1][:64])
    return out


def draft(
    db: Session, trace: Trace, reason: str, recalled: dict[str, bool], council: str, council_may_recall: bool
) -> dict:
    """The draft; `recalled`: batch id -> the chain's recall flag, for the batches it knows;
    `council`: the Governance contract's address, and whether it holds a role that may recall."""
    pairs = sorted(trace.batches)
    gtins = sorted({g for g, _ in pairs})
    chain = {(b.gtin, b.lot): b for b in db.scalars(select(Batch).where(Batch.gtin.in_(gtins)))} if gtins else {}
    owners = (
        dict(db.execute(select(Product.gtin, Product.merchant).where(Product.gtin.in_(gtins))).all()) if gtins else {}
    )
    batches = []
    for g, lot in pairs:
        b = chain.get((g, lot))
        batches.append({"gtin": g, "lot": lot, "merchant": owners.get(g), "batch_id": b.batch_id if b else None,
                        "recalled": recalled.get(b.batch_id) if b else None})  # fmt: skip
    candidates = sorted(_order_candidates(trace))
    orders = list(db.scalars(select(Order).where(Order.order_id.in_(candidates)))) if candidates else []
    return {
        "reason": reason,
        "batches": batches,
        "merchants": sorted({m for m in owners.values() if m}),
        "orders": [{"order_id": o.order_id, "merchant": o.merchant, "status": o.status} for o in orders],
        "shipments": trace.as_json()["shipments"],
        "calls": [
            {"contract": "Provenance", "function": "recall(bytes32,string)", "args": [b["batch_id"], reason]}
            for b in batches
            if b["batch_id"] and not b["recalled"]
        ],
        "governance_actions": _council_actions(batches, reason, council, council_may_recall),
    }


def _council_actions(batches: list[dict], reason: str, council: str, may_recall: bool) -> list[dict]:
    """The proposals (`POST /v1/governance/proposals`, each `{"action", "reason"}`) that execute
    the recall through the council, in order."""
    todo = [{"type": "recall_batch", "batch_id": b["batch_id"], "reason": reason}
            for b in batches if b["batch_id"] and not b["recalled"]]  # fmt: skip
    grant = {"type": "admit_member", "address": council, "roles": ["inspector"]}
    return ([] if may_recall or not todo else [grant]) + todo
