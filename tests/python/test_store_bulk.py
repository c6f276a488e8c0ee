"""`ledger.store.bulk.insert_rows` (the capture's inserts on SQLite, straight to the driver) stores
exactly what SQLAlchemy's executemany stores, in the session's own transaction, and `execute_many`
(an anchor's update of its events) changes exactly what SQLAlchemy's does; on a real SQLite
database migrated as the API's."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone

from sqlalchemy import bindparam, func, insert, select, text, update

from ledger.store.bulk import execute_many, insert_rows
from ledger.store.db import make_engine, migrate, session_factory
from ledger.store.models import EpcisAnchor, EpcisEpc, EpcisEvent, EventCompleteness

TABLES = (EpcisEvent.__table__, EpcisEpc.__table__, EventCompleteness.__table__)


def _rows() -> list[tuple]:
    t0 = datetime(2026, 11, 24, 8, 0, 0, 123456, tzinfo=timezone(timedelta(hours=8)))
    events = [
        {
            "hash_id": f"ni:///sha-256;{i:064x}?ver=CBV2.0", "digest": f"0x{i:064x}", "event_type": "ObjectEvent",
            "event_time": (t0 + timedelta(minutes=i)).astimezone(UTC), "record_time": datetime.now(UTC),
            "biz_step": "https://ref.gs1.org/cbv/BizStep-shipping" if i % 2 else None, "disposition": None,
            "action": "OBSERVE", "read_point": None, "biz_location": "urn:epc:id:sgln:0614141.00777.0",
            "event_ref": f"ni:///{i}", "recorder": "0x" + "ab" * 20, "merchant": None if i % 3 else "0x" + "cd" * 20,
            "capture_id": "c1", "body": json.dumps({"é": "溯源", "n": i / 3}, ensure_ascii=False), "context": "[]",
        }
        for i in range(1, 40)
    ]  # fmt: skip
    epcs = [
        {"gtin": "06901234567892" if i % 2 else None, "lot": None, "serial": "A1", "event_id": i, "uri": f"u{i}"}
        for i in range(1, 40)
    ]
    flags = [
        {"event_id": i, "profile": "v1", "complete": bool(i % 2), "required": 9, "missing": "[]",
         "wrong": json.dumps([{"element": "x"}]), "checked_at": datetime.now(UTC)}
        for i in range(1, 40)
    ]  # fmt: skip
    return list(zip(TABLES, (events, epcs, flags), strict=True))


def _stored(engine) -> dict[str, list[tuple]]:
    with engine.connect() as conn:
        out = {}
        for table in TABLES:
            cols = ", ".join(f"typeof({c.name}), {c.name}" for c in table.columns)
            out[table.name] = conn.execute(text(f"SELECT {cols} FROM {table.name} ORDER BY 2")).all()
        return out


def test_insert_rows_stores_what_sqlalchemy_stores(tmp_path):
    engines = [make_engine(f"sqlite:///{tmp_path / name}.sqlite3") for name in ("core", "bulk")]
    for engine in engines:
        migrate(engine)
    rows = _rows()
    with session_factory(engines[0])() as db:
        for table, values in rows:
            db.execute(insert(table), values)
        db.commit()
    with session_factory(engines[1])() as db:
        for table, values in rows:
            insert_rows(db, table, values)
        db.commit()
    core, bulk = (_stored(e) for e in engines)
    assert all(len(core[t.name]) == 39 for t in TABLES)
    assert bulk == core


def test_insert_rows_writes_in_the_sessions_transaction(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path / 'x'}.sqlite3")
    migrate(engine)
    (events_table, events), *_ = _rows()
    with session_factory(engine)() as db:
        insert_rows(db, events_table, events)
        assert db.scalar(select(func.count()).select_from(EpcisEvent)) == 39  # seen in the transaction
        db.rollback()
        assert db.scalar(select(func.count()).select_from(EpcisEvent)) == 0  # and gone with it


def test_execute_many_updates_what_sqlalchemy_updates(tmp_path):
    """An anchor's update: a value fixed in the statement, two the rows name, a condition that
    leaves a row already taken alone; same rows after both paths, in the session's transaction."""
    engines = [make_engine(f"sqlite:///{tmp_path / name}.sqlite3") for name in ("core", "bulk")]
    events, rows = EpcisEvent.__table__, _rows()[0][1]  # (their record times once for both)
    when = datetime.now(UTC)
    for engine, run in zip(engines, (lambda db, st, rows: db.execute(st, rows), execute_many), strict=True):
        migrate(engine)
        with session_factory(engine)() as db:
            insert_rows(db, events, rows)
            taken = EpcisAnchor(root="0x" + "11" * 32, leaf_count=1, tx_hash="0x1", block_number=1,
                                submitter="0x" + "ab" * 20, anchored_at=when)  # fmt: skip
            db.add(taken)
            db.flush()
            db.execute(update(EpcisEvent).where(EpcisEvent.id == 7).values(anchor_id=taken.id, leaf_index=0))
            anchor = EpcisAnchor(root="0x" + "22" * 32, leaf_count=30, tx_hash="0x2", block_number=2,
                                 submitter="0x" + "ab" * 20, anchored_at=when)  # fmt: skip
            db.add(anchor)
            db.flush()
            statement = (
                update(events)
                .where(events.c.id == bindparam("eid"), events.c.anchor_id.is_(None))
                .values(anchor_id=anchor.id, leaf_index=bindparam("idx"))
            )
            run(db, statement, [{"eid": eid, "idx": i} for i, eid in enumerate(range(1, 31))])
            assert db.scalar(select(func.count()).where(events.c.anchor_id == anchor.id)) == 29  # seen in it
            db.commit()
    core, bulk = (_stored(e) for e in engines)
    assert bulk == core
    with engines[1].connect() as conn:
        assert conn.execute(text("SELECT anchor_id, leaf_index FROM epcis_events WHERE id IN (7, 8)")).all() == [
            (1, 0), (2, 7)]  # fmt: skip
