"""The scan writer goes around the ORM (the driver's executemany); what it stores must read back
through the ORM exactly as written, on SQLite and on PostgreSQL, and a failed batch stores nothing.
The per-code summary it keeps with the scans (`scan_stats`) must always equal what the scans say."""

from __future__ import annotations

import random
import threading
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import MetaData, Table, func, insert, select
from sqlalchemy.orm import Session

from api.scan.recorder import ScanRecorder
from ledger.store.db import make_engine, migrate
from ledger.store.models import Scan, ScanStat

BASE = datetime(2026, 11, 25, 10, 0, 0, tzinfo=UTC)


def _scan(at: datetime, verdict: str = "genuine", code_id: int | None = None, network: str = "n" * 16) -> dict:
    return {"gtin": "06901234567892", "lot": "L1", "serial": "S1", "code_id": code_id, "at": at} | {
        "client": "c" * 16,
        "network": network,
        "verdict": verdict,
    }


def _codes(engine, n: int) -> list[int]:
    """`n` issued codes to scan (the stats refer to them), written through the tables as the
    database has them (a test migrates to an older revision first: the models may have more)."""
    meta = MetaData()
    issues, codes = (Table(name, meta, autoload_with=engine) for name in ("code_issues", "codes"))
    with engine.begin() as conn:
        issue_id = conn.execute(
            insert(issues).values(
                gtin="06901234567892", lot="L1", merchant="0x" + "1" * 40, count=n, root="0x" + "ab" * 32,
                kid="k" * 16, public_key="p", anchor_tx="0x", block_number=1, created_at=BASE,
            )
        ).inserted_primary_key[0]  # fmt: skip
        rows = [
            {"issue_id": issue_id, "gtin": "06901234567892", "lot": "L1", "serial": f"S{i}", "leaf_index": i, "uri": ""}
            for i in range(n)
        ]
        conn.execute(insert(codes), rows)
        return list(conn.scalars(select(codes.c.id).order_by(codes.c.id)))


def _utc(t: datetime) -> datetime:
    return t if t.tzinfo else t.replace(tzinfo=UTC)


def _stats(engine) -> tuple[dict, dict]:
    """(what scan_stats holds, what the scans themselves say) per (code, network)."""
    with Session(engine) as db:
        kept = {
            (r.code_id, r.network): (r.count, _utc(r.first_at), _utc(r.last_at)) for r in db.scalars(select(ScanStat))
        }
        counted = db.execute(
            select(Scan.code_id, Scan.network, func.count(), func.min(Scan.at), func.max(Scan.at))
            .where(Scan.code_id.is_not(None))
            .group_by(Scan.code_id, Scan.network)
        ).all()
    return kept, {(c, n): (k, _utc(lo), _utc(hi)) for c, n, k, lo, hi in counted}


@pytest.fixture(params=["sqlite", "postgresql"])
def engine(request, tmp_path):
    url = f"sqlite:///{tmp_path / 'w.sqlite3'}" if request.param == "sqlite" else request.getfixturevalue("pg_url")
    e = make_engine(url)
    migrate(e)
    yield e
    e.dispose()


def test_times_read_back_as_written_and_ordered(engine):
    base = datetime(2026, 11, 25, 10, 0, 0, tzinfo=UTC)
    times = [base + timedelta(microseconds=m) for m in (0, 1, 500_000)] + [base + timedelta(seconds=1)]
    recorder = ScanRecorder(engine)
    for t in reversed(times):
        recorder.record(_scan(t))  # no writer thread: written at once
    with Session(engine) as db:
        stored = db.scalars(select(Scan.at).order_by(Scan.at)).all()
        later = db.scalars(select(Scan.at).where(Scan.at >= base + timedelta(microseconds=1))).all()
    assert [t if t.tzinfo else t.replace(tzinfo=UTC) for t in stored] == times
    assert len(later) == 3


def test_a_failed_batch_stores_nothing_and_is_kept_for_the_next_flush(engine):
    recorder = ScanRecorder(engine)
    recorder._running = True  # as with the writer thread: record() only queues
    now = datetime.now(UTC)
    recorder.record(_scan(now))
    recorder.record(_scan(now, verdict=None))  # NOT NULL: the whole batch fails
    with pytest.raises(Exception, match="(?i)null"):
        recorder.flush()
    with Session(engine) as db:
        assert db.scalars(select(Scan.id)).all() == []
    assert len(recorder._pending) == 2


def test_stats_equal_the_scans_across_batches_out_of_order_and_concurrent_writers(engine):
    codes = _codes(engine, 5)
    rng = random.Random(3)
    writers = [ScanRecorder(engine) for _ in range(3)]  # as the API's processes: one writer each
    for w in writers:
        w._running = True  # record() only queues; flush() writes a batch

    def work(w: ScanRecorder) -> None:
        for _ in range(15):
            for _ in range(rng.randint(1, 30)):
                at = BASE + timedelta(seconds=rng.randint(-3600, 3600))  # older scans may come later
                w.record(_scan(at, code_id=rng.choice(codes + [None]), network=rng.choice("abc") * 16))
            w.flush()

    threads = [threading.Thread(target=work, args=(w,)) for w in writers]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    kept, counted = _stats(engine)
    assert kept == counted and sum(k for k, _, _ in kept.values()) > 100


def test_a_failed_batch_adds_nothing_to_the_stats(engine):
    (code,) = _codes(engine, 1)
    recorder = ScanRecorder(engine)
    recorder.record(_scan(BASE, code_id=code))
    recorder._running = True
    recorder.record(_scan(BASE + timedelta(seconds=1), code_id=code))
    recorder.record(_scan(BASE, verdict=None, code_id=code))  # NOT NULL: the whole batch fails
    with pytest.raises(Exception, match="(?i)null"):
        recorder.flush()
    kept, counted = _stats(engine)
    assert kept == counted == {(code, "n" * 16): (1, BASE, BASE)}


def test_migration_fills_the_stats_from_scans_already_stored(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path / 'old.sqlite3'}")
    migrate(engine, "0007")
    codes = _codes(engine, 2)
    with Session(engine) as db, db.begin():
        rows = [
            _scan(BASE + timedelta(minutes=i), code_id=codes[i % 2], network="ab"[i % 3 % 2] * 16) for i in range(9)
        ]
        db.execute(insert(Scan), rows + [_scan(BASE)])  # and one of an unknown code
    migrate(engine)
    kept, counted = _stats(engine)
    assert kept == counted and sum(k for k, _, _ in kept.values()) == 9
    engine.dispose()
