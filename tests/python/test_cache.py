"""The scan cache: one load per key at a time, expired values shown while one refresh runs (for at
most `stale_s`), and on the event loop no load ever runs on the loop itself."""

from __future__ import annotations

import asyncio
import threading
import time

import pytest

from api.core.cache import TTLCache


def test_fresh_values_are_not_loaded_again():
    cache, loads = TTLCache(60), []
    assert cache.get("k", lambda: loads.append(1) or "v") == "v"
    assert cache.get("k", lambda: loads.append(1) or "w") == "v"
    assert loads == [1]


def test_concurrent_misses_load_once():
    cache, loads, gate = TTLCache(60), [], threading.Event()

    def load():
        loads.append(1)
        gate.wait(5)
        return "v"

    results: list[str] = []
    threads = [threading.Thread(target=lambda: results.append(cache.get("k", load))) for _ in range(8)]
    for t in threads:
        t.start()
    time.sleep(0.2)
    gate.set()
    for t in threads:
        t.join(5)
    assert results == ["v"] * 8 and loads == [1]


def test_an_expired_value_is_shown_while_one_refresh_runs_and_not_beyond_stale_s():
    cache = TTLCache(0.05, stale_s=0.3)
    cache.get("k", lambda: "old")
    time.sleep(0.1)  # expired, within stale_s
    started, gate = threading.Event(), threading.Event()

    def slow_load():
        started.set()
        gate.wait(5)
        return "new"

    refresher = threading.Thread(target=cache.get, args=("k", slow_load))
    refresher.start()
    assert started.wait(5)
    assert cache.get("k", lambda: pytest.fail("a second load while one runs")) == "old"
    gate.set()
    refresher.join(5)
    assert cache.get("k", lambda: "other") == "new"
    time.sleep(0.05 + 0.3 + 0.05)  # past expiry and stale_s: the old value is not shown again
    assert cache.get("k", lambda: "newest") == "newest"


def test_aget_loads_in_a_thread_and_refreshes_in_the_background():
    cache = TTLCache(0.05, stale_s=5)
    loop_thread: list[threading.Thread] = []
    load_threads: list[threading.Thread] = []

    def load():
        load_threads.append(threading.current_thread())
        return len(load_threads)

    async def main():
        loop_thread.append(threading.current_thread())
        first = await cache.aget("k", load)  # nothing cached: loaded in a worker thread
        await asyncio.sleep(0.1)  # expired
        stale = await cache.aget("k", load)  # shown at once; a refresh starts in the background
        for _ in range(100):
            await asyncio.sleep(0.01)
            if len(load_threads) == 2:
                break
        return first, stale, await cache.aget("k", load)

    first, stale, refreshed = asyncio.run(main())
    assert (first, stale, refreshed) == (1, 1, 2)
    assert loop_thread[0] not in load_threads


def test_a_failing_refresh_keeps_the_old_value_until_stale_s_then_raises():
    cache = TTLCache(0.05, stale_s=0.2)
    cache.get("k", lambda: "old")
    time.sleep(0.1)

    def down():
        raise ConnectionError("node down")

    async def stale_then_error():
        assert await cache.aget("k", down) == "old"
        await asyncio.sleep(0.25)
        with pytest.raises(ConnectionError):
            await cache.aget("k", down)

    asyncio.run(stale_then_error())


def test_entries_stay_bounded():
    cache = TTLCache(60, max_entries=100)
    for i in range(1_000):
        cache.get(i, lambda i=i: i)
    assert len(cache._entries) <= 100
