"""Settling due orders: the orders whose return window (delivered) or settlement timeout (escrowed)
has passed and whose last change is final are settled in one transaction; what the chain paid is
written under the orders' turns (`turns`), on the rows as they are then: a refund or dispute that
took its turn meanwhile keeps its history entry."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session as DbSession

from ledger.chain.client import Sender
from ledger.chain.deploy import Deployment
from ledger.chain.finality import depth_of
from ledger.clock import as_utc
from ledger.money.orders import settlement, turns
from ledger.money.orders.books import free_slots, terms_of
from ledger.money.orders.lifecycle import MAX_BATCH, epoch, from_epoch, load_rows, log_step, next_block_time, tx_of
from ledger.money.orders.reorged import after_reorg, block_of
from ledger.store.locks import Locks
from ledger.store.models import Order


def settle_orders(
    db: DbSession, dep: Deployment, anyone: Sender, order_ids: Sequence[str], locks: Locks | None = None
) -> tuple[list[tuple[Order, dict[str, Any]]], list[dict[str, Any]]]:
    """Settle the due orders among `order_ids` in one transaction; the others are reported skipped.
    What it did is written and committed under the orders' turns (`locks`)."""
    rows = load_rows(db, order_ids)
    now = next_block_time(dep)
    due, skipped = [], []
    for o in rows:
        deadline = _deadline(o)
        if deadline is None or now < epoch(deadline):
            skipped.append(
                {"order_id": o.order_id, "status": o.status, "due_at": as_utc(deadline) if deadline else None}
            )
        else:
            due.append(o)
    final_at = _final_at(dep, due)
    skipped += [{"order_id": o.order_id, "status": o.status, "due_at": as_utc(_deadline(o)),
                 "final_at_block": final_at[o.order_id]} for o in due if o.order_id in final_at]  # fmt: skip
    due = [o for o in due if o.order_id not in final_at]
    if not due:
        return [], skipped
    terms = [terms_of(o) for o in due]
    receipt = after_reorg(dep, [o.escrow_tx for o in due], lambda: settlement.settle(dep, anyone, terms), settling=True)
    splits = settlement.settlements_of(dep, receipt, {t.key: len(t.referrers) for t in terms})
    tx, settled = tx_of(receipt), []
    earlier = settlement.settled_before(dep, [t for t in terms if t.key not in splits])  # answers lost
    ids = [o.order_id for o in due]
    with turns.held(locks, db, ids):
        for o, t in zip(load_rows(db, ids), terms, strict=True):  # the rows as they are now
            done, split = (tx, splits[t.key]) if t.key in splits else earlier.get(t.key, (tx, None))
            if split is None or o.status == "settled":  # the chain skipped it, or another settling wrote it
                skipped.append({"order_id": o.order_id, "status": o.status, "due_at": None})
                continue
            o.close_tx = done
            log_step(o, "settled", done, receipt if done == tx else None, by_timeout=split["by_timeout"])
            settled.append((o, split))
        free_slots(db, [o.order_key for o, _ in settled], int(receipt["blockNumber"]))
        db.commit()
    return settled, skipped


def _deadline(o: Order) -> datetime | None:
    """When an open order becomes due: its return window's end once delivered, the settlement timeout
    while escrowed; None otherwise (disputed, closed)."""
    return o.window_ends_at if o.status == "delivered" else o.settle_after if o.status == "escrowed" else None


def _final_at(dep: Deployment, rows: Sequence[Order]) -> dict[str, int | None]:
    """The orders among `rows` whose last change (escrow, delivery, refund) is not final yet, each
    with the block once sealed it will be (None: its transaction is in no block now). They are not
    settled yet: a settlement answered now could be undone by a reorg that seals the delivery again
    a block later, its window then ending after the settlement's block, where the contract skips
    the order (seen in `make bench` on the consortium, with the slot it freed already reused)."""
    depth = depth_of(dep.w3)
    if depth == 0 or not rows:
        return {}
    last = {o.order_id: json.loads(o.history)[-1]["tx"] for o in rows}
    head, blocks = dep.w3.eth.block_number, {}
    for tx in set(last.values()):
        block = block_of(dep, tx)
        blocks[tx] = None if block is None else block + depth
    return {oid: blocks[tx] for oid, tx in last.items() if blocks[tx] is None or blocks[tx] > head}


def due_order_ids(db: DbSession, dep: Deployment, limit: int = MAX_BATCH) -> list[str]:
    """Open orders whose return window or settlement timeout has passed, oldest first."""
    now = from_epoch(next_block_time(dep))
    q = (
        select(Order.order_id)
        .where(
            Order.slot.is_not(None),
            or_(
                (Order.status == "delivered") & (Order.window_ends_at <= now),
                (Order.status == "escrowed") & (Order.settle_after <= now),
            ),
        )
        .order_by(Order.updated_at)
        .limit(limit)
    )
    return list(db.scalars(q))
