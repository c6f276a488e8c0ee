"""The queries a capture runs (its events, identifiers, completeness flags, the lots' master
data, and under the strict profile the genealogy upstream) find what they read by index, never by
scanning a table: a scan grows with every event captured (the lots' master data once read every
stored identifier at every capture). On a real SQLite database migrated as the API's, with real
captures."""

from __future__ import annotations

import json
import random
import re

from sqlalchemy import event, select

from ledger.compliance import completeness
from ledger.flows import compliance_capture
from ledger.store.db import make_engine, migrate, session_factory
from ledger.store.models import EpcisEvent
from ledger.trace.epcis import capture as captures
from ledger.trace.epcis.samples import document
from ledger.trace.epcis.schema import check_capture

RECORDER = "0x" + "ab" * 20


def test_a_captures_queries_scan_no_table(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path / 'x'}.sqlite3")
    migrate(engine)
    sessions = session_factory(engine)
    seen: list[tuple[str, tuple]] = []

    @event.listens_for(engine, "before_cursor_execute")
    def keep(conn, cursor, statement, parameters, context, executemany):  # noqa: ANN001
        if not executemany and statement.lstrip().upper().startswith("SELECT"):
            seen.append((statement, parameters))

    docs = [check_capture(document(random.Random(seed), 60)) for seed in range(3)]
    for doc, events in docs:
        with sessions() as db:
            compliance_capture.problems(db, events, RECORDER)  # what the strict profile checks first
            flags = compliance_capture.Flags(RECORDER)  # as the capture doors judge and write them
            captures.capture(db, doc, events, RECORDER, before=flags.before, also=lambda s, _, f=flags: f.write(s))
    event.remove(engine, "before_cursor_execute", keep)
    _, events = docs[1]
    with sessions() as db:
        facts = completeness.lot_facts(db, events)
    made = {lot for e in events if completeness._ilmd(e) for lot in completeness.made_lots(e)}
    assert made and made <= set(facts)  # the lots the stored events made, with their ILMD
    assert any("epcis_epcs" in s for s, _ in seen) and any("compliance_parties" in s for s, _ in seen)
    with engine.connect() as conn:
        raw = conn.connection.driver_connection
        for statement, parameters in seen:
            plan = " | ".join(row[3] for row in raw.execute("EXPLAIN QUERY PLAN " + statement, parameters))
            assert not re.search(r"\bSCAN (?!\w+ CONSTANT ROWS)", plan), (statement[:300], plan)


def test_the_lots_master_data_is_what_every_stored_event_making_them_declares(tmp_path):
    """`lot_facts` reads only the bodies holding the text "ilmd", by index: the same facts as
    parsing every stored event that made a lot the events name, oldest first, after theirs."""
    engine = make_engine(f"sqlite:///{tmp_path / 'x'}.sqlite3")
    migrate(engine)
    sessions = session_factory(engine)
    docs = []
    for seed in range(4):
        doc = document(random.Random(seed), 80)
        for i, e in enumerate(doc["epcisBody"]["eventList"]):
            if i % 5 == 0:
                e["example:note"] = "ilmd"  # the text without the member
        docs.append(check_capture(doc))
    for doc, events in docs:
        with sessions() as db:
            captures.capture(db, doc, events, RECORDER)
    with sessions() as db:
        stored = [json.loads(b) for b in db.scalars(select(EpcisEvent.body).order_by(EpcisEvent.id))]
    found = 0
    for _, events in docs:
        pairs = set().union(*map(completeness._lots, events))
        making = [e for e in stored if (e.get("action") == "ADD" or e["type"] == "TransformationEvent")]
        expected: dict = {}
        for e in [*events, *(e for e in making if completeness._lots(e) & pairs)]:
            if own := completeness._ilmd(e):
                for lot in completeness.made_lots(e):
                    expected.setdefault(lot, {}).update(own)
        with sessions() as db:
            assert completeness.lot_facts(db, events) == expected
        found += len(expected)
    assert found > 5
