"""The queries a capture runs (its events, identifiers, completeness flags and the lots' master
data) find what they read by index, never by scanning a table: a scan grows with every event
captured (the lots' master data once read every stored identifier at every capture). On a real
SQLite database migrated as the API's, with real captures."""

from __future__ import annotations

import random
import re

from sqlalchemy import event

from ledger.compliance import completeness
from ledger.flows import compliance_capture
from ledger.store.db import make_engine, migrate, session_factory
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
            flags = lambda s, hash_ids, events=events: compliance_capture.flag(s, hash_ids, events)  # noqa: E731
            captures.capture(db, doc, events, RECORDER, also=flags)
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
