"""Pruning trace records past their retention (`ledger compliance prune --before DATE`).

A batch's records are kept until `retention.retain_until` (6 months past its shelf life, 2 years
past its last record when it declares none); only a batch whose date is before `before` (which
may not be later than today: nobody prunes ahead of time) gives up its records, and of those only
the events that are safe to delete:
- every batch the event names is past retention, and it names nothing outside a batch (an item
  without a lot belongs to no batch, so no retention date frees it);
- it is anchored (a pending event is kept until it is);
- if it is anchored in a Merkle root, every event of that root goes too: the others' proofs are
  rebuilt from their siblings' digests, so a root is pruned whole or not at all.
An event, its identifiers, its completeness flags and its signature go together, in one transaction.
A batch named by the caller (`only`) that is still within retention is refused (`TooEarly`)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import date

from sqlalchemy import delete, select, tuple_
from sqlalchemy.orm import Session

from ledger.clock import utcnow
from ledger.errors import InvalidInput
from ledger.store.models import EpcisAnchor, EpcisEpc, EpcisEvent, EventCompleteness, EventSignature

from .retention import retain_until

CHUNK = 500


class TooEarly(InvalidInput):
    """The named batch is within its retention period: nothing deleted."""


@dataclass
class Plan:
    before: date
    past: dict[tuple[str, str], str] = field(default_factory=dict)  # batch -> its retention date
    kept: dict[tuple[str, str], str] = field(default_factory=dict)  # batch -> until (or why kept)
    events: set[int] = field(default_factory=set)  # event ids to delete
    held: dict[str, int] = field(default_factory=dict)  # why past batches' events stay -> how many

    def hold(self, why: str, n: int = 1) -> None:
        self.held[why] = self.held.get(why, 0) + n

    def as_json(self) -> dict:
        fmt = lambda d: [{"gtin": g, "lot": lot, "retain_until": u} for (g, lot), u in sorted(d.items())]  # noqa: E731
        return {"before": self.before.isoformat(), "past_retention": fmt(self.past), "within_retention": fmt(self.kept),
                "events_deleted": len(self.events), "events_kept": self.held}  # fmt: skip


def _batches(db: Session, only: tuple[str, str] | None) -> list[tuple[str, str]]:
    if only is not None:
        return [only]
    q = select(EpcisEpc.gtin, EpcisEpc.lot).where(EpcisEpc.gtin.is_not(None), EpcisEpc.lot.is_not(None)).distinct()
    return sorted((g, lot) for g, lot in db.execute(q))


def plan(db: Session, before: date, only: tuple[str, str] | None = None) -> Plan:
    """What `prune` would delete, and why the rest stays."""
    today = utcnow().date()
    if before > today:
        raise InvalidInput(f"--before {before} is after today ({today}): records are pruned once past retention, "
                           "never ahead of time")  # fmt: skip
    p = Plan(before)
    for g, lot in _batches(db, only):
        about = select(EpcisEpc.event_id).where(EpcisEpc.gtin == g, EpcisEpc.lot == lot)
        bodies = [json.loads(b) for b in db.scalars(select(EpcisEvent.body).where(EpcisEvent.id.in_(about)))]
        r = retain_until(bodies, (g, lot))
        if r["until"] is not None and r["until"] < before:
            p.past[(g, lot)] = r["until"].isoformat()
        else:
            p.kept[(g, lot)] = r["until"].isoformat() if r["until"] else "no records"
            if only is not None:
                raise TooEarly(f"batch {g}/{lot} is kept until {p.kept[(g, lot)]} ({r['rule']}): not deleted; "
                               f"nothing of it can be pruned before that date")  # fmt: skip
    pairs = sorted(p.past)
    candidates: set[int] = set()
    for i in range(0, len(pairs), CHUNK):
        q = select(EpcisEpc.event_id).where(tuple_(EpcisEpc.gtin, EpcisEpc.lot).in_(pairs[i : i + CHUNK]))
        candidates.update(db.scalars(q))
    ids = sorted(candidates)
    for i in range(0, len(ids), CHUNK):
        part = ids[i : i + CHUNK]
        names: dict[int, set] = {}
        for eid, g, lot in db.execute(select(EpcisEpc.event_id, EpcisEpc.gtin, EpcisEpc.lot).where(
                EpcisEpc.event_id.in_(part))):  # fmt: skip
            names.setdefault(eid, set()).add((g, lot) if g and lot else None)
        anchors = dict(db.execute(select(EpcisEvent.id, EpcisEvent.anchor_id).where(EpcisEvent.id.in_(part))).all())
        for eid in part:
            if any(n not in p.past for n in names.get(eid, {None})):
                p.hold("names a batch within retention, or an item of no batch")
            elif anchors[eid] is None:
                p.hold("not anchored yet")
            else:
                p.events.add(eid)
    _whole_roots(db, p)
    return p


def _whole_roots(db: Session, p: Plan) -> None:
    """Keep every event of a Merkle root some of whose events stay."""
    roots = sorted(_anchor_ids(db, p.events))
    merkle = set(db.scalars(select(EpcisAnchor.id).where(EpcisAnchor.id.in_(roots), EpcisAnchor.kind != "chain")))
    for anchor in sorted(merkle):
        members = set(db.scalars(select(EpcisEvent.id).where(EpcisEvent.anchor_id == anchor)))
        if not members <= p.events:
            gone = members & p.events
            p.events -= gone
            p.hold("shares a Merkle root with records still kept", len(gone))


def _anchor_ids(db: Session, events: set[int]) -> set[int]:
    ids, out = sorted(events), set()
    for i in range(0, len(ids), CHUNK):
        out.update(db.scalars(select(EpcisEvent.anchor_id).where(EpcisEvent.id.in_(ids[i : i + CHUNK])).distinct()))
    return out


def prune(db: Session, before: date, only: tuple[str, str] | None = None, dry_run: bool = False) -> Plan:
    """Delete what `plan` allows (committed), unless `dry_run`."""
    p = plan(db, before, only)
    if dry_run or not p.events:
        return p
    ids = sorted(p.events)
    for i in range(0, len(ids), CHUNK):
        part = ids[i : i + CHUNK]
        db.execute(delete(EventCompleteness).where(EventCompleteness.event_id.in_(part)))
        db.execute(delete(EventSignature).where(EventSignature.event_id.in_(part)))
        db.execute(delete(EpcisEpc).where(EpcisEpc.event_id.in_(part)))
        db.execute(delete(EpcisEvent).where(EpcisEvent.id.in_(part)))
    db.commit()
    return p
