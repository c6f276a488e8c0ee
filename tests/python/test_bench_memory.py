"""A benchmark's peak memory is its own process's: `ru_maxrss` survives fork and exec, so a part
measured in a child of a parent that once held 1 GB read 1 GB (bench/recon_db.py, make bench)."""

from __future__ import annotations

import os
import subprocess
import sys

from ledger.paths import ROOT


def test_a_child_of_a_large_parent_reads_its_own_peak():
    ballast = bytearray(400 << 20)
    ballast[:: 1 << 12] = b"\1" * len(range(0, len(ballast), 1 << 12))  # touched: resident
    try:
        out = subprocess.run(
            [sys.executable, "-c", "from bench.recon_db import peak_rss_mb; print(peak_rss_mb())"],
            cwd=ROOT, env=os.environ, capture_output=True, text=True, check=True,
        )  # fmt: skip
    finally:
        del ballast
    assert float(out.stdout) < 200, out.stdout  # python, sqlalchemy and psycopg: well under 200 MB
