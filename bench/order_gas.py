"""Gas of an order's whole lifecycle (escrow, delivery, settlement) in batches, from the receipts of
real transactions on anvil.

Scenario (the issue's): batches of 500 orders across 50 merchants, three referral levels drawn from
150 referrers, five carriers each confirming its own orders in one transaction. Round 1 writes
fresh settlement slots; rounds 2 and 3 reuse the slots round 1's settled orders freed, which is the
platform's steady state (its slots grow to its peak of open orders, then are rewritten). Baseline,
same run: one plain ERC-20 transfer per order.

Also measured: what one disputed order costs a settlement batch (it is skipped, not reverted), what
a batch costs per order at 1, 10, 100 and 500 orders, and the one-order calls (naming a carrier, a
refund before and after delivery, a dispute, an arbiter's ruling).
"""

from __future__ import annotations

import random
from dataclasses import replace
from pathlib import Path
from typing import Any

from eth_account import Account

from ledger.chain.governance import encode
from ledger.money.orders import settlement
from ledger.money.orders.terms import OrderTerms

from .fresh import fresh_deployment

# 40,000 until the merchants' referral terms (2026-12-06): each order with referrers now reads its
# merchant's terms (a cold read per merchant per batch, a warm one per order) and compares three
# rates, +1,916 gas (38,904 -> 40,820): the price of the platform no longer deciding alone how much of a
# merchant's proceeds referrers get. 42,000 until referrers had to be parties of their own
# (2026-12-07): each order's referrers compared by index with its merchant, its payer and each
# other, over an accounts table each escrow checks to be ascending (so that two indexes are two
# addresses), whose indexes then cost more calldata: +1,228 gas (40,820 -> 42,048), the price of the
# platform no longer naming itself a referrer, or one address at every level
BUDGETS = {"gas.per_order_lifecycle": 43_000}
BATCH, MERCHANTS, REFERRERS, CARRIERS, ROUNDS = 500, 50, 150, 5, 3
WEEK = 7 * 24 * 3600
RATES = (1000, 500, 300)  # referral levels 1-3, basis points


def _admit(dep: Any, governors: list[Any], addresses: list[str], roles: list[str]) -> None:
    gov = dep.contract("Governance")
    pending = []
    for a in addresses:
        target, data = encode(dep, {"type": "admit_member", "address": a, "roles": roles})
        pending.append(governors[0].submit(gov.functions.propose(target, data)))
    for h in pending:
        governors[0].wait(h)
    first = gov.functions.proposalCount().call() - len(addresses) + 1
    for h in [governors[1].submit(gov.functions.approve(pid)) for pid in range(first, first + len(addresses))]:
        governors[1].wait(h)


