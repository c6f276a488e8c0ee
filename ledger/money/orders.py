"""The platform's orders: escrowed on chain, then settled or refunded, mirrored in the `orders`
table. Shared by the API and the CLI. The row is added only after the transaction is mined; the
caller commits (so it can commit other rows, such as an idempotent answer, in the same breath)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.orm import Session as DbSession

from ledger.chain.client import Sender
from ledger.chain.deploy import Deployment
from ledger.errors import Conflict, NotFound
from ledger.store.models import CommissionRule, Order

from . import settlement

DEFAULT_RULE = {"platform_fee_bps": 500, "referral_bps": [500, 200, 100]}


def _tx(receipt: Any) -> str:
    return "0x" + bytes(receipt["transactionHash"]).hex()


def current_rule(db: DbSession) -> dict[str, Any]:
    """The platform's split for new orders (the default until an operator sets one)."""
    row = db.get(CommissionRule, 1)
    if row is None:
        return dict(DEFAULT_RULE)
    return {"platform_fee_bps": row.platform_fee_bps, "referral_bps": json.loads(row.referral_bps)}


def escrow_order(
    db: DbSession,
    dep: Deployment,
    platform: Sender,
    *,
    order_id: str,
    merchant: str,
    amount_fen: int,
    referrers: list[str],
    payer: str | None = None,
) -> Order:
    """Escrow `order_id` on chain with the current commission rule; add (not commit) its row."""
    if db.get(Order, order_id) is not None:
        raise Conflict(f"order {order_id} already exists")
    rule = current_rule(db)
    bps = rule["referral_bps"][: len(referrers)]
    payer = payer or platform.address
    receipt = settlement.escrow(
        dep, platform, order_id, merchant, payer, amount_fen, referrers, bps, rule["platform_fee_bps"]
    )
    now = datetime.now(UTC)
    order = Order(
        order_id=order_id,
        order_key="0x" + settlement.order_key(order_id).hex(),
        merchant=merchant,
        payer=payer,
        amount_fen=amount_fen,
        referrers=json.dumps([[a, b] for a, b in zip(referrers, bps, strict=True)]),
        platform_fee_bps=rule["platform_fee_bps"],
        status="escrowed",
        escrow_tx=_tx(receipt),
        created_at=now,
        updated_at=now,
    )
    db.add(order)
    return order


ACTIONS = {"confirm": settlement.confirm, "refund": settlement.refund, "settle-timeout": settlement.settle_on_timeout}


def close_order(
    db: DbSession, dep: Deployment, sender: Sender, order_id: str, action: str
) -> tuple[Order, dict[str, Any] | None]:
    """Confirm, refund or settle-on-timeout `order_id`; commit its new status; return it and the split."""
    order = db.get(Order, order_id)
    if order is None:
        raise NotFound(f"order {order_id} not found")
    receipt = ACTIONS[action](dep, sender, order_id)
    order.status = "refunded" if action == "refund" else "settled"
    order.close_tx, order.updated_at = _tx(receipt), datetime.now(UTC)
    db.commit()
    return order, settlement.settlement_of(dep, receipt)
