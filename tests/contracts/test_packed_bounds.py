"""A packed field cannot overflow into its neighbours: an order's deadline has 40 bits in its
storage word, so governance may not set a settlement timeout or return window that pushes it past
them (a deadline of 2^40 s or more spilled into the status and the terms commitment: the order
matched no terms again and its escrow was locked for good)."""

from conftest import govern, reverts
from eth_utils import keccak

from ledger.money.orders.terms import Batch, OrderTerms

EVENT = keccak(text="urn:epcis:delivery")


def test_governance_cannot_set_periods_that_overflow_a_deadline(
    settlement, funded, governance, governors, platform, merchant
):
    funded.approve(settlement, 2**256 - 1, {"from": platform})
    for setter in ("setTimeout", "setReturnWindow"):
        with reverts("PeriodTooLong"):
            govern(governance, governors, settlement, setter, 2**45)
    govern(governance, governors, settlement, "setTimeout", 100 * 365 * 86400)  # a century still fits
    govern(governance, governors, settlement, "setReturnWindow", 100 * 365 * 86400)
    t = OrderTerms(key=keccak(text="long"), amount=1_000, merchant=merchant.address, payer=platform.address, slot=7)
    b = Batch.of([t])
    settlement.escrow(b.accounts, b.words, {"from": platform})
    settlement.confirmByPlatform(b.accounts, b.words, [EVENT], {"from": platform})
    settlement.refund(b.accounts, b.words[0], b.words[1], 1_000, {"from": platform})
    assert settlement.orderState(b.accounts, b.words[0], b.words[1])[0] == 5 and settlement.totalEscrowed() == 0


def test_governance_cannot_set_a_cooldown_that_overflows(vault, funded, governance, governors, merchant):
    """Outside probe: a withdrawal cooldown of 2^64 - 1 s was taken; every withdrawal request then
    overflowed its unlock time (a panic), so no merchant could withdraw until governance undid it.
    (PurchaseProofs' claim delay is bounded the same way: `DelayTooLong`.)"""
    with reverts("CooldownTooLong"):
        govern(governance, governors, vault, "setCooldown", 2**64 - 1)
    govern(governance, governors, vault, "setCooldown", 2**32)  # ~136 years still fits
    funded.approve(vault, 10, {"from": merchant})
    vault.deposit(10, {"from": merchant})
    vault.requestWithdrawal(1, {"from": merchant})
    govern(governance, governors, vault, "setCooldown", 7 * 24 * 3600)
