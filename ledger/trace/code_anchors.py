"""Code issues whose anchoring transaction's outcome was not known when their request ended.

An issue and its codes are stored before the root is sent (`anchor_tx` null). If the request
ends without a receipt (the node stopped answering within the write timeout, the process died),
the chain later tells what happened: the root is anchored (the issue is completed from the
`RootAnchored` log), or it is not and the merchant's key has nothing pending, so it never will
be (the issue and its codes are removed: no code was handed out, since the request failed). Until
then such codes are not genuine to a scan. `catch_up` runs in the background with the anchorer.

An issue whose anchor the merchant signs itself (`X-Ledger-Sign: self`) waits the same way while
its prepared transaction can still be submitted (PREPARED_TTL_S); after that, unless the root is
on chain, it is removed like any other. A merchant holds at most so many issues and codes
waiting (`pending`; the API answers 429 beyond).
"""

from __future__ import annotations

import logging
from datetime import timedelta

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from ledger.chain.deploy import Deployment
from ledger.clock import as_utc, utcnow
from ledger.store.models import PREPARED_TTL_S, Code, CodeIssue, PreparedTransaction

log = logging.getLogger(__name__)


def pending(db: Session, merchant: str) -> tuple[int, int, float]:
    """A merchant's issues drawn and not anchored that may still be (prepared within
    PREPARED_TTL_S, or in flight): (issues, codes, seconds until the oldest of them lapses). Each
    holds its codes in the database until anchored or removed, so a merchant may hold only so many."""
    now = utcnow()
    since = now - timedelta(seconds=PREPARED_TTL_S)
    n, codes, oldest = db.execute(
        select(func.count(), func.coalesce(func.sum(CodeIssue.count), 0), func.min(CodeIssue.created_at)).where(
            CodeIssue.merchant == merchant, CodeIssue.anchor_tx.is_(None), CodeIssue.created_at > since
        )
    ).one()
    wait = (as_utc(oldest) - since).total_seconds() if oldest is not None else 0.0
    return int(n), int(codes), max(1.0, wait)


def undo(db: Session, issue_id: int) -> None:
    """Remove an issue whose root was refused or never sent."""
    db.rollback()
    db.execute(delete(Code).where(Code.issue_id == issue_id))
    db.execute(delete(CodeIssue).where(CodeIssue.id == issue_id, CodeIssue.anchor_tx.is_(None)))
    db.commit()


def catch_up(db: Session, dep: Deployment, older_than_s: float) -> tuple[int, int]:
    """Complete or undo issues left without an anchor for longer than `older_than_s`; returns
    (completed, undone)."""
    cutoff = utcnow() - timedelta(seconds=older_than_s)
    waiting = db.scalars(select(CodeIssue).where(CodeIssue.anchor_tx.is_(None), CodeIssue.created_at < cutoff)).all()
    prov, w3 = dep.contract("Provenance"), dep.w3
    done = undone = 0
    for issue in waiting:
        root = bytes.fromhex(issue.root[2:])
        entries = prov.events.RootAnchored().get_logs(
            from_block=int(dep.manifest["deployed_at_block"]), argument_filters={"root": root}
        )
        if entries:
            issue.anchor_tx = "0x" + bytes(entries[0]["transactionHash"]).hex()
            issue.block_number = entries[0]["blockNumber"]
            db.commit()
            done += 1
            log.warning("code issue %d: completed from the chain (root %s)", issue.id, issue.root)
        elif _awaiting_signature(db, issue):
            continue
        elif w3.eth.get_transaction_count(issue.merchant, "pending") == w3.eth.get_transaction_count(
            issue.merchant, "latest"
        ):
            undo(db, issue.id)
            undone += 1
            log.warning("code issue %d: its root never reached the chain; removed", issue.id)
    return done, undone


def _awaiting_signature(db: Session, issue: CodeIssue) -> bool:
    """A prepared anchor of this issue's root that its merchant may still sign and submit."""
    since = utcnow() - timedelta(seconds=PREPARED_TTL_S)
    found = db.scalar(
        select(PreparedTransaction.id)
        .where(
            PreparedTransaction.member == issue.merchant,
            PreparedTransaction.submitted_at.is_(None),
            PreparedTransaction.created_at > since,
            PreparedTransaction.tx.contains(issue.root[2:]),
        )
        .limit(1)
    )
    return found is not None
