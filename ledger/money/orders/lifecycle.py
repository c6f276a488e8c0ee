"""The platform's orders through their lifecycle, on chain and in the `orders` table, shared by the
API and the CLI: escrow (in batches), delivery confirmed by the carrier (or the platform, for an
order without one), refunds within the return window, disputes and rulings, settlement in batches.

Each step checks what it can against the table first, so a request that cannot succeed costs no
transaction and gets a clear error; the contract checks everything again. Rows change only after
the transaction is mined (a refund's, a dispute's or a ruling's: final, `reorged.as_final`), each change
appended to the order's `history`. The caller commits.
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session as DbSession

from ledger.chain.client import Sender
from ledger.chain.deploy import Deployment
from ledger.errors import Conflict, InvalidInput, NotFound
from ledger.money.orders import settlement
from ledger.money.orders.books import free_slots, order_secret, terms_of
from ledger.money.orders.escrows import NewOrder, escrow_with_slots
from ledger.money.orders.reorged import as_final
from ledger.money.orders.terms import MAX_AMOUNT, order_key, order_salt
from ledger.store.models import CommissionRule, Order

DEFAULT_RULE = {"platform_fee_bps": 500, "referral_bps": [500, 200, 100]}
OPEN = ("escrowed", "delivered", "disputed")
#: orders per escrow, delivery or settlement transaction, to fit a 30,000,000-gas block: escrow into
#: fresh slots is the costliest step, ~40,000 gas an order (`make bench`: gas.per_order_lifecycle_fresh_slots
#: 65,006 against 40,877 reusing them, of which escrow 15,767), so 500 take ~20,000,000; 1,000 did not
#: fit (the node's estimate: gas required exceeds allowance), and were answered with a 500
MAX_BATCH = 500


def current_rule(db: DbSession) -> dict[str, Any]:
    """The platform's split for new orders (the default until an operator sets one)."""
    row = db.get(CommissionRule, 1)
    if row is None:
        return dict(DEFAULT_RULE)
    return {"platform_fee_bps": row.platform_fee_bps, "referral_bps": json.loads(row.referral_bps)}


def tx_of(receipt: Any) -> str:
    return "0x" + bytes(receipt["transactionHash"]).hex()


def from_epoch(seconds: int) -> datetime:
    return datetime.fromtimestamp(seconds, UTC)


def _chain_now(dep: Deployment) -> int:
    return int(dep.w3.eth.get_block("latest")["timestamp"])


def next_block_time(dep: Deployment) -> int:
    """The least timestamp the block a settlement goes into will carry: never before its parent's,
    nor before the clock (a Clique block is sealed no earlier than its timestamp; a node that
    mines on demand, anvil with `LEDGER_BLOCK_TIME=0`, stamps the time it mines). The newest
    block's time alone never moved on such a node while nobody else transacted, so an order due by
    the clock was skipped again at every try. If this host's clock runs ahead, the contract, which
    decides, skips what is not due yet and the answer says so."""
    return max(_chain_now(dep), int(time.time()))


def log_step(o: Order, status: str, tx: str, receipt: Any = None, **detail: Any) -> None:
    """Add a step to the order's history. With the step's receipt, the entry names its block and
    index in it and goes in chain order: a step written after a later one (a delivery's batch
    written after a refund mined after it) is listed before it, not after."""
    now = datetime.now(UTC)
    entry = {"status": status, "tx": tx, "at": now.isoformat(), **detail}
    history = json.loads(o.history or "[]")
    at = len(history)
    if receipt is not None and "blockNumber" in receipt and "transactionIndex" in receipt:
        entry["block"], entry["tx_index"] = int(receipt["blockNumber"]), int(receipt["transactionIndex"])
        mine = (entry["block"], entry["tx_index"])
        while at and "block" in history[at - 1] and (history[at - 1]["block"], history[at - 1]["tx_index"]) > mine:
            at -= 1  # an entry with no position (written before positions were) stays where it is
    history.insert(at, entry)
    o.history = json.dumps(history)
    o.status, o.updated_at = status, now


def load_rows(db: DbSession, order_ids: Sequence[str]) -> list[Order]:
    if not order_ids:
        raise InvalidInput("no orders named")
    if len(order_ids) > MAX_BATCH:
        raise InvalidInput(f"at most {MAX_BATCH} orders per batch, got {len(order_ids)}")
    if len(set(order_ids)) != len(order_ids):
        raise InvalidInput("an order is named twice in the batch")
    rows = {o.order_id: o for o in db.scalars(select(Order).where(Order.order_id.in_(list(order_ids))))}
    missing = [i for i in order_ids if i not in rows]
    if missing:
        raise NotFound(f"order {missing[0]} not found")
    old = [i for i in order_ids if rows[i].slot is None]
    if old:
        raise Conflict(f"order {old[0]} was escrowed before settlement slots and cannot change here")
    return [rows[i] for i in order_ids]


def require_status(o: Order, *statuses: str) -> None:
    if o.status not in statuses:
        raise Conflict(f"order {o.order_id} is {o.status}, not {' or '.join(statuses)}")


