"""Consumer scans, written to the database in batches.

A commit per scan made every scan wait for the disk, one after another. Scans are kept in memory
and written by one thread in one transaction per batch (group commit): the thread writes as soon
as scans are waiting, and whatever arrives while it writes goes into the next batch, so batches
grow with the load. `record` returns a future that completes when the scan's batch is committed,
and a scan is answered only then: a killed process loses no scan it answered. The verdict of a
scan counts the earlier ones still in memory, so nothing is missed in between. Without the
thread (no app lifespan, as in unit tests) each scan is written at once.

With the scans, the same transaction adds them to `scan_stats` (per code and network: count,
first and last time), which is all a later scan reads of the code's history.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
from collections import defaultdict, deque
from concurrent.futures import Future
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, bindparam, case, insert, select
from sqlalchemy.dialects import postgresql, sqlite

from ledger.store.db import DriverStatement, write_together
from ledger.store.locks import file_lock
from ledger.store.models import Code, Scan, ScanStat

from ..core.errors import ApiError

log = logging.getLogger(__name__)

# A scan's one query (on the driver's cursor, `Services.lookup`): the code and, per network it was scanned from, how
# often and when (a network with a scan in the last day counts toward "suspicious"). One row per network, however
# many scans the code has had.
LOOKUP = (
    select(Code.id, Code.issue_id, Code.leaf_index, Code.uri)  # the signed URI: a short code is checked by it
    .add_columns(ScanStat.network, ScanStat.count, ScanStat.first_at, ScanStat.last_at)
    .select_from(Code)
    .outerjoin(ScanStat, ScanStat.code_id == Code.id)
    .where(Code.gtin == bindparam("gtin"), Code.lot == bindparam("lot"), Code.serial == bindparam("serial"))
)


def _stats_upsert(engine: Engine) -> DriverStatement:
    """Add a batch's count and times per (code, network) to `scan_stats` (INSERT ... ON CONFLICT)."""
    t = ScanStat.__table__
    dialect_insert = postgresql.insert if engine.dialect.name == "postgresql" else sqlite.insert
    stmt = dialect_insert(t).values({c.name: bindparam(c.name, type_=c.type) for c in t.columns})
    new = stmt.excluded
    return DriverStatement(
        engine,
        stmt.on_conflict_do_update(
            index_elements=[t.c.code_id, t.c.network],
            set_={
                "count": t.c["count"] + new["count"],
                # writers in other processes may commit older scans later: keep the extremes
                "first_at": case((new.first_at < t.c.first_at, new.first_at), else_=t.c.first_at),
                "last_at": case((new.last_at > t.c.last_at, new.last_at), else_=t.c.last_at),
            },
        ),
    )


