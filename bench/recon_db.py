"""Reconciliation streamed from PostgreSQL: 1,000,000 orders and their indexed escrow events read
from the database as part of the measured time, and the resident memory it takes at 100,000 and
at 1,000,000 orders (it must stay flat).

Each measurement runs in a process of its own (`python -m bench.recon_db SCHEMA`), and its peak
resident memory is read as the kernel's high-water mark of that process's own memory (`VmHWM`):
`getrusage`'s `ru_maxrss` survives fork and exec, so a child of a 1 GB parent reads 1 GB.

Baseline, same run, same database and process kind: reading the same
two sorted queries through the same server-side cursors, doing nothing with the rows; the ratio
says what the classification, the folding of events per key and the hashing of the inputs cost
on top of merely reading.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

from sqlalchemy import create_engine, text

from ledger.devnet.servers import LocalPostgres
from ledger.paths import ROOT, data_dir
from ledger.store.db import make_engine, migrate

from .reconcile import MERCHANTS

BUDGETS = {"reconcile.peak_rss_mb_per_million": 400}  # bytes are absolute: resident memory at 1M orders
RATIO_BUDGETS = {"ratio.reconcile_rss_1m_vs_100k": 1.5}  # flat: 10x the orders, at most 1.5x the memory
RATIO_TARGETS = {"ratio.reconcile_db_vs_raw_read": 0.25}
SIZES = {"small": 100_000, "large": 1_000_000}


def _fill(url: str, schema: str, n: int) -> None:
    """n orders (about 1% missing on chain, 0.5% amounts off) and their escrow events, by COPY."""
    from ledger.money.recon.reconcile import order_key_hex

    admin = create_engine(url)
    with admin.begin() as conn:
        conn.execute(text(f"DROP SCHEMA IF EXISTS {schema} CASCADE; CREATE SCHEMA {schema}"))
    engine = make_engine(f"{url}?options=-csearch_path%3D{schema}")
    migrate(engine)
    raw = engine.raw_connection()
    try:
        cur = raw.cursor()
        cols = "order_id, order_key, merchant, payer, amount_fen, refunded_fen, referrers, platform_fee_bps, status, "
        cols += "escrow_tx, history, created_at, updated_at"
        with cur.copy(f"COPY orders ({cols}) FROM STDIN") as copy:
            for i in range(n):
                copy.write_row((f"SO{i:09d}", order_key_hex(f"SO{i:09d}"), MERCHANTS[i % 200], MERCHANTS[0],
                                1_000 + (i * 7919) % 500_000, 0, "[]", 0, "escrowed", "0x", "[]",
                                "2026-11-30T00:00:00Z", "2026-11-30T00:00:00Z"))  # fmt: skip
        with cur.copy("COPY chain_events (tx_hash, log_index, block_number, block_hash, contract, event, key, args, "
                      "final) FROM STDIN") as copy:  # fmt: skip
            for i in range(n):
                if i % 97 == 5:
                    continue
                amount = 1_000 + (i * 7919) % 500_000 + (i % 211 == 7)
                key = order_key_hex(f"SO{i:09d}")
                args = json.dumps({"key": key, "merchant": MERCHANTS[i % 200], "terms": str(amount)})
                copy.write_row(
                    (f"0x{i:064x}", 0, 100 + i // 500, "0x", "OrderSettlement", "OrderEscrowed", key, args, True)
                )
        raw.commit()
    finally:
        raw.close()
    engine.dispose()
    admin.dispose()


def _child(url: str, schema: str, mode: str) -> None:
    from ledger.money.recon.inputs import BATCH, chain_sorted
    from ledger.money.recon.stream import orders_sorted, stream

    engine = make_engine(f"{url}?options=-csearch_path%3D{schema}")
    t = time.perf_counter()
    if mode == "ours":
        tally = stream(orders_sorted(engine), chain_sorted(engine))
        count = tally.orders
        assert tally.totals["missing_on_chain"]["count"] and tally.totals["amount_mismatch"]["count"]
    else:  # the same two sorted queries, read and dropped
        count = 0
        with engine.connect().execution_options(stream_results=True, yield_per=BATCH) as conn:
            for q in (
                'SELECT order_id, merchant, amount_fen, status, order_key FROM orders ORDER BY order_key COLLATE "C"',
                'SELECT key, event, args, final, block_number FROM chain_events ORDER BY key COLLATE "C", block_number',
            ):
                for _ in conn.exec_driver_sql(q):
                    count += q.startswith("SELECT order_id")
    elapsed = time.perf_counter() - t
    print(json.dumps({"orders": count, "seconds": elapsed, "rss_mb": peak_rss_mb()}))


def peak_rss_mb() -> float:
    """This process's peak resident memory since its exec (not its parent's: see the docstring)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmHWM in /proc/self/status")


def _run(url: str, schema: str, mode: str) -> dict:
    out = subprocess.run([sys.executable, "-m", "bench.recon_db", url, schema, mode], cwd=ROOT, capture_output=True,
                         text=True, check=True, env=os.environ)  # fmt: skip
    return json.loads(out.stdout.strip().splitlines()[-1])


def measure(url_: str, manifest: Path) -> dict[str, float]:
    pg = LocalPostgres(data_dir() / "bench-postgresql")
    url = pg.start()
    try:
        for schema, n in SIZES.items():
            _fill(url, f"recon_{schema}", n)
        small = _run(url, "recon_small", "ours")
        large = _run(url, "recon_large", "ours")
        raw = _run(url, "recon_large", "raw")
    finally:
        pg.stop()
        shutil.rmtree(pg.root, ignore_errors=True)
    ours = large["orders"] / large["seconds"]
    base = raw["orders"] / raw["seconds"]
    return {
        "reconcile.db_orders_per_s": round(ours),
        "baseline.reconcile.db_raw_read_orders_per_s": round(base),
        "ratio.reconcile_db_vs_raw_read": ours / base,
        "reconcile.peak_rss_mb_at_100k": round(small["rss_mb"], 1),
        "reconcile.peak_rss_mb_per_million": round(large["rss_mb"], 1),
        "ratio.reconcile_rss_1m_vs_100k": large["rss_mb"] / small["rss_mb"],
    }


if __name__ == "__main__":
    _child(*sys.argv[1:4])
