"""A capture checked against the trace-record profile (ledger.compliance): before it is stored,
each event's missing and wrong elements and any transformation that would close a cycle in the
genealogy (`problems`: the strict capture refuses the document on any); its events' completeness
flags judged before its write (`judge_prepared`) and written in its transaction (`write_prepared`)."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from ledger.compliance import completeness, cycles
from ledger.compliance.profile import BY_ID
from ledger.store.models import EpcisEvent
from ledger.trace.epcis.capture import Prepared, item_parts


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


def judge_prepared(db: Session, prepared: Sequence[Prepared], recorder: str) -> dict[str, completeness.Verdict]:
    """A capture's verdicts by hash ID, in the document's order, judged before its write (reads
    only, `capture(before=...)`): each event as it will be once stored, a duplicate as stored (its
    recorder the one that stored it). `write_prepared` writes them in the capture's transaction."""
    hash_ids = [p.hash_id for p in prepared]
    stored: dict[str, str] = {}
    for i in range(0, len(hash_ids), 500):
        q = select(EpcisEvent.hash_id, EpcisEvent.recorder).where(EpcisEvent.hash_id.in_(hash_ids[i : i + 500]))
        stored.update(db.execute(q).all())
    items = [(p.hash_id, stored.get(p.hash_id, recorder), p.event) for p in prepared]
    parts = [[(u, item_parts(u)) for u in p.epcs] for p in prepared]  # = parts_of(p.event), already named
    unstored = [p.event for p in prepared if p.hash_id not in stored]
    return completeness.judge(db, items, parts, unstored)


def write_prepared(db: Session, verdicts: dict[str, completeness.Verdict]) -> list[dict]:
    """`judge_prepared`'s verdicts written to the events' flags, uncommitted (in the capture's
    transaction, once its events are written): [{hashId, complete, missing, wrong}]."""
    ids: dict[str, int] = {}
    wanted = list(verdicts)
    for i in range(0, len(wanted), 500):
        q = select(EpcisEvent.hash_id, EpcisEvent.id).where(EpcisEvent.hash_id.in_(wanted[i : i + 500]))
        ids.update(db.execute(q).all())
    completeness.write_flags(db, {ids[h]: v for h, v in verdicts.items() if h in ids})
    return [{"hashId": h, "complete": v.complete, "missing": v.missing, "wrong": v.wrong} for h, v in verdicts.items()]


class Flags:
    """A capture's completeness flags, as the capture doors keep them: judged before its write
    (`before`, given to `capture`) as they will read once the events are stored, then written in
    its transaction (`write`, from its `also`); `written` is the answer's [{hashId, complete,
    missing, wrong}]."""

    def __init__(self, recorder: str):
        self.recorder, self.verdicts, self.written = recorder, {}, []

    def before(self, db: Session, prepared: Sequence[Prepared]) -> None:
        self.verdicts = judge_prepared(db, prepared, self.recorder)

    def write(self, db: Session) -> None:
        self.written = write_prepared(db, self.verdicts)
