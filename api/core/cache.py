"""A small time-bounded cache for what scans read over and over (a batch's facts, a merchant's
deposit): a scan may show such facts up to `ttl_s` old (`LEDGER_SCAN_CACHE_S`).

When an entry expires under load, one caller loads it again while the others go on with the
expired value for the few milliseconds that takes, instead of all reading the database or the
chain at once (or all waiting for the one that does). Only a key never loaded (or expired for
longer than `stale_s`) makes callers wait.

`aget` serves the event loop: a value at hand is returned at once (an expired one is refreshed in
a worker thread meanwhile); a load never runs on the loop."""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Callable, Hashable
from typing import Any

from starlette.concurrency import run_in_threadpool

log = logging.getLogger(__name__)


class TTLCache:
    def __init__(self, ttl_s: float, max_entries: int = 10_000, stale_s: float | None = None):
        self.ttl_s, self.max_entries = ttl_s, max_entries
        self.stale_s = ttl_s if stale_s is None else stale_s  # how long past expiry a value may be shown
        self._entries: dict[Hashable, tuple[float, Any]] = {}
        self._lock = threading.Lock()
        self._loading: dict[Hashable, threading.Lock] = {}

    def _usable(self, key: Hashable) -> tuple[float, Any] | None:
        hit = self._entries.get(key)
        return hit if hit is not None and hit[0] + self.stale_s > time.monotonic() else None

    async def aget(self, key: Hashable, load: Callable[[], Any]) -> Any:
        hit = self._usable(key)
        if hit is None:
            return await run_in_threadpool(self.get, key, load)
        if hit[0] <= time.monotonic():
            loading = self._loading.get(key)
            if loading is None or not loading.locked():
                asyncio.get_running_loop().run_in_executor(None, self._refresh, key, load)
        return hit[1]

    def _refresh(self, key: Hashable, load: Callable[[], Any]) -> None:
        try:
            self.get(key, load)
        except Exception:  # noqa: BLE001 - the next caller past `stale_s` loads it and sees the error
            log.warning("refreshing %r failed", key, exc_info=True)

    def get(self, key: Hashable, load: Callable[[], Any]) -> Any:
        hit = self._usable(key)
        if hit is not None and hit[0] > time.monotonic():
            return hit[1]
        with self._lock:
            loading = self._loading.setdefault(key, threading.Lock())
        if hit is not None and not loading.acquire(blocking=False):
            return hit[1]  # being loaded again by another caller: the expired value meanwhile
        if hit is None:
            loading.acquire()  # nothing to show yet: wait for the one load
        try:
            hit = self._entries.get(key)
            if hit is not None and hit[0] > time.monotonic():
                return hit[1]
            value = load()
            if self.ttl_s > 0:
                now = time.monotonic()
                with self._lock:
                    if len(self._entries) >= self.max_entries:  # drop the expired, else the older half
                        live = sorted((kv for kv in self._entries.items() if kv[1][0] > now), key=lambda kv: kv[1][0])
                        self._entries = dict(live[len(live) // 2 :] if len(live) >= self.max_entries else live)
                    self._entries[key] = (now + self.ttl_s, value)
        finally:
            loading.release()
            with self._lock:
                if self._loading.get(key) is loading and not loading.locked():
                    del self._loading[key]
        return value
