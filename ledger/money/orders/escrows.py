"""Escrowing a batch of new orders into the platform's settlement slots (`lifecycle.escrow_orders`
calls it): the slots taken in the `order_slots` table, the terms built with the referral rates each
merchant agreed to, and the few refusals a second attempt mends."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session as DbSession

from ledger.chain.client import Sender, TransactionFailed
from ledger.chain.deploy import Deployment
from ledger.chain.finality import final_block
from ledger.money.orders import settlement
from ledger.money.orders.books import free_slots, mark_foreign, take_slots
from ledger.money.orders.terms import OrderTerms


@dataclass(frozen=True)
class NewOrder:
    order_id: str
    merchant: str
    amount_fen: int
    referrers: tuple[str, ...] = ()
    carrier: str | None = None
    shopper: str | None = None


def escrow_with_slots(
    db: DbSession, dep: Deployment, platform: Sender, new: Sequence[NewOrder], keys: list[bytes], rule: dict[str, Any]
) -> tuple[Any, list[OrderTerms]]:
    """Take slots and escrow with the platform's `rule`, each referral level at most what the
    order's merchant agreed to (read now); a slot the chain says is in use elsewhere is set aside,
    and terms a merchant lowered meanwhile read again, and the batch tried again (at most three
    times), so one merchant changing its terms cannot fail the platform's batches."""
    holders = ["0x" + k.hex() for k in keys]
    referring = [n.merchant for n in new if n.referrers]
    floor = int(dep.contract("OrderSettlement").functions.slotHighWater(platform.address).call())
    for attempt in range(3):
        rates = settlement.referral_rates(dep, rule["referral_bps"], referring)
        slots = take_slots(db, holders, max(floor, 1), final_block(dep.w3))
        terms = [
            OrderTerms(
                key=k,
                amount=n.amount_fen,
                merchant=n.merchant,
                payer=platform.address,
                slot=slot,
                referrers=tuple(n.referrers),
                referral_bps=tuple(rates[n.merchant][: len(n.referrers)]) if n.referrers else (),
                platform_fee_bps=rule["platform_fee_bps"],
                carrier=n.carrier,
            )
            for n, k, slot in zip(new, keys, slots, strict=True)
        ]
        try:
            return settlement.escrow(dep, platform, terms), terms
        except TransactionFailed as exc:
            # refused as SlotInUse, or mined and reverted (an earlier attempt was pending when this
            # one was simulated): if the slots hold this very batch, that attempt's answer was lost
            if exc.error in ("SlotInUse", None) and (earlier := settlement.escrowed_before(dep, terms)) is not None:
                return earlier, terms
            free_slots(db, holders, exc.block)
            db.commit()
            if exc.error not in ("SlotInUse", "ReferralAboveTerms") or attempt == 2:
                raise
            if exc.error == "SlotInUse":
                mark_foreign(db, int(exc.error_args[1]))
        # Anything else (the node stopped answering, the receipt did not come in time) leaves the
        # outcome unknown: the slots stay with these keys, so a retry lands in the same slots and
        # either escrows once or finds the earlier escrow there.
    raise AssertionError("unreachable")
