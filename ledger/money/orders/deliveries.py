"""Deliveries: the order's carrier (named at escrow or later, `set_carrier`), its confirmation on
chain by that carrier (or by the platform for an order without one), each opening the order's
return window, and deliveries read from captured EPCIS events: an event recording that goods
reached the consignee (CBV 2.0 bizStep `receiving` or `accepting`, in any of CBV's spellings) that
names an order in its `bizTransactionList`, captured by that order's carrier, confirms the order's
delivery on chain with the event's hash ID. (CBV has no `delivering` step.)

An order is named by a business transaction whose value is its order id, or a URI whose last
`:`- or `/`-separated part is (`urn:epcglobal:cbv:bt:0614141000005:ORDER-1`,
`https://platform.example/orders/ORDER-1`). Only open (escrowed) orders of the capturing carrier
are matched; capturing the same event again retries a confirmation that failed.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session as DbSession

from ledger.chain.client import Sender, TransactionFailed
from ledger.chain.deploy import Deployment
from ledger.clock import as_utc
from ledger.errors import Conflict, Forbidden, InvalidInput
from ledger.money.orders import settlement, turns
from ledger.money.orders.books import terms_of
from ledger.money.orders.delivery_evidence import (
    CLOCK_SKEW,
    DELIVERY_STEPS,
    dated_ahead,
    evidenced,
    hash_id,
    held,
    named_orders,
    orders_among,
    step,
)
from ledger.money.orders.lifecycle import from_epoch, load_rows, log_step, require_status, tx_of
from ledger.money.orders.reorged import after_reorg
from ledger.store.locks import Locks
from ledger.store.models import EpcisEvent, Order


def delivered_orders(
    db: DbSession, events: Sequence[dict], hash_ids: Sequence[str], carrier: str
) -> list[tuple[str, str]]:
    """(order id, hash ID of the delivery event) for each open order of `carrier` and each delivery
    event among `events` naming it, not declared erroneous: by order id, each order's events in the
    capture's order (the capture delivers it with the first that shows it, `delivery_capture`)."""
    wanted: dict[str, dict[str, None]] = {}
    for event, hid in zip(events, hash_ids, strict=True):
        # a declared erroneous event is no evidence (`evidenced`): its corrective event, if captured, is
        if step(event.get("bizStep")) in DELIVERY_STEPS and not isinstance(event.get("errorDeclaration"), dict):
            for name in named_orders(event):
                wanted.setdefault(name, {})[hid] = None
    if not wanted:
        return []
    found = db.scalars(
        select(Order.order_id).where(
            Order.order_id.in_(list(wanted)),
            Order.carrier == carrier,
            Order.status == "escrowed",
            Order.slot.is_not(None),
        )
    )
    return [(oid, hid) for oid in sorted(found) for hid in wanted[oid]]


def waiting(db: DbSession, carrier: str, scan: int = 500) -> list[dict[str, Any]]:
    """The delivery events (receiving or accepting) a carrier may confirm its open orders with,
    newest first: among the latest `scan` events recorded by the carrier or by a merchant of one of
    its open orders, those no order was delivered with yet, not declared erroneous, not older than
    every open order nor dated after their capture; each with the open order it names in its bizTransactionList, if one
    (else the carrier picks the order). Offered only as `delivery_evidence.evidenced` takes them: an
    event naming orders here none of which it may deliver is left out."""
    mine = select(Order).where(Order.carrier == carrier, Order.status == "escrowed", Order.slot.is_not(None))
    open_orders = {o.order_id: (o.merchant, as_utc(o.created_at) - CLOCK_SKEW) for o in db.scalars(mine)}
    if not open_orders:
        return []
    recorders = {carrier, *(m for m, _ in open_orders.values())}
    earliest = min(t for _, t in open_orders.values())
    q = select(EpcisEvent).where(EpcisEvent.recorder.in_(recorders), EpcisEvent.biz_step.is_not(None))
    latest = [
        e for e in db.scalars(q.order_by(EpcisEvent.id.desc()).limit(scan))
        if step(e.biz_step) in DELIVERY_STEPS and as_utc(e.event_time) >= earliest and not dated_ahead(e)
    ]  # fmt: skip
    used = set(db.scalars(select(Order.delivery_event).where(Order.delivery_event.in_([e.hash_id for e in latest]))))
    found = [
        (e, body)
        for e in latest
        if e.hash_id not in used and not isinstance((body := json.loads(e.body)).get("errorDeclaration"), dict)
    ]
    names = {e.hash_id: named_orders(body) for e, body in found}
    ours = orders_among(db, set().union(*names.values()))
    out = []
    for e, _ in found:
        at = as_utc(e.event_time)
        named = sorted(
            n
            for n in names[e.hash_id] & ours
            if n in open_orders and e.recorder in (carrier, open_orders[n][0]) and at >= open_orders[n][1]
        )
        if names[e.hash_id] & ours and not named:
            continue
        out.append(
            {"hash_id": e.hash_id, "biz_step": step(e.biz_step), "event_time": e.event_time,
             "read_point": e.read_point, "recorder": e.recorder, "order_id": named[0] if named else None}
        )  # fmt: skip
    return out


