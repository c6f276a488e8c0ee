"""Reading reconciliation runs: a run as JSON, its breaks (filtered), a break's history, what was
open at a moment, the breaks as CSV, and the open breaks by class over the runs (the chart of the
run's report, which the web layer renders from a template: `api/money/report_pages.py`)."""

from __future__ import annotations

import csv
import io
import json
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ledger import csv_cells
from ledger.clock import as_utc, utcnow
from ledger.money.recon.signoff import sign_off_out
from ledger.store.models import ReconBreak, ReconBreakEvent, ReconRun
from ledger.store.recon_tables import ReconSignOff


def _iso(t: datetime | None) -> str | None:
    return as_utc(t).isoformat() if t else None


def break_out(b: ReconBreak, now: datetime | None = None) -> dict[str, Any]:
    end = as_utc(b.resolved_at) if b.resolved_at else now or utcnow()
    return {
        "id": b.id, "rule": b.rule, "class": b.cls, "priority": f"P{b.priority}", "status": b.status,
        "order_id": b.order_id, "subject": b.subject, "merchant": b.merchant, "amount_fen": b.amount_fen,
        "detail": b.detail, "first_run": b.first_run, "last_run": b.last_run,
        "first_seen_at": _iso(b.first_seen_at), "resolved_at": _iso(b.resolved_at),
        "age_s": int((end - as_utc(b.first_seen_at)).total_seconds()),
    }  # fmt: skip


def run_out(db: Session, r: ReconRun) -> dict[str, Any]:
    counts = dict(
        db.execute(
            select(ReconBreakEvent.status, func.count())
            .where(ReconBreakEvent.run_id == r.id)
            .group_by(ReconBreakEvent.status)
        ).all()
    )
    return {
        "id": r.id, "previous_id": r.previous_id, "cut_off_block": r.cut_off_block, "cut_off_hash": r.cut_off_hash,
        "inputs_sha256": r.inputs_sha256, "verdict": r.verdict, "source": r.source,
        "reasons": json.loads(r.reasons), "totals": json.loads(r.totals), "balances": json.loads(r.balances),
        "pending": json.loads(r.pending), "ageing": json.loads(r.ageing),
        "breaks": {s: counts.get(s, 0) for s in ("new", "persisting", "resolved")},
        "created_at": _iso(r.created_at), "signed_off": sign_off_out(db.get(ReconSignOff, r.id)),
    }  # fmt: skip


def breaks_of_run(db: Session, run_id: int, cls: str | None = None, priority: int | None = None,
                  status: str | None = None) -> list[ReconBreak]:  # fmt: skip
    q = (
        select(ReconBreak)
        .join(ReconBreakEvent, ReconBreakEvent.break_id == ReconBreak.id)
        .where(ReconBreakEvent.run_id == run_id)
    )
    if cls:
        q = q.where(ReconBreakEvent.cls == cls)
    if priority:
        q = q.where(ReconBreak.priority == priority)
    if status:
        q = q.where(ReconBreakEvent.status == status)
    return list(db.scalars(q.order_by(ReconBreak.priority, ReconBreak.id)))


def open_at(db: Session, at: datetime) -> list[ReconBreak]:
    """Breaks open at `at`: first seen by then, not resolved by then."""
    q = select(ReconBreak).where(ReconBreak.first_seen_at <= at)
    return [
        b
        for b in db.scalars(q.order_by(ReconBreak.priority, ReconBreak.id))
        if not b.resolved_at or as_utc(b.resolved_at) > at
    ]


def history(db: Session, break_id: str) -> list[dict[str, Any]]:
    q = select(ReconBreakEvent).where(ReconBreakEvent.break_id == break_id).order_by(ReconBreakEvent.id)
    return [
        {"run": e.run_id, "status": e.status, "class": e.cls, "detail": e.detail, "at": _iso(e.at)}
        for e in db.scalars(q)
    ]


def breaks_csv(rows: list[ReconBreak]) -> str:
    out = io.StringIO()
    cols = ["id", "priority", "class", "status", "order_id", "subject", "merchant", "amount_fen", "age_s", "detail"]
    w = csv.DictWriter(out, fieldnames=cols, lineterminator="\n", extrasaction="ignore")
    w.writeheader()
    now = utcnow()
    for b in rows:
        w.writerow(csv_cells.cells(break_out(b, now)))
    return out.getvalue()


def open_by_class(db: Session, upto: int, last: int = 20) -> list[tuple[int, dict[str, int]]]:
    """The last `last` runs up to `upto`, oldest first, each with its open breaks counted by class
    (for the report's chart)."""
    q = select(ReconRun.id).where(ReconRun.id <= upto).order_by(ReconRun.id.desc()).limit(last)
    runs = list(db.scalars(q))[::-1]
    counts: dict[int, dict[str, int]] = {r: {} for r in runs}
    for run_id, cls, n in db.execute(
        select(ReconBreakEvent.run_id, ReconBreakEvent.cls, func.count())
        .where(ReconBreakEvent.run_id.in_(runs), ReconBreakEvent.status != "resolved")
        .group_by(ReconBreakEvent.run_id, ReconBreakEvent.cls)
    ):
        counts[run_id][cls] = n
    return [(r, counts[r]) for r in runs]
