"""Scan latency: the JSON resolver served by uvicorn (one worker) under 50 concurrent clients,
each scanning random codes of a 1,000-code issue; p50 and p99 in ms. Baseline, same run and same
load: `GET /livez`, the smallest JSON answer the stack gives (no database, no node): its floor.
"""

from __future__ import annotations

import os
import random
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx

from ledger.chain import connect, dev_accounts
from ledger.deploy import deploy

from .server import login, served

TARGETS: dict[str, int] = {}
BUDGETS = {"verify.scan_p99_ms": 25}
CLIENTS, REQUESTS = 50, 3_000


def _load(urls: list[str], headers: dict[str, str]) -> list[float]:
    def one(url: str) -> float:
        t = time.perf_counter()
        r = client.get(url, headers=headers)
        r.raise_for_status()
        return (time.perf_counter() - t) * 1000

    with (
        httpx.Client(limits=httpx.Limits(max_connections=CLIENTS), timeout=30) as client,
        ThreadPoolExecutor(CLIENTS) as pool,
    ):
        return sorted(pool.map(one, urls))


def _pct(values: list[float], p: float) -> float:
    return round(values[min(len(values) - 1, int(len(values) * p))], 2)


def measure(url: str, manifest: Path) -> dict[str, float]:
    dep, _ = deploy(connect(url), manifest)
    merchant = dev_accounts(20)[dep.manifest["members"]["merchant_a"]["account_index"]]
    port = 8700 + os.getpid() % 200
    with served(url, manifest, "scan", port) as base:
        h = login(base, merchant)
        httpx.post(f"{base}/v1/products", json={"gtin": "06901234567892", "name": "bench tea"}, headers=h)
        httpx.post(f"{base}/v1/batches", json={"gtin": "06901234567892", "lot": "SCAN"}, headers=h)
        issue = httpx.post(
            f"{base}/v1/batches/06901234567892/SCAN/codes", json={"count": 1000}, headers=h, timeout=60
        ).json()
        rows = httpx.get(base + issue["csv_url"], headers=h).text.splitlines()[1:]
        uris = [line.split(",", 1)[1] for line in rows]
        rng = random.Random(7)
        picks = [rng.choice(uris) for _ in range(REQUESTS)]
        _load(picks[:200], {"Accept": "application/json"})  # warm-up: caches, connections
        t = time.perf_counter()
        scans = _load(picks, {"Accept": "application/json"})
        scan_rate = REQUESTS / (time.perf_counter() - t)
        floor = _load([f"{base}/livez"] * REQUESTS, {})
    return {
        "verify.scan_p50_ms": _pct(scans, 0.50),
        "verify.scan_p99_ms": _pct(scans, 0.99),
        "verify.scans_per_s": round(scan_rate, 1),
        "baseline.verify.livez_p99_ms": _pct(floor, 0.99),
        "ratio.scan_p99_vs_livez_p99": _pct(scans, 0.99) / max(_pct(floor, 0.99), 0.01),
    }
