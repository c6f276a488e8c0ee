"""Roots the anchoring key put on chain that the database does not know (the process died after
sending, or the write timed out while the node was down and was mined later): found in the
`RootAnchored` logs of the last `ADOPT_BLOCKS` blocks and attached to the pending events they
name, so that no event is anchored twice. See `anchoring`'s docstring for the whole rule.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime

from sqlalchemy import bindparam, func, select, update
from sqlalchemy.orm import Session

from ledger.chain.deploy import Deployment
from ledger.store.bulk import execute_many
from ledger.store.locks import one_writer
from ledger.store.models import EpcisAnchor, EpcisEvent
from ledger.trace.merkle import MerkleTree

log = logging.getLogger(__name__)

#: how far back (blocks) an anchorer looks for roots its key anchored without a row
ADOPT_BLOCKS = 5000
_reported: set[str] = set()


def _span(uri: str) -> tuple[int, int] | None:
    parts = uri.removeprefix("epcis:events/").split("-")
    if not uri.startswith("epcis:events/") or len(parts) != 2 or not all(p.isascii() and p.isdigit() for p in parts):
        return None
    return int(parts[0]), int(parts[1])


def adopt_orphans(db: Session, dep: Deployment, submitter: str) -> list[EpcisAnchor]:
    """Attach roots `submitter` anchored recently that have no row; return the anchors made."""
    head = dep.w3.eth.block_number
    start = max(int(dep.manifest["deployed_at_block"]), head - ADOPT_BLOCKS)
    entries = (
        dep.contract("Provenance")
        .events.RootAnchored()
        .get_logs(from_block=start, to_block=head, argument_filters={"submitter": submitter})
    )
    known = set(db.scalars(select(EpcisAnchor.root).where(EpcisAnchor.block_number >= start)))
    adopted = []
    for e in entries:
        root, span = "0x" + bytes(e["args"]["root"]).hex(), _span(e["args"]["uri"])
        if root in known or span is None or root in _reported:
            continue
        rows = db.execute(
            select(EpcisEvent.id, EpcisEvent.digest)
            .where(EpcisEvent.anchor_id.is_(None), EpcisEvent.id.between(*span))
            .order_by(EpcisEvent.id)
        ).all()
        leaves = [bytes.fromhex(r.digest[2:]) for r in rows]
        if len(rows) != e["args"]["leafCount"] or MerkleTree(leaves).root.hex() != root[2:]:
            _reported.add(root)
            log.error("root %s on chain names events %s that are not pending as it says; left alone", root, span)
            continue
        anchor = EpcisAnchor(
            root=root,
            leaf_count=len(rows),
            tx_hash="0x" + bytes(e["transactionHash"]).hex(),
            block_number=e["blockNumber"],
            submitter=submitter,
            anchored_at=datetime.now(UTC),
        )
        if not attach(db, anchor, rows):
            continue
        log.warning("adopted root %s (%d events) anchored before its row was written", root, len(rows))
        adopted.append(anchor)
    return adopted


def attach(db: Session, anchor: EpcisAnchor, rows: list) -> bool:
    """Store `anchor` and give it `rows` (pending events, in leaf order), committed; False, and
    nothing kept, if another anchorer took any of them meanwhile. Written in the queue of the
    store's writers (`one_writer`: the captures'), not in SQLite's busy handler."""
    events = EpcisEvent.__table__
    with one_writer(db):
        db.add(anchor)
        db.flush()
        execute_many(
            db,
            update(events)
            .where(events.c.id == bindparam("eid"), events.c.anchor_id.is_(None))
            .values(anchor_id=anchor.id, leaf_index=bindparam("idx")),
            [{"eid": r.id, "idx": i} for i, r in enumerate(rows)],
        )
        if db.scalar(select(func.count()).select_from(events).where(events.c.anchor_id == anchor.id)) != len(rows):
            db.rollback()
            return False
        db.commit()
        return True
