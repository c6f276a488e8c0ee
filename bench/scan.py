"""Scan latency: the JSON resolver served by uvicorn (one worker) under 50 concurrent clients,
each scanning random codes of a 1,000-code issue; p50 and p99 in ms. Baseline, same run and same
load: `GET /v1/contracts`, a JSON answer from memory, the floor of the stack.
"""

from __future__ import annotations

import os
import random
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
from eth_account import Account
from eth_account.messages import encode_defunct

from ledger import siwe
from ledger.chain import connect, dev_accounts
from ledger.deploy import deploy
from ledger.paths import ROOT

TARGETS: dict[str, int] = {}
BUDGETS = {"verify.scan_p99_ms": 25}
CLIENTS, REQUESTS = 50, 3_000


def _login(base: str, account) -> dict[str, str]:  # type: ignore[no-untyped-def]
    n = httpx.get(f"{base}/v1/auth/nonce").json()
    now = datetime.now(UTC)
    msg = siwe.build(
        domain=n["domain"],
        address=account.address,
        uri=base,
        chain_id=n["chain_id"],
        nonce=n["nonce"],
        issued_at=now,
        expiration_time=now + timedelta(minutes=30),
    )
    sig = "0x" + Account.sign_message(encode_defunct(text=msg), account.key).signature.hex().removeprefix("0x")
    token = httpx.post(f"{base}/v1/auth/login", json={"message": msg, "signature": sig}).json()["token"]
    return {"Authorization": f"Bearer {token}"}


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
    base = f"http://127.0.0.1:{port}"
    data = manifest.parent / "scan-bench"
    env = {
        **os.environ,
        "LEDGER_RPC_URL": url,
        "LEDGER_MANIFEST": str(manifest),
        "LEDGER_DATA_DIR": str(data),
        "LEDGER_DATABASE_URL": f"sqlite:///{manifest.parent / 'scan.sqlite3'}",
        "LEDGER_PUBLIC_RATE": "10000000",
        "LEDGER_SIWE_DOMAIN": f"127.0.0.1:{port}",
        "LEDGER_RESOLVER_URL": base,
    }
    server = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "api.app:app", "--port", str(port), "--log-level", "warning"],
        cwd=ROOT,
        env=env,
    )
    try:
        for _ in range(200):
            try:
                httpx.get(f"{base}/healthz", timeout=1)
                break
            except httpx.HTTPError:
                time.sleep(0.1)
        h = _login(base, merchant)
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
        floor = _load([f"{base}/v1/contracts"] * REQUESTS, {})
    finally:
        server.terminate()
        server.wait(timeout=30)
    return {
        "verify.scan_p50_ms": _pct(scans, 0.50),
        "verify.scan_p99_ms": _pct(scans, 0.99),
        "verify.scans_per_s": round(scan_rate, 1),
        "baseline.verify.contracts_p99_ms": _pct(floor, 0.99),
        "ratio.scan_p99_vs_contracts_p99": _pct(scans, 0.99) / max(_pct(floor, 0.99), 0.01),
    }
