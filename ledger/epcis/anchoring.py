"""Batch captured events into Merkle roots anchored on chain (`Provenance.anchor`).

Pending events (no anchor yet) are taken oldest first, up to `max_events`; a root is anchored
when that many are waiting or the oldest has waited `max_age_s` (both configurable), so a busy
system pays ~5 gas per event and a quiet one still anchors every event within `max_age_s`.
The leaves are the events' SHA-256 digests (the hex of their hash IDs), in capture order, so
`Provenance.verifyEvent(root, digest, path)` checks any single event on chain.

Crash safety: the database learns of an anchor only after its transaction is mined. If the
process dies in between, the same pending events give the same root next time; the contract
refuses it as `RootExists`, and the anchorer then adopts the root from the chain's
`RootAnchored` log instead of anchoring twice.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import bindparam, func, select, update
from sqlalchemy.orm import Session, sessionmaker

from ..chain import Sender, TransactionFailed
from ..deploy import Deployment
from ..merkle import MerkleTree
from ..models import EpcisAnchor, EpcisEvent

log = logging.getLogger(__name__)


@dataclass
class AnchorPolicy:
    max_events: int = 1000
    max_age_s: float = 10.0


class Anchorer:
    def __init__(
        self,
        sessions: sessionmaker[Session],
        deployment: Callable[[], Deployment],
        sender: Callable[[], Sender],
        policy: AnchorPolicy | None = None,
    ):
        self.sessions, self.deployment, self.sender = sessions, deployment, sender
        self.policy = policy or AnchorPolicy()
        self._lock = threading.Lock()  # one anchor at a time per process

    def pending(self) -> int:
        with self.sessions() as db:
            return db.scalar(select(func.count()).select_from(EpcisEvent).where(EpcisEvent.anchor_id.is_(None)))

    def anchor_once(self, force: bool = False, now: datetime | None = None) -> EpcisAnchor | None:
        """Anchor one root if due (or if `force` and anything is pending); return it, else None."""
        with self._lock, self.sessions() as db:
            rows = db.execute(
                select(EpcisEvent.id, EpcisEvent.digest, EpcisEvent.record_time)
                .where(EpcisEvent.anchor_id.is_(None))
                .order_by(EpcisEvent.id)
                .limit(self.policy.max_events)
            ).all()
            if not rows:
                return None
            now = now or datetime.now(UTC)
            oldest = rows[0].record_time
            oldest = oldest if oldest.tzinfo else oldest.replace(tzinfo=UTC)
            due = len(rows) >= self.policy.max_events or now - oldest >= timedelta(seconds=self.policy.max_age_s)
            if not (due or force):
                return None
            tree = MerkleTree([bytes.fromhex(r.digest[2:]) for r in rows])
            tx_hash, block, submitter = self._anchor_on_chain(tree.root, len(rows), rows[0].id, rows[-1].id)
            anchor = EpcisAnchor(
                root="0x" + tree.root.hex(),
                leaf_count=len(rows),
                tx_hash=tx_hash,
                block_number=block,
                submitter=submitter,
                anchored_at=now,
            )
            db.add(anchor)
            db.flush()
            events = EpcisEvent.__table__
            db.execute(
                update(events)
                .where(events.c.id == bindparam("eid"), events.c.anchor_id.is_(None))
                .values(anchor_id=anchor.id, leaf_index=bindparam("idx")),
                [{"eid": r.id, "idx": i} for i, r in enumerate(rows)],
            )
            taken = db.scalar(select(func.count()).select_from(events).where(events.c.anchor_id == anchor.id))
            if taken != len(rows):  # another anchorer took some of them: leave all pending
                db.rollback()
                log.warning("events of root %s were anchored elsewhere meanwhile; retrying later", anchor.root)
                return None
            db.commit()
            log.info("anchored %d events in root %s (block %d)", len(rows), anchor.root, block)
            return anchor

    def _anchor_on_chain(self, root: bytes, count: int, first: int, last: int) -> tuple[str, int, str]:
        prov = self.deployment().contract("Provenance")
        sender = self.sender()
        try:
            receipt = sender.transact(prov.functions.anchor(root, count, f"epcis:events/{first}-{last}"))
            return "0x" + bytes(receipt["transactionHash"]).hex(), receipt["blockNumber"], sender.address
        except TransactionFailed as exc:
            if exc.error != "RootExists":
                raise
        # anchored before a crash kept us from recording it: adopt the chain's record
        logs = prov.events.RootAnchored().get_logs(
            from_block=self.deployment().manifest["deployed_at_block"], argument_filters={"root": root}
        )
        entry = logs[-1]
        return "0x" + bytes(entry["transactionHash"]).hex(), entry["blockNumber"], entry["args"]["submitter"]

    def drain(self) -> list[EpcisAnchor]:
        """Anchor everything pending now, in as many roots as it takes."""
        out = []
        while (a := self.anchor_once(force=True)) is not None:
            out.append(a)
        return out

    def run(self, stop: threading.Event, interval_s: float = 1.0) -> None:
        """Anchor whenever due until `stop` is set; chain or database trouble is logged and retried."""
        while not stop.is_set():
            try:
                while self.anchor_once() is not None:
                    pass
            except Exception:  # noqa: BLE001 - a background loop must outlive a node restart
                log.exception("anchoring failed; retrying in %.1f s", interval_s)
            stop.wait(interval_s)
