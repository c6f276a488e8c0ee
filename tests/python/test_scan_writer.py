"""The scan writer goes around the ORM (the driver's executemany); what it stores must read back
through the ORM exactly as written, on SQLite and on PostgreSQL, and a failed batch stores nothing."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from api.scans import ScanRecorder
from ledger.db import make_engine, migrate
from ledger.models import Scan


def _scan(at: datetime, verdict: str = "genuine") -> dict:
    return {"gtin": "06901234567892", "lot": "L1", "serial": "S1", "code_id": None, "at": at} | {
        "client": "c" * 16,
        "network": "n" * 16,
        "verdict": verdict,
    }


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