class _World:
    def __init__(self, url: str, manifest: Path):
        w3, dep, accounts, who = fresh_deployment(url, manifest)
        self.w3, self.dep, self.platform = w3, dep, who["platform"]
        self.arbiter = accounts[dep.manifest["members"]["arbiter"]["account_index"]]
        r = random.Random(7)
        self.r = r
        merchants = [Account.create() for _ in range(MERCHANTS)]
        self.merchants = [m.address for m in merchants]
        self.referrers = [Account.create().address for _ in range(REFERRERS)]
        carriers = [Account.create() for _ in range(CARRIERS)]
        governors = [dep.sender(accounts[0]), dep.sender(accounts[1])]
        _admit(dep, governors, self.merchants, ["merchant"])
        _admit(dep, governors, [c.address for c in carriers], ["logistics"])
        for c in [*carriers, *merchants]:  # gas money for their own transactions (anvil's account 0 is unlocked)
            w3.eth.wait_for_transaction_receipt(
                w3.eth.send_transaction({"from": accounts[0].address, "to": c.address, "value": 10**18})
            )
        self.carriers = [dep.sender(c) for c in carriers]
        for m in merchants:  # each merchant agrees, with its own key, to the referral rates its orders pay
            settlement.set_referral_terms(dep, dep.sender(m), RATES)
        token = dep.contract("SettlementToken")
        who["issuer"].transact(token.functions.mint(self.platform.address, 10**15))
        self.n = 0

    def orders(self, count: int, slots: list[int]) -> list[OrderTerms]:
        out = []
        for i in range(count):
            self.n += 1
            refs = tuple(self.r.sample(self.referrers, 3))
            out.append(
                OrderTerms(
                    key=self.r.randbytes(32),
                    amount=self.r.randint(990, 99_900),
                    merchant=self.merchants[self.n % MERCHANTS],
                    payer=self.platform.address,
                    slot=slots[i],
                    referrers=refs,
                    referral_bps=RATES,
                    platform_fee_bps=500,
                    carrier=self.carriers[self.n % CARRIERS].address,
                )
            )
        return out

    def later(self, seconds: int) -> None:
        self.w3.provider.make_request("evm_increaseTime", [seconds])
        self.w3.provider.make_request("evm_mine", [])

    def lifecycle(self, orders: list[OrderTerms], disputed: int = 0) -> dict[str, int]:
        """Gas of escrow, delivery and settlement of `orders` (the first `disputed` disputed)."""
        gas = {"escrow": settlement.escrow(self.dep, self.platform, orders)["gasUsed"], "deliver": 0}
        for c in self.carriers:
            mine = [t for t in orders if t.carrier == c.address]
            if mine:
                gas["deliver"] += settlement.confirm_deliveries(self.dep, c, mine, [t.key for t in mine])["gasUsed"]
        for t in orders[:disputed]:
            settlement.dispute(self.dep, self.platform, t)
        self.later(WEEK + 1)
        gas["settle"] = settlement.settle(self.dep, self.platform, orders)["gasUsed"]
        return gas

    def one_order_steps(self, slot: int) -> dict[str, int]:
        """Gas of the one-order calls: set a carrier, refund before and after delivery, dispute, rule."""
        (t,) = self.orders(1, [slot])
        carrier = t.carrier
        t = replace(t, carrier=None)
        settlement.escrow(self.dep, self.platform, [t])
        gas = {"set_carrier": settlement.set_carrier(self.dep, self.platform, t, carrier)["gasUsed"]}
        t = replace(t, carrier=carrier)
        gas["refund_escrowed"] = settlement.refund(self.dep, self.platform, t, 10)["gasUsed"]
        c = next(c for c in self.carriers if c.address == carrier)
        settlement.confirm_deliveries(self.dep, c, [t], [t.key])
        gas["refund_delivered"] = settlement.refund(self.dep, self.platform, t, 10)["gasUsed"]
        gas["dispute"] = settlement.dispute(self.dep, self.platform, t)["gasUsed"]
        sig = settlement.sign_ruling(self.dep, self.arbiter.key, t.key, t.payer, 100, t.slot)
        gas["rule"] = settlement.rule(self.dep, self.platform, t, 100, [sig])["gasUsed"]
        return gas


def measure(url: str, manifest: Path) -> dict[str, float]:
    w = _World(url, manifest)
    metrics: dict[str, float] = {}
    slots = list(range(1, BATCH + 1))
    rounds = [w.lifecycle(w.orders(BATCH, slots)) for _ in range(ROUNDS)]
    per = [sum(g.values()) / BATCH for g in rounds]
    metrics["gas.per_order_lifecycle_fresh_slots"] = round(per[0])
    metrics["gas.per_order_lifecycle"] = round(max(per[1:]))
    steady = rounds[-1]
    for step in ("escrow", "deliver", "settle"):
        metrics[f"gas.per_order_{step}"] = round(steady[step] / BATCH)
    metrics["orders_per_30m_block.lifecycle"] = int(30_000_000 // metrics["gas.per_order_lifecycle"])
    metrics["orders_per_30m_block.escrow"] = int(30_000_000 // metrics["gas.per_order_escrow"])

    # one disputed order in a settlement batch of 500: skipped, the rest settle
    clean = rounds[-1]["settle"]
    with_one = w.lifecycle(w.orders(BATCH, slots), disputed=1)["settle"]
    metrics["gas.settle_batch_500"] = clean
    metrics["gas.settle_batch_500_one_disputed"] = with_one
    # gas per order falls with the batch
    next_slot = BATCH + 1
    for size in (1, 10, 100):
        g = w.lifecycle(w.orders(size, list(range(next_slot, next_slot + size))))
        metrics[f"gas.per_order_lifecycle_batch_{size}_fresh"] = round(sum(g.values()) / size)
        next_slot += size

    for step, used in w.one_order_steps(next_slot).items():
        metrics[f"gas.one_order_{step}"] = used

    # baseline: one ERC-20 transfer per order, same run
    token = w.dep.contract("SettlementToken")
    transfers = [
        w.platform.transact(token.functions.transfer(w.merchants[i], 10_000 + i))["gasUsed"] for i in range(20)
    ]
    metrics["baseline.gas.erc20_transfer"] = max(transfers)
    metrics["ratio.lifecycle_vs_erc20_transfer"] = (
        metrics["gas.per_order_lifecycle"] / metrics["baseline.gas.erc20_transfer"]
    )
    return metrics
