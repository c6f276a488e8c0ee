"""Settlement throughput end to end on anvil: escrow and confirm an order (two signed
transactions, each waited for), through `ledger.money` exactly as the API does it. Baseline, same
run and same client path: one plain ERC-20 transfer per order, the least a token payment can cost.
"""

from __future__ import annotations

import time
from pathlib import Path

from ledger.money import settlement

from .fresh import fresh_deployment

ORDERS = 150


def measure(url: str, manifest: Path) -> dict[str, float]:
    _, dep, accounts, who = fresh_deployment(url, manifest)
    platform, merchant = who["platform"], who["merchant_a"].address
    token = dep.contract("SettlementToken")
    who["issuer"].transact(token.functions.mint(platform.address, 10**12))
    refs = [accounts[i].address for i in (13, 14, 15)]
    settlement.escrow(dep, platform, "warm-up", merchant, platform.address, 100, refs, [500, 200, 100], 300)
    t = time.perf_counter()
    for i in range(ORDERS):
        settlement.escrow(
            dep, platform, f"bench-{i}", merchant, platform.address, 10_000 + i, refs, [500, 200, 100], 300
        )
        settlement.confirm(dep, platform, f"bench-{i}")
    ours = ORDERS / (time.perf_counter() - t)
    t = time.perf_counter()
    for i in range(ORDERS):
        platform.transact(token.functions.transfer(merchant, 10_000 + i))
    base = ORDERS / (time.perf_counter() - t)
    return {
        "settle.orders_per_s": round(ours, 1),
        "baseline.settle.erc20_transfers_per_s": round(base, 1),
        "ratio.settle_vs_erc20_transfer": ours / base,
    }
