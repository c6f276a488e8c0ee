"""Batch captured events into Merkle roots anchored on chain (`Provenance.anchor`).

Pending events (no anchor yet) are taken oldest first, up to `max_events`; a root is anchored
when that many are waiting or the oldest has waited `max_age_s` (both configurable), so a busy
system pays ~5 gas per event and a quiet one still anchors every event within `max_age_s`.
The leaves are the events' SHA-256 digests (the hex of their hash IDs), in capture order, so
`Provenance.verifyEvent(root, digest, path)` checks any single event on chain.

Low volume: when no more than `one_by_one_max` events are pending as they fall due, each is
recorded on its own into the hash chain of the registered batch it names
(`Provenance.recordEvent`, `head = keccak(head ‖ eventHash)`), signed by the member who captured
it. One such entry costs less gas than a root of one leaf (~43,600 against ~54,900), and the chain
itself then says who recorded the event and where it stands in its batch's history. An event
naming no registered batch, or whose recorder holds no key here or may not record into that
batch, goes into a Merkle root as usual. Such an entry is kept as an `EpcisAnchor` of kind
`chain` (its `root` is the batch's head after the entry, `chain_index` the entry's place).

Crash safety: the database learns of an anchor only after its transaction is mined. A process
that dies in between, or a write that timed out while the node was down, leaves a root on chain
(or still in the node's pool) that the database does not know. So an anchorer (1) first waits until
every transaction the anchoring key had pending is mined (or its nonce spent), so that no events go
into a second root while a first may still be mined (not until the key has nothing pending: under
the platform's own steady writes with that key it seldom has); (2) then adopts each root the key
anchored in the last `ADOPT_BLOCKS` blocks that has no row: its URI names the first and last event,
and if those pending events give that root, they are attached to it; (3) a root the contract
refuses as `RootExists` (the same events again) is adopted from the chain's `RootAnchored` log.
Each event is anchored once.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from ledger.chain.client import Sender, TransactionFailed, earlier_writes_settled, tx_timeout
from ledger.chain.deploy import Deployment
from ledger.store.locks import Locks
from ledger.store.models import Batch, EpcisAnchor, EpcisEpc, EpcisEvent
from ledger.trace.merkle import MerkleTree

from .adoption import adopt_orphans, attach

log = logging.getLogger(__name__)
#: the longest wait between tries of a failing background anchorer (seconds): anchoring is tried
#: again at most this long after the chain or the key is back
MAX_BACKOFF_S = 10.0


@dataclass
class AnchorPolicy:
    max_events: int = 1000
    max_age_s: float = 10.0
    #: at most this many pending events, when due, are recorded one by one into their batches'
    #: hash chains instead of a Merkle root (0: always roots)
    one_by_one_max: int = 1


class Anchorer:
    def __init__(
        self,
        sessions: sessionmaker[Session],
        deployment: Callable[[], Deployment],
        sender: Callable[[], Sender],
        policy: AnchorPolicy | None = None,
        recorder_sender: Callable[[str], Sender | None] | None = None,
        locks: Locks | None = None,
    ):
        """`sender` signs roots; `recorder_sender(address)` signs a member's own entries into a
        batch's hash chain (None where this process holds no key for that member). `locks`: the
        deployment's lock helper, whose lock `anchoring` the processes of one deployment (on every
        host) take in turn to anchor, so that two of them never anchor the same pending events at
        once (the background anchorer in a worker, `POST /v1/epcis/anchor` in an API process)."""
        self.sessions, self.deployment, self.sender = sessions, deployment, sender
        self.recorder_sender = recorder_sender
        self.locks = locks
        self.policy = policy or AnchorPolicy()
        self._lock = threading.Lock()  # one anchor at a time per process

    def pending(self) -> int:
        with self.sessions() as db:
            return db.scalar(select(func.count()).select_from(EpcisEvent).where(EpcisEvent.anchor_id.is_(None)))

    def anchor_once(self, force: bool = False, now: datetime | None = None) -> EpcisAnchor | None:
        """Anchor one root if due (or if `force` and anything is pending), or record the few pending
        events one by one; return the (last) anchor made, else None."""
        made = self._anchor_due(force, now)
        return made[-1] if made else None

    def _anchor_due(self, force: bool, now: datetime | None) -> list[EpcisAnchor]:
        if not force and not self._due_here(now):
            return []  # nothing due: no lock, no call to the node, no scan of its logs
        turn = self.locks.exclusive("anchoring") if self.locks is not None else contextlib.nullcontext()
        with self._lock, turn, self.sessions() as db:
            if not earlier_writes_settled(self.deployment().w3, self.sender().address, tx_timeout()):
                return []  # one of them is stuck: try again in a later round
            adopted = adopt_orphans(db, self.deployment(), self.sender().address)
            rows = db.execute(
                select(EpcisEvent.id, EpcisEvent.digest, EpcisEvent.record_time, EpcisEvent.recorder)
                .where(EpcisEvent.anchor_id.is_(None))
                .order_by(EpcisEvent.id)
                .limit(self.policy.max_events)
            ).all()
            if adopted:
                return adopted
            if not rows:
                return []
            now = now or datetime.now(UTC)
            oldest = rows[0].record_time
            oldest = oldest if oldest.tzinfo else oldest.replace(tzinfo=UTC)
            due = len(rows) >= self.policy.max_events or now - oldest >= timedelta(seconds=self.policy.max_age_s)
            if not (due or force):
                return []
            made: list[EpcisAnchor] = []
            if len(rows) <= self.policy.one_by_one_max and self.recorder_sender is not None:
                made, rows = self._record_one_by_one(db, rows, now)
                if not rows:
                    return made
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
            if not attach(db, anchor, rows):  # another anchorer took some of them: leave all pending
                log.warning("events of root %s were anchored elsewhere meanwhile; retrying later", anchor.root)
                return made
            log.info("anchored %d events in root %s (block %d)", len(rows), anchor.root, block)
            return [*made, anchor]

    def _due_here(self, now: datetime | None) -> bool:
        """Whether a round would anchor: `max_events` pending, or the first pending (by id) waited
        `max_age_s`; the same rule `_anchor_due` applies to the rows it takes, read with two small
        queries. The background loop asks every `interval` (0.2 s under load), and most rounds
        are not due: they no longer ask the node about the key's pending transactions and scan the
        last `ADOPT_BLOCKS` blocks' logs each time (~1/6 of an API process's CPU while capturing).
        Roots anchored without a row are still adopted before anything new is anchored."""
        pending = EpcisEvent.anchor_id.is_(None)
        with self.sessions() as db:
            first = db.scalar(select(EpcisEvent.record_time).where(pending).order_by(EpcisEvent.id).limit(1))
            if first is None:
                return False
            taken = select(EpcisEvent.id).where(pending).limit(self.policy.max_events).subquery()
            if db.scalar(select(func.count()).select_from(taken)) >= self.policy.max_events:
                return True
        first = first if first.tzinfo else first.replace(tzinfo=UTC)
        return (now or datetime.now(UTC)) - first >= timedelta(seconds=self.policy.max_age_s)

    def _record_one_by_one(self, db: Session, rows: list, now: datetime) -> tuple[list[EpcisAnchor], list]:
        """Record each of `rows` that names a registered batch into that batch's hash chain, signed
        by its recorder; commit each entry as it is mined. Returns the entries made and the rows
        left for a Merkle root (those that could not go into a batch chain)."""
        batches: dict[int, str] = {}
        for event_id, batch_id in db.execute(
            select(EpcisEpc.event_id, Batch.batch_id)
            .join(Batch, (Batch.gtin == EpcisEpc.gtin) & (Batch.lot == EpcisEpc.lot))
            .where(EpcisEpc.event_id.in_([r.id for r in rows]))
            .order_by(EpcisEpc.id)
        ):
            batches.setdefault(event_id, batch_id)  # the first registered batch the event names
        made, left = [], []
        for r in rows:
            batch_id = batches.get(r.id)
            sender = self.recorder_sender(r.recorder) if batch_id else None
            if sender is None:
                left.append(r)
                continue
            try:
                tx_hash, block, index, head = self._record_on_chain(sender, batch_id, r.digest)
            except TransactionFailed as exc:  # e.g. Unauthorized: the recorder may not write to that batch
                log.info("event %s goes into a root: recording it into batch %s failed (%s)", r.digest, batch_id, exc)
                left.append(r)
                continue
            entry = EpcisAnchor(
                kind="chain",
                root=head,
                leaf_count=1,
                tx_hash=tx_hash,
                block_number=block,
                submitter=sender.address,
                anchored_at=now,
                batch_id=batch_id,
                chain_index=index,
            )
            if not attach(db, entry, [r]):  # anchored elsewhere meanwhile; the chain entry stays, harmless
                continue
            log.info("recorded event %s into batch %s as entry %d (block %d)", r.digest, batch_id, index, block)
            made.append(entry)
        return made, left

    def _record_on_chain(self, sender: Sender, batch_id: str, digest: str) -> tuple[str, int, int, str]:
        """(tx, block, index, head) of the event's entry in the batch's hash chain. An entry already
        there (mined before a crash kept the database from learning of it) is adopted, not repeated."""
        dep = self.deployment()
        prov = dep.contract("Provenance")
        batch, event_hash = bytes.fromhex(batch_id[2:]), bytes.fromhex(digest[2:])
        for entry in prov.events.EventRecorded().get_logs(
            from_block=dep.manifest["deployed_at_block"],
            argument_filters={"batchId": batch, "recorder": sender.address},
        ):
            if entry["args"]["eventHash"] == event_hash:
                return self._entry(entry)
        receipt = sender.transact(prov.functions.recordEvent(batch, event_hash))
        return self._entry(prov.events.EventRecorded().process_receipt(receipt)[0])

    @staticmethod
    def _entry(log_entry) -> tuple[str, int, int, str]:
        args = log_entry["args"]
        tx = "0x" + bytes(log_entry["transactionHash"]).hex()
        return tx, log_entry["blockNumber"], args["index"], "0x" + bytes(args["head"]).hex()

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
        while made := self._anchor_due(True, None):
            out.extend(made)
        return out

    def run(self, stop: threading.Event, interval_s: float = 1.0, leads: Callable[[], bool] = lambda: True) -> None:
        """Anchor whenever due until `stop` is set, in the rounds where `leads()` (this process
        holds the anchorer's lease); chain or database trouble is retried, waiting
        twice as long after each failure in a row (up to `MAX_BACKOFF_S`). A failure is logged
        with its traceback once; the same failure again is not logged; another one is, in one line."""
        wait_s, last = interval_s, None
        while not stop.is_set():
            try:
                while leads() and self.anchor_once() is not None:
                    pass
                if last is not None:
                    log.warning("anchoring works again")
                wait_s, last = interval_s, None
            except Exception as exc:  # noqa: BLE001 - a background loop must outlive a node restart
                what = f"{type(exc).__name__}: {str(exc).splitlines()[0][:200] if str(exc) else ''}"
                if last is None:
                    log.exception("anchoring failed (%s); retrying with back-off", what)
                elif what != last:
                    log.error("anchoring still failing, now: %s", what)
                wait_s, last = min(MAX_BACKOFF_S, max(wait_s, 0.1) * 2), what
            stop.wait(wait_s)
