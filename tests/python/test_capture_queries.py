"""The queries a capture runs find what they read by index, not by scanning what is stored: a scan
grows with every event captured (the lots' master data once read every stored identifier at every
capture). On a real SQLite database migrated as the API's, after real captures."""

from __future__ import annotations

import random

from sqlalchemy import event

from ledger.compliance import completeness
from ledger.store.db import make_engine, migrate, session_factory
from ledger.trace.epcis import capture as captures
from ledger.trace.epcis.samples import document
from ledger.trace.epcis.schema import check_capture

RECORDER = "0x" + "ab" * 20


def test_the_lots_master_data_is_found_by_the_gtin_lot_index(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path / 'x'}.sqlite3")
    migrate(engine)
    sessions = session_factory(engine)
    docs = [check_capture(document(random.Random(seed), 60)) for seed in range(3)]
    for doc, events in docs:
        with sessions() as db:
            captures.capture(db, doc, events, RECORDER)
    seen: list[tuple[str, tuple]] = []

    @event.listens_for(engine, "before_cursor_execute")
    def keep(conn, cursor, statement, parameters, context, executemany):  # noqa: ANN001
        if "epcis_epcs" in statement:
            seen.append((statement, parameters))

    _, events = docs[1]
    with sessions() as db:
        facts = completeness.lot_facts(db, events)
    event.remove(engine, "before_cursor_execute", keep)
    made = {lot for e in events if completeness._ilmd(e) for lot in completeness.made_lots(e)}
    assert made and made <= set(facts)  # the lots the stored events made, with their ILMD
    assert seen
    with engine.connect() as conn:
        raw = conn.connection.driver_connection
        for statement, parameters in seen:
            plan = " | ".join(row[3] for row in raw.execute("EXPLAIN QUERY PLAN " + statement, parameters))
            assert "SCAN epcis_epcs" not in plan and "ix_epcis_epcs_gtin_lot" in plan, plan
