"""Settlement throughput end to end through the API on anvil: orders escrowed in batches
(`POST /v1/orders/batch`), delivered (the carrier captures its delivery event, `POST
/v1/epcis/capture`, and names it in `POST /v1/orders/deliveries`), and, once the return window has
passed, settled (`POST /v1/orders/settle`), each request waited for. Baseline,
same run and same client path as the API's signer: one plain ERC-20 transfer per order, each
transaction waited for, the least a token payment can cost.
"""

from __future__ import annotations

import time
from pathlib import Path

import httpx

from .fresh import fresh_deployment
from .server import carriers_event, free_port, login, ok, served

RATIO_TARGETS = {"ratio.settle_vs_erc20_transfer": 10}
BATCH, BATCHES, BASELINE = 500, 4, 150
WEEK = 7 * 24 * 3600


def measure(url: str, manifest: Path) -> dict[str, float]:
    w3, dep, accounts, who = fresh_deployment(url, manifest)
    token = dep.contract("SettlementToken")
    who["issuer"].transact(token.functions.mint(who["platform"].address, 10**13))
    members = {label: accounts[m["account_index"]] for label, m in dep.manifest["members"].items()}
    merchants = [members["merchant_a"].address, members["merchant_b"].address]
    refs = [members["producer"].address, members["inspector"].address, members["auditor"].address]
    carrier = members["logistics"].address
    with served(url, manifest, "settle", free_port()) as base, httpx.Client(base_url=base, timeout=300) as c:
        platform, logistics = login(base, members["platform"]), login(base, members["logistics"])
        elapsed = 0.0
        for b in range(BATCHES + 1):  # batch 0 warms up (allowance, first slots, first payees)
            orders = [
                {
                    "order_id": f"FS-{b}-{i}",
                    "merchant": merchants[i % 2],
                    "amount_fen": 1_000 + i,
                    "referrers": refs[: i % 4],
                    "carrier": carrier,
                }
                for i in range(BATCH)
            ]
            t = time.perf_counter()
            ok(c.post("/v1/orders/batch", json={"orders": orders}, headers={**platform, "Idempotency-Key": f"b{b}"}))
            ev = carriers_event(c, logistics, f"FS-{b}")  # the delivery event the carrier captured
            deliveries = [{"order_id": o["order_id"], "epcis_event": ev} for o in orders]
            ok(c.post("/v1/orders/deliveries", json={"deliveries": deliveries}, headers=logistics))
            pause = time.perf_counter()
            w3.provider.make_request("evm_increaseTime", [WEEK + 1])
            w3.provider.make_request("evm_mine", [])
            resumed = time.perf_counter()
            ids = [o["order_id"] for o in orders]
            done = ok(c.post("/v1/orders/settle", json={"order_ids": ids}, headers=platform))
            if len(done["settled"]) != BATCH:
                raise RuntimeError(f"batch {b}: {len(done['settled'])} of {BATCH} settled")
            if b:
                elapsed += time.perf_counter() - t - (resumed - pause)  # the clock jump is not ours
    ours = BATCH * BATCHES / elapsed
    t = time.perf_counter()
    for i in range(BASELINE):
        who["platform"].transact(token.functions.transfer(merchants[0], 10_000 + i))
    base_rate = BASELINE / (time.perf_counter() - t)
    return {
        "settle.orders_per_s": round(ours, 1),
        "baseline.settle.erc20_transfers_per_s": round(base_rate, 1),
        "ratio.settle_vs_erc20_transfer": ours / base_rate,
    }
