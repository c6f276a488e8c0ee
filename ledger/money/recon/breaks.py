"""The breaks a reconciliation run finds and their lifecycle across runs (see `runs`): a
stable id (the order key, or the contract, and the rule broken), a priority, and a status moved
by each complete run: `new`, `persisting`, `resolved` (only by a run whose cut-off covers where
the break was last seen); a break's first-seen time never resets."""

from __future__ import annotations

import hashlib
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from ledger.store.models import ReconBreak, ReconBreakEvent, ReconRun

PRIORITY = {
    "unexplained_balance": 1,
    "unknown_on_chain": 1,
    "amount_mismatch": 1,
    "missing_on_chain": 2,
    "merchant_mismatch": 2,
    "status_mismatch": 3,
    "duplicate": 4,
}
RULE = {
    "unexplained_balance": "balance_explained",
    "unknown_on_chain": "order_exists",
    "amount_mismatch": "amount_agrees",
    "missing_on_chain": "escrow_exists",
    "merchant_mismatch": "merchant_agrees",
    "status_mismatch": "status_agrees",
    "duplicate": "order_id_unique",
}


def break_id(subject: str, rule: str) -> str:
    return hashlib.sha256(f"{subject.lower()}|{rule}".encode()).hexdigest()[:24]


def of_row(r: dict[str, Any]) -> dict[str, Any]:
    cls = r["class"]
    subject = r["order_key"] if cls != "duplicate" else f"{r['order_key']}#{r['order_id']}"
    detail = r.get("detail") or {
        "missing_on_chain": "no escrow on chain for this order",
        "duplicate": "the order id appears more than once in the orders",
    }.get(cls, cls)
    return {
        "id": break_id(subject, RULE[cls]),
        "rule": RULE[cls],
        "cls": cls,
        "priority": PRIORITY[cls],
        "order_id": r.get("order_id"),
        "subject": r["order_key"],
        "merchant": r.get("merchant"),
        "amount_fen": int(r.get("order_amount_fen") or r.get("chain_amount_fen") or 0),
        "detail": detail,
    }


def of_balance(s: dict[str, Any]) -> dict[str, Any]:
    moves = "; ".join(f"{d} {k} {v}" for d in ("in", "out") for k, v in s[d].items())
    return {
        "id": break_id(s["address"] + ("#supply" if "supply" in s["contract"] else ""), "balance_explained"),
        "rule": "balance_explained",
        "cls": "unexplained_balance",
        "priority": 1,
        "order_id": None,
        "subject": s["address"],
        "merchant": None,
        "amount_fen": abs(s["difference_fen"]),
        "detail": f"{s['contract']} holds {s['actual_fen']} fen; indexed events explain {s['expected_fen']} "
        f"({moves}): {s['difference_fen']:+d} fen moved with no event of ours behind it",
    }


def move(db: Session, run_row: ReconRun, found: list[dict[str, Any]], now: datetime) -> None:
    """Move breaks along their lifecycle after a complete run. A break seen keeps its first run and
    first-seen time for ever (one seen again after being resolved is `new` again, as old as it
    was); a break not seen is resolved only by a run that covers what made it: its cut-off at or
    after the highest cut-off any run saw the break at. A run with an earlier cut-off says nothing
    about it."""
    seen = set()
    cut = run_row.cut_off_block
    for b in found:
        if b["id"] in seen:
            continue
        seen.add(b["id"])
        row = db.get(ReconBreak, b["id"])
        if row is None:
            row = ReconBreak(id=b["id"], first_run=run_row.id, first_seen_at=now, seen_to_block=cut)
            db.add(row)
        status = "new" if row.status in (None, "resolved") else "persisting"
        for k in ("rule", "cls", "priority", "order_id", "subject", "merchant", "amount_fen", "detail"):
            setattr(row, k, b[k])
        row.status, row.last_run, row.resolved_at = status, run_row.id, None
        row.seen_to_block = max(cut, row.seen_to_block or 0)
        db.add(
            ReconBreakEvent(
                break_id=b["id"], run_id=run_row.id, status=status, cls=b["cls"], detail=b["detail"], at=now
            )
        )
    source = select(ReconRun.source).where(ReconRun.id == ReconBreak.last_run).scalar_subquery()
    open_here = select(ReconBreak).where(
        ReconBreak.status != "resolved", source == run_row.source, ReconBreak.seen_to_block <= cut
    )
    for row in db.scalars(open_here):
        if row.id not in seen:
            row.status, row.resolved_at, row.last_run = "resolved", now, run_row.id
            gone = ReconBreakEvent(
                break_id=row.id, run_id=run_row.id, status="resolved", cls=row.cls, detail="not seen", at=now
            )
            db.add(gone)
