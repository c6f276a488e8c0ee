"""Scan latency: the JSON resolver (uvicorn, one worker per core) under 50 concurrent clients,
each scanning random codes of a 1,000-code issue back to back; p50 and p99 in ms.

The load comes from wrk (C, Debian package `wrk`), 50 keep-alive connections on one thread: a
Python load generator on the same two cores measured itself (its floor, `/livez`, was ~470 ms
p99). Baseline, same run and load: `GET /livez`, the smallest JSON answer the stack gives (no
database, no node). After the run, every scan wrk saw answered must be in the database.
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import tempfile
from pathlib import Path

import httpx

from ledger.chain.client import connect, dev_accounts
from ledger.chain.deploy import deploy

from .server import login, served

INFO_BUDGETS = {"verify.scan_p99_ms": 25}  # information: the reference machine's figure
RATIO_BUDGETS = {"ratio.scan_p99_vs_livez_p99": 5}  # p99 25 ms against a 5 ms floor, where it was set
CLIENTS, SECONDS, WORKERS = 50, 15, 2

# wrk script: random codes from `paths`, and a JSON summary of latency (µs) and errors at the end
_LUA = """
math.randomseed(7)
request = function()
  return wrk.format("GET", paths[math.random(#paths)], {["Accept"] = "application/json"})
end
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format('\\nRESULT {"p50": %d, "p99": %d, "requests": %d, "seconds": %f, "errors": %d}\\n',
    latency:percentile(50), latency:percentile(99), summary.requests, summary.duration / 1e6,
    e.connect + e.read + e.write + e.status + e.timeout))
end
"""


def _wrk(url: str, paths: list[str], seconds: int) -> dict[str, float]:
    wrk = shutil.which("wrk")
    if wrk is None:
        raise RuntimeError("the scan benchmark needs wrk (Debian package wrk; `make bench` installs it)")
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as f:
        f.write("paths = " + "{" + ",".join(json.dumps(p) for p in paths) + "}\n" + _LUA)
    try:
        out = subprocess.run(
            [wrk, "-t1", f"-c{CLIENTS}", f"-d{seconds}s", "-s", f.name, url], capture_output=True, text=True, check=True
        ).stdout
    finally:
        os.unlink(f.name)
    result = json.loads(out.rsplit("RESULT ", 1)[1])
    if result["errors"]:
        raise RuntimeError(f"wrk saw {result['errors']} failed requests:\n{out}")
    return result


def measure(url: str, manifest: Path) -> dict[str, float]:
    dep, _ = deploy(connect(url), manifest)
    merchant = dev_accounts(20)[dep.manifest["members"]["merchant_a"]["account_index"]]
    port = 8700 + os.getpid() % 200
    with served(url, manifest, "scan", port, workers=WORKERS) as base:
        h = login(base, merchant)
        httpx.post(f"{base}/v1/products", json={"gtin": "06901234567892", "name": "bench tea"}, headers=h)
        httpx.post(f"{base}/v1/batches", json={"gtin": "06901234567892", "lot": "SCAN"}, headers=h)
        issue = httpx.post(
            f"{base}/v1/batches/06901234567892/SCAN/codes", json={"count": 1000}, headers=h, timeout=60
        ).json()
        rows = httpx.get(base + issue["csv_url"], headers=h).text.splitlines()[1:]
        paths = ["/" + line.split(",", 1)[1].split("/", 3)[3] for line in rows]
        warm = _wrk(base, paths, 5)  # warm-up: every code verified and cached once, in both workers
        scans = _wrk(base, paths, SECONDS)
        floor = _wrk(f"{base}/livez", ["/livez"], SECONDS)
    # the server has stopped (its last scans written): every answered scan must be stored
    with sqlite3.connect(manifest.parent / "scan.sqlite3") as db:
        stored = db.execute("SELECT count(*) FROM scans").fetchone()[0]
    if stored < warm["requests"] + scans["requests"]:
        raise RuntimeError(f"{stored} scans stored of {warm['requests'] + scans['requests']} answered")
    p99, floor_p99 = scans["p99"] / 1000, floor["p99"] / 1000
    return {
        "verify.scan_p50_ms": round(scans["p50"] / 1000, 2),
        "verify.scan_p99_ms": round(p99, 2),
        "verify.scans_per_s": round(scans["requests"] / scans["seconds"], 1),
        "baseline.verify.livez_p99_ms": round(floor_p99, 2),
        "baseline.verify.livez_per_s": round(floor["requests"] / floor["seconds"], 1),
        "ratio.scan_p99_vs_livez_p99": round(p99 / max(floor_p99, 0.01), 2),
    }
