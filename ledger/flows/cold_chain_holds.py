"""An excursion has consequences: while a cold-chain alarm (`cold_chain_alarms`, raised by the
devices ingester) is open, every delivered order of its lot still within its return window is put
on hold through the escrow's own dispute (`OrderSettlement.dispute`, the platform's operator
role, the same call as `POST /v1/orders/{id}/dispute`): a disputed order is not settled until the
arbiters rule (refund all, part or nothing). Orders not yet delivered are not settleable anyway;
they are disputed when they are delivered while the alarm is still open (each round looks again).

The orders of a lot are those whose delivery event (the carrier's EPCIS receiving/accepting event
that confirmed the delivery on chain) names the lot: a `quantityList` class or an identifier
carrying the GTIN and lot. Signed by the platform's sender, the key the worker already holds for
anchoring: no new key moves money, and the contract lets only an operator dispute, only a
delivered order, only inside its window. Only alarms about a registered product, from devices of
its merchant or of a recorder it authorised (as indexed), act: anybody may register a logger and
report a rival's lot. Each round is bounded (`MAX_ORDERS` per alarm)."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from ledger.chain.client import Sender, TransactionFailed
from ledger.chain.deploy import Deployment
from ledger.clock import utcnow
from ledger.errors import LedgerError
from ledger.money.orders import lifecycle as orders
from ledger.money.orders import turns
from ledger.store.device_tables import ColdChainAlarm
from ledger.store.locks import Locks
from ledger.store.models import EpcisEpc, EpcisEvent, Order
from ledger.trace.recorders import authorised

log = logging.getLogger(__name__)
MAX_ORDERS = 100


def orders_of_lot(db: Session, gtin: str, lot: str, statuses: tuple[str, ...] = ("delivered",)) -> list[Order]:
    events = select(EpcisEvent.hash_id).join(EpcisEpc, EpcisEpc.event_id == EpcisEvent.id)
    events = events.where(EpcisEpc.gtin == gtin, EpcisEpc.lot == lot)
    q = select(Order).where(Order.delivery_event.in_(events), Order.status.in_(statuses))
    return list(db.scalars(q.order_by(Order.created_at).limit(MAX_ORDERS)))


def act(
    db: Session, dep: Deployment, platform: Callable[[], Sender], locks: Locks | None = None
) -> list[dict[str, Any]]:
    """One round over the open alarms: dispute what they newly affect, signed by `platform()`'s
    sender (asked for only when there is an order to hold: a worker without a signing key says so
    then, not every round). Each dispute takes its order's turn, as the API's steps do, and commits
    within it (a mined dispute is recorded at once; a refund meanwhile keeps its entry).
    [{"alarm", "order_id", "status": disputed|failed}]."""
    done = []
    sender: Sender | None = None
    q = select(ColdChainAlarm).where(ColdChainAlarm.status == "open", ColdChainAlarm.gtin.isnot(None))
    for alarm in db.scalars(q).all():
        allowed = authorised(db, alarm.gtin)
        if allowed is None or alarm.recorder not in allowed:
            continue  # a product not registered here, or a device of someone its merchant did not authorise
        held = json.loads(alarm.orders)
        problems = json.loads(alarm.problems)
        for o in orders_of_lot(db, alarm.gtin, alarm.lot):
            if o.order_id in held or any(p["order_id"] == o.order_id for p in problems):
                continue
            reason = (
                f"cold-chain excursion (alarm {alarm.id}, {alarm.min_c}..{alarm.max_c} °C, event {alarm.event_hash_id})"
            )
            sender = sender or platform()
            oid = o.order_id
            with turns.held(locks, db, [oid]):
                try:
                    orders.dispute_order(db, dep, sender, oid, reason[:200])
                except (LedgerError, TransactionFailed) as exc:  # e.g. its return window closed
                    db.rollback()
                    problems.append({"order_id": oid, "why": str(exc)[:200]})
                    alarm.problems = json.dumps(problems)
                    db.commit()
                    done.append({"alarm": alarm.id, "order_id": oid, "status": "failed", "why": str(exc)[:200]})
                    continue
                held.append(oid)
                alarm.orders = json.dumps(held)
                db.commit()
            done.append({"alarm": alarm.id, "order_id": oid, "status": "disputed"})
    return done


def close(db: Session, alarm_id: int) -> ColdChainAlarm | None:
    """The merchant (or an operator) closes an alarm: no further orders are held for it; those held
    stay disputed until the arbiters rule."""
    alarm = db.get(ColdChainAlarm, alarm_id)
    if alarm is not None and alarm.status == "open":
        alarm.status, alarm.closed_at = "closed", utcnow()
    return alarm
