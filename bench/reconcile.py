"""Reconciliation throughput: 1,000,000 orders against their on-chain records, in memory.

The chain records are what `chain_records()` loads from the indexed events; the orders are a
platform export. About 2% of orders carry a problem (amount off, wrong status, missing on
chain, duplicated) and 1% of escrows are unknown, so every branch runs. Timed: `reconcile()`
itself, order-key hashing included. Baseline, same run: the same classification with the
order key computed by eth_utils' keccak and records looked up by scanning per-merchant lists
(a join without the hash index), on a 20,000-order slice.
"""

from __future__ import annotations

import time
from pathlib import Path

from eth_utils import keccak

from ledger.money.recon.reconcile import ChainRecord, OrderRow, order_key_hex, reconcile

TARGETS = {"reconcile.orders_per_s": 200_000}  # information: the reference machine's figure
RATIO_TARGETS = {"ratio.reconcile_vs_scan_join": 1.3}  # 1.53-2.0 seen; 200,000 / 153,498 where set
N = 1_000_000
MERCHANTS = [f"0x{i:040x}" for i in range(1, 201)]


def _inputs(n: int) -> tuple[list[OrderRow], dict[str, ChainRecord]]:
    orders, chain = [], {}
    for i in range(n):
        oid = f"SO{i:09d}"
        merchant = MERCHANTS[i % len(MERCHANTS)]
        amount = 1_000 + (i * 7919) % 500_000
        status = "settled" if i % 3 else "paid"
        key = order_key_hex(oid)
        if i % 97 != 5:  # ~1% missing on chain
            chain_amount = amount + 1 if i % 211 == 7 else amount
            chain_status = "refunded" if i % 307 == 11 else ("settled" if i % 3 else "escrowed")
            chain[key] = ChainRecord(key, merchant, chain_amount, chain_status, i % 401 != 3)
        orders.append(OrderRow(oid, merchant, amount, status))
        if i % 499 == 13:
            orders.append(OrderRow(oid, merchant, amount, status))
    for j in range(n // 100):
        key = order_key_hex(f"stray-{j}")
        chain[key] = ChainRecord(key, MERCHANTS[j % len(MERCHANTS)], 777, "settled")
    return orders, chain


def _baseline(orders: list[OrderRow], chain: dict[str, ChainRecord]) -> int:
    by_merchant: dict[str, list[ChainRecord]] = {}
    for c in chain.values():
        by_merchant.setdefault(c.merchant, []).append(c)
    classified = 0
    for o in orders:
        key = "0x" + keccak(text=o.order_id).hex()
        match = next((c for c in by_merchant.get(o.merchant, ()) if c.order_key == key), None)
        classified += match is not None
    return classified


def measure(url: str, manifest: Path) -> dict[str, float]:
    orders, chain = _inputs(N)
    t = time.perf_counter()
    report = reconcile(orders, chain)
    elapsed = time.perf_counter() - t
    assert report.inputs["order_rows"] == len(orders)
    sample = orders[:20_000]
    sample_keys = {order_key_hex(o.order_id) for o in sample}
    sample_chain = {k: v for k, v in chain.items() if k in sample_keys}
    t = time.perf_counter()
    _baseline(sample, sample_chain)
    base = len(sample) / (time.perf_counter() - t)
    ours = len(orders) / elapsed
    return {
        "reconcile.orders_per_s": round(ours),
        "reconcile.orders": len(orders),
        "reconcile.seconds": round(elapsed, 2),
        "baseline.reconcile.scan_join_orders_per_s": round(base),
        "ratio.reconcile_vs_scan_join": ours / base,
    }