def escrow_orders(db: DbSession, dep: Deployment, platform: Sender, new: Sequence[NewOrder]) -> list[Order]:
    """Escrow a batch in one transaction with the current commission rule; add (not commit) the rows."""
    ids = [n.order_id for n in new]
    if not new or len(new) > MAX_BATCH or len(set(ids)) != len(ids):
        raise InvalidInput(f"a batch holds 1..{MAX_BATCH} orders with distinct ids")
    taken = db.scalars(select(Order.order_id).where(Order.order_id.in_(ids))).first()
    if taken is not None:
        raise Conflict(f"order {taken} already exists")
    for n in new:
        if n.amount_fen > MAX_AMOUNT:
            raise InvalidInput(f"order {n.order_id}: amount above {MAX_AMOUNT} fen")
    rule = current_rule(db)  # each merchant's agreed referral rates are read by `escrow_with_slots`
    secret = order_secret()
    salts = [order_salt(secret, n.order_id) for n in new]
    keys = [order_key(n.order_id, s) for n, s in zip(new, salts, strict=True)]
    receipt, terms = escrow_with_slots(db, dep, platform, new, keys, rule)
    (batch,) = settlement.events(dep, receipt, ("EscrowBatch",))["EscrowBatch"]
    settle_after = from_epoch(int(batch["settleAfter"]))
    now, tx = datetime.now(UTC), tx_of(receipt)
    rows = []
    for n, t, salt in zip(new, terms, salts, strict=True):
        o = Order(
            order_id=n.order_id,
            order_key="0x" + t.key.hex(),
            salt="0x" + salt.hex(),
            slot=t.slot,
            merchant=t.merchant,
            payer=t.payer,
            carrier=t.carrier,
            shopper=n.shopper,
            amount_fen=t.amount,
            refunded_fen=0,
            referrers=json.dumps([[a, b] for a, b in zip(t.referrers, t.referral_bps, strict=True)]),
            platform_fee_bps=t.platform_fee_bps,
            status="escrowed",
            escrow_tx=tx,
            settle_after=settle_after,
            history="[]",
            created_at=now,
            updated_at=now,
        )
        log_step(o, "escrowed", tx, receipt, amount_fen=t.amount)
        db.add(o)
        rows.append(o)
    return rows


def epoch(t: datetime) -> int:
    return int(t.replace(tzinfo=t.tzinfo or UTC).timestamp())


def _in_window(dep: Deployment, o: Order) -> None:
    if o.status == "delivered" and o.window_ends_at is not None and _chain_now(dep) >= epoch(o.window_ends_at):
        raise Conflict(f"order {o.order_id}: the return window closed at {o.window_ends_at.isoformat()}")


def refund_order(db: DbSession, dep: Deployment, sender: Sender, order_id: str, amount_fen: int) -> Order:
    """Refund part or all of what remains, before delivery or within the return window."""
    (o,) = load_rows(db, [order_id])
    require_status(o, "escrowed", "delivered")
    remaining = o.amount_fen - o.refunded_fen
    if not 0 < amount_fen <= remaining:
        raise InvalidInput(f"order {order_id}: a refund must be 1..{remaining} fen (what remains), not {amount_fen}")
    _in_window(dep, o)
    receipt = as_final(dep, settlement.refund(dep, sender, terms_of(o), amount_fen), "refund")
    o.refunded_fen += amount_fen
    status = "refunded" if amount_fen == remaining else o.status
    log_step(o, status, tx_of(receipt), receipt, refund_fen=amount_fen, by=sender.address)
    if o.status == "refunded":
        o.close_tx = tx_of(receipt)
        free_slots(db, [o.order_key], int(receipt["blockNumber"]))
    return o


def dispute_order(db: DbSession, dep: Deployment, platform: Sender, order_id: str, reason: str = "") -> Order:
    (o,) = load_rows(db, [order_id])
    require_status(o, "delivered")
    _in_window(dep, o)
    receipt = as_final(dep, settlement.dispute(dep, platform, terms_of(o)), "dispute")
    log_step(o, "disputed", tx_of(receipt), receipt, reason=reason)
    return o


def ruling_remaining(o: Order, refund_fen: int) -> int:
    """What remains of the order, if a ruling may refund `refund_fen` of it; InvalidInput if not."""
    remaining = o.amount_fen - (o.refunded_fen or 0)
    if not 0 <= refund_fen <= remaining:
        raise InvalidInput(f"order {o.order_id}: a ruling refunds 0..{remaining} fen (what remains), not {refund_fen}")
    return remaining


def rule_order(
    db: DbSession,
    dep: Deployment,
    sender: Sender,
    order_id: str,
    refund_fen: int,
    signatures: Sequence[str | bytes],
) -> tuple[Order, dict[str, Any] | None]:
    """Execute the arbiters' signed ruling (signatures in any order, bytes or hex): refund
    `refund_fen`, settle the rest."""
    (o,) = load_rows(db, [order_id])
    require_status(o, "disputed")
    ruling_remaining(o, refund_fen)
    t = terms_of(o)
    signatures = settlement.sorted_signatures(dep, t.key, t.payer, refund_fen, t.slot, signatures)
    receipt = as_final(dep, settlement.rule(dep, sender, t, refund_fen, signatures), "ruling")
    split = settlement.settlements_of(dep, receipt, {t.key: len(t.referrers)}).get(t.key)
    o.refunded_fen += refund_fen
    o.close_tx = tx_of(receipt)
    status = "settled" if split else "refunded"
    log_step(o, status, o.close_tx, receipt, ruling_refund_fen=refund_fen, signers=len(signatures))
    free_slots(db, [o.order_key], int(receipt["blockNumber"]))
    return o, split
