"""What a scan reads of its code's history while batches are written, and how it waits for its own:

- a read waits only for a batch that holds scans of its own code (the others cannot be counted twice
  or missed), and then once, not by reading again and again;
- the scans of a batch are answered when it is committed, a 503 if it is not in time (the scan stays
  queued);
- the writers of the API's processes queue for their turn on SQLite, and what arrives while one
  waits joins its batch;
- the lookup's connection, kept by its thread, sees every commit, and a failed read gives it up.
"""

from __future__ import annotations

import asyncio
import threading
from datetime import UTC, datetime

import pytest
from sqlalchemy import bindparam, func, select
from sqlalchemy.orm import Session

from api.core.errors import ApiError
from api.scan import recorder as scans
from api.scan.recorder import ScanRecorder
from ledger.store.db import DriverStatement, make_engine, migrate
from ledger.store.locks import file_lock
from ledger.store.models import Code, CodeIssue, Scan

WAIT_S = 30  # generous: a machine twice as slow, shared


def _scan(code_id: int | None) -> dict:
    return {"gtin": "06901234567892", "lot": "L1", "serial": "S1", "code_id": code_id, "at": datetime.now(UTC)} | {
        "client": "c" * 16,
        "network": "n" * 16,
        "verdict": "genuine",
    }


@pytest.fixture
def engine(tmp_path):
    e = make_engine(f"sqlite:///{tmp_path / 'reads.sqlite3'}")
    migrate(e)
    yield e
    e.dispose()


def _codes(engine, n: int) -> list[int]:
    """`n` issued codes of one anchored issue (what scans of known codes refer to)."""
    with Session(engine) as db, db.begin():
        issue = CodeIssue(
            gtin="06901234567892", lot="L1", merchant="0x" + "1" * 40, count=n, root="0x" + "ab" * 32, kid="k" * 16,
            public_key="p", anchor_tx="0x", block_number=1, created_at=datetime.now(UTC),
        )  # fmt: skip
        db.add(issue)
        db.flush()
        codes = [
            Code(issue_id=issue.id, gtin=issue.gtin, lot="L1", serial=f"S{i}", leaf_index=i, uri="") for i in range(n)
        ]
        db.add_all(codes)
        db.flush()
        return [c.id for c in codes]


def _stored(engine) -> int:
    with Session(engine) as db:
        return db.scalar(select(func.count()).select_from(Scan))


def test_a_read_waits_only_for_a_batch_holding_its_own_code(engine, monkeypatch):
    entered, go = threading.Event(), threading.Event()
    real = scans.write_together

    def held(*args, **kwargs):
        entered.set()
        assert go.wait(WAIT_S)
        real(*args, **kwargs)

    monkeypatch.setattr(scans, "write_together", held)
    one, two = _codes(engine, 2)
    recorder = ScanRecorder(engine)
    recorder._running = True  # as with the writer thread: record() only queues
    recorder.record(_scan(None))  # a scan of an unknown code is in the batch too
    recorder.record(_scan(one))
    before = recorder.generation
    writer = threading.Thread(target=recorder.flush)
    writer.start()
    try:
        assert entered.wait(WAIT_S)
        during = recorder.generation
        assert during % 2 == 1
        assert recorder.saw_whole(two, before) and recorder.saw_whole(two, during)  # not in the batch
        assert not recorder.saw_whole(one, before) and not recorder.saw_whole(one, during)
        with pytest.raises(ApiError) as refused:  # the batch is still being written
            asyncio.run(recorder.settled(timeout_s=0.2))
        assert refused.value.status == 503
    finally:
        go.set()
        writer.join(WAIT_S)
    assert not recorder.saw_whole(one, before)  # a batch with its scans went by since: read again
    assert recorder.saw_whole(one, recorder.generation) and recorder.generation % 2 == 0
    asyncio.run(recorder.settled(timeout_s=WAIT_S))
    assert _stored(engine) == 2


def test_the_scans_of_a_batch_are_answered_once_it_is_committed_and_a_503_past_the_timeout(engine):
    (code,) = _codes(engine, 1)
    recorder = ScanRecorder(engine)
    recorder._running = True

    async def scenario() -> None:
        waiting = [asyncio.create_task(recorder.durably(_scan(code))) for _ in range(3)]
        await asyncio.sleep(0.05)
        assert not any(t.done() for t in waiting)  # nothing committed yet
        assert await asyncio.to_thread(recorder.flush) == 3
        await asyncio.wait_for(asyncio.gather(*waiting), WAIT_S)
        with pytest.raises(ApiError) as late:
            await recorder.durably(_scan(None), timeout_s=0.1)  # no writer: not committed in time
        assert late.value.status == 503 and late.value.code == "scan_not_recorded"

    asyncio.run(scenario())
    assert _stored(engine) == 3
    assert recorder.flush() == 1 and _stored(engine) == 4  # the refused scan stayed queued, and is written


def test_writers_of_the_processes_take_turns_and_what_arrives_meanwhile_joins_the_batch(engine, tmp_path):
    recorder = ScanRecorder(engine)
    recorder._running = True
    recorder.record(_scan(None))
    flushed: list[int] = []
    with file_lock(tmp_path / "reads.sqlite3.scans.lock"):  # another process's writer has its turn
        writer = threading.Thread(target=lambda: flushed.append(recorder.flush()))
        writer.start()
        writer.join(0.3)
        assert writer.is_alive() and _stored(engine) == 0  # waiting for its turn
        recorder.record(_scan(None))
    writer.join(WAIT_S)
    assert flushed == [2] and _stored(engine) == 2


def test_the_lookup_s_kept_connection_sees_every_commit_and_a_failed_read_gives_it_up(engine):
    count = DriverStatement(engine, select(func.count()).select_from(Scan).where(Scan.verdict == bindparam("v")))
    recorder = ScanRecorder(engine)  # no writer thread: each scan written at once
    assert count.fetchall({"v": "genuine"}) == [(0,)]
    for n in (1, 2):
        recorder.record(_scan(None))
        assert count.fetchall({"v": "genuine"}) == [(n,)]
    other: list = []
    reader = threading.Thread(target=lambda: other.append(count.fetchall({"v": "genuine"})))
    reader.start()
    reader.join(WAIT_S)
    assert other == [[(2,)]]  # another thread reads on a connection of its own
    with pytest.raises(KeyError):
        count.fetchall({})  # a read that fails: its connection is closed, the next read opens another
    recorder.record(_scan(None))
    assert count.fetchall({"v": "genuine"}) == [(3,)] and count.fetchall({"v": "forged"}) == [(0,)]