def event_bytes(event_id: str) -> bytes:
    """The 32 bytes of an EPCIS hash ID (`ni:///sha-256;<hex>?ver=...`) or a 0x-hex hash."""
    v = event_id.strip()
    if v.startswith("ni:///sha-256;"):
        v = v[len("ni:///sha-256;") :].split("?")[0]
    v = v.removeprefix("0x")
    if len(v) != 64:
        raise InvalidInput(f"not an EPCIS hash ID: {event_id!r}")
    try:
        return bytes.fromhex(v)
    except ValueError:
        raise InvalidInput(f"not an EPCIS hash ID: {event_id!r}") from None


def confirm_deliveries(
    db: DbSession, dep: Deployment, carrier: Sender, deliveries: Sequence[tuple[str, str]], locks: Locks | None = None
) -> list[Order]:
    """The carrier confirms (order id, EPCIS event hash ID) pairs: one transaction, written and
    committed under the orders' turns (`locks`)."""
    rows = load_rows(db, [d[0] for d in deliveries])
    for o in rows:
        if o.carrier != carrier.address:
            raise Forbidden(f"order {o.order_id} names another carrier")
        require_status(o, "escrowed")
    hashes = [event_bytes(e) for _, e in deliveries]
    for (order_id, _), h in zip(deliveries, hashes, strict=True):
        if not any(h):  # the platform's own confirmation records no event: a carrier's names the one it captured
            raise InvalidInput(f"order {order_id}: an all-zero hash names no EPCIS event")
    with held(locks, db, hashes):  # checked, sent and written before another confirmation checks these events
        evidenced(db, rows, hashes)
        terms = [terms_of(o) for o in rows]
        receipt = _once(dep, rows, terms, hashes, lambda: settlement.confirm_deliveries(dep, carrier, terms, hashes))
        # the hash ID as stored, however it was spelled (0x, upper case): `waiting` and cold-chain holds look it up
        return _delivered(db, locks, dep, receipt, rows, [hash_id(h) for h in hashes], "carrier")


def _once(dep: Deployment, rows: list[Order], terms: list, hashes: list[bytes], send: Any) -> Any:
    """Send a confirmation (again once a reorg that had taken the escrows' block is undone:
    `reorged`); if the chain says the orders are past escrow because an earlier attempt (whose
    answer was lost: the node stopped, a process died) confirmed these same deliveries, that
    attempt's receipt: the table then catches up with the chain instead of refusing."""
    try:
        return after_reorg(dep, [o.escrow_tx for o in rows], send)
    except TransactionFailed as exc:
        # refused in simulation (WrongStatus), or mined and reverted (the earlier attempt was still
        # pending when this one was simulated): either way, look for the earlier confirmation
        if (
            exc.error not in ("WrongStatus", None)
            or (earlier := settlement.delivered_before(dep, terms, hashes)) is None
        ):
            raise
        return earlier


def confirm_by_platform(
    db: DbSession, dep: Deployment, platform: Sender, order_ids: Sequence[str], locks: Locks | None = None
) -> list[Order]:
    """The platform confirms delivery of orders that have no carrier (written as `confirm_deliveries`)."""
    rows = load_rows(db, order_ids)
    for o in rows:
        if o.carrier:
            raise Conflict(f"order {o.order_id} has a carrier: its delivery is the carrier's to confirm")
        require_status(o, "escrowed")
    terms = [terms_of(o) for o in rows]
    none = [b"\0" * 32] * len(rows)
    receipt = _once(dep, rows, terms, none, lambda: settlement.confirm_by_platform(dep, platform, terms))
    return _delivered(db, locks, dep, receipt, rows, [None] * len(rows), "platform")


def _delivered(
    db: DbSession, locks: Locks | None, dep: Deployment, receipt: Any, rows: list[Order], events: list, by: str
) -> list[Order]:
    """Write what the confirmation did on the rows as they are under the orders' turns: a refund or
    dispute recorded meanwhile keeps its entry, and a later step recorded first keeps its status."""
    found = settlement.events(dep, receipt, ("OrderDelivered",)).get("OrderDelivered", [])
    window = {bytes.fromhex(e["key"][2:]): int(e["windowEnds"]) for e in found}
    tx, ids = tx_of(receipt), [o.order_id for o in rows]
    with turns.held(locks, db, ids):
        rows = load_rows(db, ids)
        for o, ev in zip(rows, events, strict=True):
            if o.window_ends_at is not None:  # its delivery is written already (the same one sent twice at once)
                continue
            was = o.status
            o.window_ends_at = from_epoch(window[bytes.fromhex(o.order_key[2:])])
            o.delivery_event = ev
            log_step(o, "delivered", tx, receipt, by=by, epcis_event=ev, window_ends_at=o.window_ends_at.isoformat())
            if was != "escrowed":  # a step the chain took after this one (a full refund) was written first
                o.status = was
        db.commit()
    return rows


def set_carrier(db: DbSession, dep: Deployment, platform: Sender, order_id: str, carrier: str) -> Order:
    (o,) = load_rows(db, [order_id])
    require_status(o, "escrowed")
    if o.carrier:
        raise Conflict(f"order {order_id} already names carrier {o.carrier}")
    receipt = settlement.set_carrier(dep, platform, terms_of(o), carrier)
    o.carrier = carrier
    log_step(o, "escrowed", tx_of(receipt), receipt, carrier=carrier)
    return o
