"""A capture checked against the trace-record profile (ledger.compliance): before it is stored,
each event's missing and wrong elements and any transformation that would close a cycle in the
genealogy (`problems`: the strict capture refuses the document on any); after it is stored, each
event's completeness flags written (`flag_stored`)."""

from __future__ import annotations

import json
from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from ledger.compliance import completeness, cycles
from ledger.compliance.profile import BY_ID
from ledger.store.models import EpcisEvent


def problems(db: Session, events: Sequence[dict], recorder: str) -> list[dict]:
    """What the profile finds wrong with events about to be captured by `recorder`: one entry per
    missing or wrong element or cycle, with the event's JSON path and the element's labels."""
    out = []
    looped = cycles.closing(db, list(events))
    for i, v in enumerate(completeness.check_events(db, list(events), recorder)):
        path = f"$.epcisBody.eventList[{i}]"
        for e in v.missing:
            out.append({"path": path, "element": e, "zh": BY_ID[e].zh, "en": BY_ID[e].en, "reason": "missing"})
        for w in v.wrong:
            out.append({"path": path, "element": w["element"], "zh": BY_ID[w["element"]].zh,
                        "en": BY_ID[w["element"]].en, "reason": w["reason"]})  # fmt: skip
        if i in looped:
            out.append({"path": path, "element": "trace_code", "zh": "追溯码", "en": "trace code",
                        "reason": f"output {looped[i]} is upstream of this transformation: a cycle"})  # fmt: skip
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