def stats_of(batch: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per (code, network) of a batch of scans: count, first and last time; in key order, so that
    concurrent writers lock rows in the same order (PostgreSQL)."""
    stats: dict[tuple[int, str], dict[str, Any]] = {}
    for scan in batch:
        if scan["code_id"] is None:
            continue
        key = (scan["code_id"], scan["network"])
        if (row := stats.get(key)) is None:
            stats[key] = {"code_id": key[0], "network": key[1], "count": 1}
            stats[key]["first_at"] = stats[key]["last_at"] = scan["at"]
        else:
            row["count"] += 1
            row["first_at"], row["last_at"] = min(row["first_at"], scan["at"]), max(row["last_at"], scan["at"])
    return [stats[key] for key in sorted(stats)]


def _settle(written: Future[int], n: int) -> None:
    if not written.done():
        written.set_result(n)


def _not_recorded() -> ApiError:
    return ApiError(503, "scan_not_recorded", "the scan could not be recorded in time; try again",
                    headers={"Retry-After": "2"})  # fmt: skip


_COLUMNS = ("gtin", "lot", "serial", "code_id", "at", "client", "network", "verdict")


class ScanRecorder:
    def __init__(self, engine: Engine, flush_s: float = 0.02):
        # rows go through the driver's executemany: SQLAlchemy's own bulk insert held the GIL for
        # milliseconds per flush, while scans on the event loop waited for it
        self.insert = DriverStatement(
            engine, insert(Scan.__table__).values({c: bindparam(c, type_=Scan.__table__.c[c].type) for c in _COLUMNS})
        )
        self.upsert = _stats_upsert(engine)
        self.engine = engine
        self.flush_s = flush_s
        self.gather_s = 0.004
        # on a SQLite file, the writers of the API's processes queue for their turn on a file lock: SQLite's own
        # wait for its write lock polls, sleeping 1, 2, 5, 10 ... ms, and the scans of the batch waited with it
        path = engine.url.database if engine.dialect.name == "sqlite" else None
        self._queue_path = Path(f"{path}.scans.lock") if path and path != ":memory:" else None
        self._pending: list[dict[str, Any]] = []
        self._written: Future[int] = Future()  # completes when the batch being gathered is committed
        self._wake = threading.Event()
        self._by_code: dict[int, list[dict[str, Any]]] = defaultdict(list)
        self._lock = threading.Lock()
        self._flush_lock = threading.Lock()
        self._running = False
        #: odd while a batch is being committed and forgotten from memory: a reader of one code's history (the
        #: database's, then the pending scans) saw each of its scans exactly once (neither both written and
        #: pending, nor neither) unless a batch holding scans of that code was in flight meanwhile (`saw_whole`)
        self.generation = 0
        self._batches: deque[tuple[int, frozenset[int]]] = deque(maxlen=64)  # recent: (odd generation, codes)
        self._settled: Future[None] = Future()  # completes when the generation is even again
        self._settled.set_result(None)
        self._waiter: tuple[Future[int], asyncio.AbstractEventLoop, asyncio.Future[int]] | None = None

    def record(self, scan: dict[str, Any]) -> Future[int]:
        """Keep `scan` for the next batch; the future completes once that batch is committed."""
        with self._lock:
            self._pending.append(scan)
            if scan["code_id"] is not None:
                self._by_code[scan["code_id"]].append(scan)
            written = self._written
        if self._running:
            self._wake.set()
        else:
            self.flush()
        return written

    async def durably(self, scan: dict[str, Any], timeout_s: float = 5.0) -> None:
        """Record `scan` and wait until it is committed; a 503 if the database does not take it in
        `timeout_s` (the scan stays queued and is written when it can: counted, not answered).

        The scans of one batch wait on one future of the event loop, woken once by the writer
        (a future, a timeout and a wake-up per scan were 6 % of a scan's time on the loop, py-spy)."""
        written, loop = self.record(scan), asyncio.get_running_loop()
        shared = self._waiter
        if shared is None or shared[0] is not written or shared[1] is not loop:
            shared = self._waiter = (written, loop, asyncio.wrap_future(written, loop=loop))
        if not (await asyncio.wait((shared[2],), timeout=timeout_s))[0]:  # wait() never cancels it
            raise _not_recorded()

    def saw_whole(self, code_id: int, since: int) -> bool:
        """Whether a reader that read the generation `since`, then the code's written history, then its
        pending scans, saw each of them once: no batch with scans of the code was in flight meanwhile."""
        first = since | 1  # the first batch that may have been in flight since (`since` itself if odd)
        with self._lock:
            if first > self.generation:
                return True
            if not self._batches or self._batches[0][0] > first:
                return False  # more batches went by than are remembered: read again
            return not any(code_id in codes for g, codes in self._batches if g >= first)

    async def settled(self, timeout_s: float = 5.0) -> None:
        """Wait until no batch is being committed (the generation is even); a 503 if the database
        takes longer than `timeout_s`, as `durably`."""
        if not (await asyncio.wait((asyncio.wrap_future(self._settled),), timeout=timeout_s))[0]:
            raise _not_recorded()

    def _odd(self, batch: list[dict[str, Any]]) -> None:
        codes = frozenset(scan["code_id"] for scan in batch if scan["code_id"] is not None)
        with self._lock:
            self._settled = Future()
            self.generation += 1
            self._batches.append((self.generation, codes))

    def _even(self) -> None:
        with self._lock:
            self.generation += 1
        self._settled.set_result(None)

    def _queue(self) -> contextlib.AbstractContextManager[Any]:
        return file_lock(self._queue_path) if self._queue_path else contextlib.nullcontext()

    def pending_for(self, code_id: int) -> list[dict[str, Any]]:
        with self._lock:
            return list(self._by_code.get(code_id, ()))

    def flush(self) -> int:
        """Write every scan recorded so far; forget them from memory only once committed."""
        if not self._pending:
            return 0
        with self._flush_lock, self._queue():
            with self._lock:  # taken once this process's turn came: what arrived meanwhile joins the batch
                batch, written = self._pending, self._written
                self._pending, self._written = [], Future()
            if not batch:
                _settle(written, 0)
                return 0
            self._odd(batch)
            try:
                write_together(self.engine, [(self.insert, batch), (self.upsert, stats_of(batch))])
            except Exception:
                with self._lock:  # keep them (and whoever waits for them) for the next round
                    self._pending = batch + self._pending
                    self._written.add_done_callback(lambda done: _settle(written, done.result()))
                self._even()
                raise
            with self._lock:
                for scan in batch:
                    if scan["code_id"] is not None:
                        kept = self._by_code[scan["code_id"]]
                        kept.remove(scan)
                        if not kept:
                            del self._by_code[scan["code_id"]]
            self._even()
            _settle(written, len(batch))
            return len(batch)

    def run(self, stop: threading.Event) -> None:
        self._running = True
        try:
            while not stop.is_set():
                if self._wake.wait(self.flush_s):  # a scan waits: gather what comes with it, briefly
                    time.sleep(self.gather_s)
                self._wake.clear()
                try:
                    self.flush()
                except Exception:  # noqa: BLE001 - keep recording through a database hiccup
                    log.exception("writing scans failed; retrying")
        finally:
            self._running = False
            self.flush()
