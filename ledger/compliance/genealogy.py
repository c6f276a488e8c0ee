"""Genealogy trace (GB/T 22005): from a batch or item, forward to every downstream batch, item,
shipment, party and place, or backward to every input; one step (the direct inputs or outputs,
`depth=1`) or the whole genealogy.

The graph is read from the stored events: a TransformationEvent links its inputs to its outputs,
an aggregation ADD links its children to the parent (a pallet carries its cases forward; backward,
a pallet leads to what it holds); every event naming a reached identifier is part of the trace
(shipments and receipts with their source and destination parties and places). A batch reached is
reached whole: every stored identifier of its GTIN and lot joins the walk. The walk reads each
event once, so cycles end it."""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from sqlalchemy import select, tuple_
from sqlalchemy.orm import Session

from ledger.store.models import EpcisEpc, EpcisEvent
from ledger.trace.epcis.capture import item_parts
from ledger.trace.epcis.identifiers import canonical

from .completeness import party_of
from .profile import step_name

CHUNK = 500
INPUTS = ("inputEPCList", "inputQuantityList")
OUTPUTS = ("outputEPCList", "outputQuantityList")
_CHILD = ("childEPCs", "childQuantityList")


def class_uri(gtin: str, lot: str) -> str:
    return f"https://id.gs1.org/01/{gtin}/10/{lot}"


@dataclass
class Trace:
    direction: str
    batches: set[tuple[str, str]] = field(default_factory=set)
    identifiers: set[str] = field(default_factory=set)
    events: dict[int, dict] = field(default_factory=dict)  # event id -> body
    hash_ids: dict[int, str] = field(default_factory=dict)
    recorders: dict[int, str] = field(default_factory=dict)
    truncated: bool = False  # stopped at the walk's limit of events

    def as_json(self) -> dict:
        shipments, parties, places = [], set(), set()
        for eid in sorted(self.events):
            e = self.events[eid]
            src, dst = party_of(e, "source"), party_of(e, "destination")
            parties.update(p for p in (src, dst) if p)
            place = (e.get("bizLocation") or {}).get("id") if isinstance(e.get("bizLocation"), dict) else None
            if place:
                places.add(place)
            if step_name(e.get("bizStep")) in ("shipping", "receiving", "departing", "arriving", "retail_selling"):
                shipments.append({"hashId": self.hash_ids[eid], "bizStep": step_name(e.get("bizStep")),
                                  "eventTime": e.get("eventTime"), "source": src, "destination": dst,
                                  "place": place})  # fmt: skip
        return {
            "direction": self.direction,
            "batches": [{"gtin": g, "lot": lot} for g, lot in sorted(self.batches)],
            "identifiers": sorted(self.identifiers),
            "eventCount": len(self.events),
            "truncated": self.truncated,
            "shipments": shipments,
            "parties": sorted(parties),
            "places": sorted(places),
        }


def ids_of(event: dict, names: tuple[str, ...], cache: dict[str, str]) -> list[str]:
    out = []
    for name in names:
        value = event.get(name)
        for v in value if isinstance(value, list) else [value] if value is not None else []:
            v = v.get("epcClass") if isinstance(v, dict) else v
            if isinstance(v, str):
                if v not in cache:
                    cache[v] = canonical(v) or v
                out.append(cache[v])
    return out


def links(event: dict, forward: bool, cache: dict[str, str]) -> tuple[list[str], list[str]]:
    """(identifiers that lead on, identifiers they lead to) in the direction of the walk."""
    if event.get("type") == "TransformationEvent":
        ins, outs = ids_of(event, INPUTS, cache), ids_of(event, OUTPUTS, cache)
    elif event.get("type") in ("AggregationEvent", "AssociationEvent") and event.get("action") == "ADD":
        ins, outs = ids_of(event, _CHILD, cache), ids_of(event, ("parentID",), cache)
    else:
        return [], []
    return (ins, outs) if forward else (outs, ins)


def _batch_members(db: Session, batches: set[tuple[str, str]]) -> set[str]:
    out: set[str] = {class_uri(g, lot) for g, lot in batches}
    pairs = sorted(batches)
    for i in range(0, len(pairs), CHUNK):
        chunk = pairs[i : i + CHUNK]
        gtins = EpcisEpc.gtin.in_(sorted({g for g, _ in chunk}))  # implied: SQLite then searches (gtin, lot)
        q = select(EpcisEpc.uri).where(gtins, tuple_(EpcisEpc.gtin, EpcisEpc.lot).in_(chunk)).distinct()
        out.update(db.scalars(q))
    return out


def trace(db: Session, start: set[str], forward: bool, depth: int | None = None, limit: int = 200_000) -> Trace:
    """The trace from the identifiers `start` (canonical URIs; a batch as its class URI), forward
    or backward, `depth` hops of transformation / aggregation (None: the whole genealogy); it stops
    once it holds `limit` events (`truncated`)."""
    t = Trace("forward" if forward else "backward")
    cache: dict[str, str] = {}
    frontier = set(start)
    hops = 0
    while frontier:
        batches = {(g, lot) for g, lot, _ in map(item_parts, frontier) if g and lot} - t.batches
        t.batches |= batches
        frontier |= _batch_members(db, batches) if batches else set()
        frontier -= t.identifiers
        t.identifiers |= frontier
        reached: set[str] = set()
        todo = sorted(frontier)
        for i in range(0, len(todo), CHUNK):
            naming = select(EpcisEpc.event_id).where(EpcisEpc.uri.in_(todo[i : i + CHUNK]))
            rows = db.execute(
                select(EpcisEvent.id, EpcisEvent.hash_id, EpcisEvent.recorder, EpcisEvent.body).where(
                    EpcisEvent.id.in_(naming)
                )
            ).all()
            for eid, hid, recorder, body in rows:
                if eid in t.events:
                    continue
                event = json.loads(body)
                t.events[eid], t.hash_ids[eid], t.recorders[eid] = event, hid, recorder
                on, to = links(event, forward, cache)
                if any(u in t.identifiers for u in on):
                    reached.update(to)
        hops += 1
        t.truncated = len(t.events) >= limit
        stop = t.truncated or depth is not None and hops > depth
        frontier = set() if stop else reached - t.identifiers
    return t
