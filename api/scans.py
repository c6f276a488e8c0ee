"""Consumer scans, written to the database in batches.

A commit per scan made every scan wait for the disk, one after another. Scans are kept in memory
and written by one thread every `flush_s` (default 20 ms) in one transaction; the verdict of a
scan counts the earlier ones still in memory, so nothing is missed in between. A crash loses at
most the scans of the last `flush_s`. Without the thread (no app lifespan, as in unit tests) each
scan is written at once.
"""

from __future__ import annotations

import logging
import threading
from collections import defaultdict
from typing import Any

from sqlalchemy import Engine, bindparam, func, insert, select

from ledger.db import DriverStatement
from ledger.models import Code, Scan

log = logging.getLogger(__name__)

# A scan's one query (on the driver's cursor, `Services.lookup`): the code and, per network it was scanned from, how
# often and when (a network with a scan in the last day counts toward "suspicious").
LOOKUP = (
    select(Code.id, Code.issue_id, Code.leaf_index)
    .add_columns(Scan.network, func.count(Scan.id), func.min(Scan.at), func.max(Scan.at))
    .select_from(Code)
    .outerjoin(Scan, Scan.code_id == Code.id)
    .where(Code.gtin == bindparam("gtin"), Code.lot == bindparam("lot"), Code.serial == bindparam("serial"))
    .group_by(Code.id, Code.issue_id, Code.leaf_index, Scan.network)
)


_COLUMNS = ("gtin", "lot", "serial", "code_id", "at", "client", "network", "verdict")


class ScanRecorder:
    def __init__(self, engine: Engine, flush_s: float = 0.02):
        # rows go through the driver's executemany: SQLAlchemy's own bulk insert held the GIL for
        # milliseconds per flush, while scans on the event loop waited for it
        self.insert = DriverStatement(
            engine, insert(Scan.__table__).values({c: bindparam(c, type_=Scan.__table__.c[c].type) for c in _COLUMNS})
        )
        self.flush_s = flush_s
        self._pending: list[dict[str, Any]] = []
        self._by_code: dict[int, list[dict[str, Any]]] = defaultdict(list)
        self._lock = threading.Lock()
        self._flush_lock = threading.Lock()
        self._running = False

    def record(self, scan: dict[str, Any]) -> None:
        with self._lock:
            self._pending.append(scan)
            if scan["code_id"] is not None:
                self._by_code[scan["code_id"]].append(scan)
        if not self._running:
            self.flush()

    def pending_for(self, code_id: int) -> list[dict[str, Any]]:
        with self._lock:
            return list(self._by_code.get(code_id, ()))

    def flush(self) -> int:
        """Write every scan recorded so far; forget them from memory only once committed."""
        with self._flush_lock:
            with self._lock:
                batch = self._pending
                self._pending = []
            if not batch:
                return 0
            try:
                self.insert.executemany(batch)
            except Exception:
                with self._lock:  # keep them for the next round
                    self._pending = batch + self._pending
                raise
            with self._lock:
                for scan in batch:
                    if scan["code_id"] is not None:
                        kept = self._by_code[scan["code_id"]]
                        kept.remove(scan)
                        if not kept:
                            del self._by_code[scan["code_id"]]
            return len(batch)

    def run(self, stop: threading.Event) -> None:
        self._running = True
        try:
            while not stop.wait(self.flush_s):
                try:
                    self.flush()
                except Exception:  # noqa: BLE001 - keep recording through a database hiccup
                    log.exception("writing scans failed; retrying")
        finally:
            self._running = False
            self.flush()
