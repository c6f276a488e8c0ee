"""A capture checked against the trace-record profile (ledger.compliance): before it is stored,
each event's missing and wrong elements and any transformation that would close a cycle in the
genealogy (`problems`: the strict capture refuses the document on any); after it is stored, each
event's completeness flags written (`flag_stored`)."""

from __future__ import annotations

import json
from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from ledger.compliance import completeness, genealogy
from ledger.compliance.profile import BY_ID
from ledger.store.models import EpcisEvent
from ledger.trace.epcis.capture import item_parts

CYCLE_WALK_LIMIT = 20_000


def _cycle(db: Session, event: dict) -> str | None:
    """An output of this transformation that is already among its inputs' ancestry, if any."""
    if event.get("type") != "TransformationEvent":
        return None
    cache: dict[str, str] = {}
    ins = set(genealogy.ids_of(event, genealogy.INPUTS, cache))
    outs = set(genealogy.ids_of(event, genealogy.OUTPUTS, cache))
    if ins & outs:
        return sorted(ins & outs)[0]
    if not ins or not outs:
        return None
    ancestry = genealogy.trace(db, ins, forward=False, limit=CYCLE_WALK_LIMIT).identifiers
    batches = {genealogy.class_uri(g, lot) for g, lot, _ in map(item_parts, outs) if g and lot}
    hit = (outs | batches) & ancestry
    return sorted(hit)[0] if hit else None


def problems(db: Session, events: Sequence[dict], recorder: str) -> list[dict]:
    """What the profile finds wrong with events about to be captured by `recorder`: one entry per
    missing or wrong element or cycle, with the event's JSON path and the element's labels."""
    out = []
    for i, (event, v) in enumerate(zip(events, completeness.check_events(db, list(events), recorder), strict=True)):
        path = f"$.epcisBody.eventList[{i}]"
        for e in v.missing:
            out.append({"path": path, "element": e, "zh": BY_ID[e].zh, "en": BY_ID[e].en, "reason": "missing"})
        for w in v.wrong:
            out.append({"path": path, "element": w["element"], "zh": BY_ID[w["element"]].zh,
                        "en": BY_ID[w["element"]].en, "reason": w["reason"]})  # fmt: skip
        if (looped := _cycle(db, event)) is not None:
            out.append({"path": f"{path}.outputQuantityList", "element": "trace_code", "zh": "追溯码",
                        "en": "trace code", "reason": f"{looped} is already an input upstream: a cycle"})  # fmt: skip
    return out


def flag_stored(db: Session, hash_ids: Sequence[str]) -> list[dict]:
    """Write the stored events' completeness flags (committed); [{hashId, complete, missing, wrong}]."""
    rows = list(db.scalars(select(EpcisEvent).where(EpcisEvent.hash_id.in_(list(hash_ids))))) if hash_ids else []
    order = {h: i for i, h in enumerate(hash_ids)}
    rows.sort(key=lambda r: order[r.hash_id])  # in the document's order
    flags = completeness.flags_for(db, rows)
    db.commit()
    return [
        {"hashId": r.hash_id, "complete": flags[r.id].complete, "missing": json.loads(flags[r.id].missing),
         "wrong": json.loads(flags[r.id].wrong)}
        for r in rows
    ]  # fmt: skip
