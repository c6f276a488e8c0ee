"""A capture reads, judges and builds its rows before its turn as the store's one writer, and
writes in that turn only (`ledger.trace.epcis.capture`): the flags it judged before writing are
those the events get once stored, and an event another capture stores in between is a duplicate,
stored once. On a real SQLite database migrated as the API's."""

from __future__ import annotations

import random

from sqlalchemy import func, select

from ledger.compliance import completeness
from ledger.flows import compliance_capture
from ledger.store.db import make_engine, migrate, session_factory
from ledger.store.models import EpcisEvent, EventCompleteness
from ledger.trace.epcis import capture as captures
from ledger.trace.epcis.samples import CONTEXT, document
from ledger.trace.epcis.schema import check_capture

RECORDER = "0x" + "cd" * 20
LOT = "https://id.gs1.org/01/09521234543213/10/LOT-7"  # the lot's class: a serial would leave the lot out


def _sessions(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path / 'x'}.sqlite3")
    migrate(engine)
    return session_factory(engine)


def _doc(events: list[dict]) -> dict:
    return {"@context": CONTEXT, "type": "EPCISDocument", "schemaVersion": "2.0",
            "creationDate": "2026-11-24T08:00:00.000Z", "epcisBody": {"eventList": events}}  # fmt: skip


def _made(kilos: int, ilmd: dict, day: int) -> dict:
    """An ADD event making `kilos` of the lot, declaring `ilmd` as its master data."""
    return {"type": "ObjectEvent", "eventTime": f"2026-11-{day:02d}T08:00:00.000Z", "eventTimeZoneOffset": "+08:00",
            "epcList": [], "quantityList": [{"epcClass": LOT, "quantity": kilos, "uom": "KGM"}], "action": "ADD",
            "bizStep": "commissioning", "ilmd": ilmd}  # fmt: skip


def _capture_judging_first(sessions, doc: dict) -> tuple[list[dict], list[dict]]:
    """Capture as the API's door does (judged before the write, flags written in it); the flags it
    answered and those judged again from the store right after."""
    doc, events = check_capture(doc)
    flags = compliance_capture.Flags(RECORDER)
    with sessions() as db:
        result = captures.capture(db, doc, events, RECORDER, before=flags.before, also=lambda s, _: flags.write(s))
    with sessions() as db:  # judged again from the stored bodies, as a flag is when first read
        order = [e["hashId"] for e in result.events]
        rows = db.scalars(select(EpcisEvent).where(EpcisEvent.hash_id.in_(order))).all()
        by_id = completeness.flags_for(db, rows)
        verdicts = {r.hash_id: by_id[r.id] for r in rows}
        db.rollback()
    again = [{"hashId": h, "complete": verdicts[h].complete, "missing": verdicts[h].missing,
              "wrong": verdicts[h].wrong} for h in dict.fromkeys(order)]  # fmt: skip
    return flags.written, again


def test_flags_judged_before_the_write_are_those_of_the_stored_events(tmp_path):
    sessions = _sessions(tmp_path)
    later = document(random.Random(3), 40)
    docs = [document(random.Random(seed), 60) for seed in range(3)]
    docs.append(_doc(docs[0]["epcisBody"]["eventList"][:10] + later["epcisBody"]["eventList"]))  # 10 duplicates
    # the lot's master data declared again by a later capture: the newest declaration holds
    docs.append(_doc([_made(1, {"cbvmda:netContent": "500 g", "cbvmda:bestBeforeDate": "2027-01-31"}, 2)]))
    observed = {k: v for k, v in _made(3, {}, 4).items() if k != "ilmd"} | {"action": "OBSERVE"}
    docs.append(_doc([_made(2, {"cbvmda:netContent": ""}, 3), observed]))
    for doc in docs:
        answered, stored = _capture_judging_first(sessions, doc)
        assert answered == stored
    assert {"hashId", "complete", "missing", "wrong"} <= set(answered[0])
    spec = [f for f in answered if "product_spec" in f["missing"]]
    assert len(spec) == 2  # the newest declaration of the lot's net content is empty: it holds for both
    with sessions() as db:
        flagged = db.scalar(select(func.count()).select_from(EventCompleteness))
        assert flagged == db.scalar(select(func.count()).select_from(EpcisEvent)) == 3 * 60 + 40 + 3


def test_an_event_another_capture_stores_meanwhile_is_a_duplicate_stored_once(tmp_path):
    sessions = _sessions(tmp_path)
    doc, events = check_capture(document(random.Random(11), 20))
    first: list[captures.CaptureResult] = []

    def meanwhile(_s, _prepared):  # after this capture looked for its events, before it writes
        if not first:
            with sessions() as other:
                first.append(captures.capture(other, doc, events, RECORDER))

    with sessions() as db:
        second = captures.capture(db, doc, events, RECORDER, before=meanwhile)
    assert first[0].stored == 20 and second.stored == 0
    assert [e["hashId"] for e in second.events] == [e["hashId"] for e in first[0].events]
    with sessions() as db:
        assert db.scalar(select(func.count()).select_from(EpcisEvent)) == 20
