"""An order after escrow: its carrier, delivery (by the carrier, or by the platform for an order
without one), refunds within the return window (the merchant, or the platform for the shopper),
disputes (the platform), settlement in batches (any member), and
the opening of one order's key for an auditor. Deliveries are also confirmed by capturing the
carrier's EPCIS delivery event (`ledger.money.orders.deliveries`). Rulings: `order_rulings`.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, Field
from sqlalchemy.orm import Session as DbSession

from ledger.access.roles import Role
from ledger.clock import as_utc
from ledger.errors import Forbidden
from ledger.money.orders import deliveries, settling
from ledger.money.orders import lifecycle as orders
from ledger.money.orders.lifecycle import MAX_BATCH
from ledger.store.models import Order

from ..access.auth import Member, authenticate, may_see, require
from ..access.deps import deployment_of, sender_of
from ..core.fields import Address, Fen, OrderId, OrderIdPath
from ..core.services import get_db, services
from .order_turns import order_turn
from .orders import OWNERS, OrderOut, order_out, visible_order, visible_orders

router = APIRouter(prefix="/v1", tags=["money"])

EventId = Field(
    pattern=r"^(ni:///sha-256;[0-9a-fA-F]{64}(\?ver=CBV2\.0)?|0x[0-9a-fA-F]{64})$",
    description="the EPCIS event's hash ID (ni:///sha-256;...) or its 32 bytes in hex",
)


class CarrierIn(BaseModel):
    carrier: Address


class Delivery(BaseModel):
    order_id: OrderId
    epcis_event: str = EventId


class DeliveriesIn(BaseModel):
    deliveries: list[Delivery] = Field(min_length=1, max_length=MAX_BATCH)


class RefundIn(BaseModel):
    amount_fen: Fen


class DisputeIn(BaseModel):
    reason: str = Field("", max_length=500)


class SettleIn(BaseModel):
    order_ids: list[OrderId] = Field(default_factory=list, max_length=MAX_BATCH)
    due: bool = Field(False, description="settle every order that is due (up to the batch limit)")


class Delivered(BaseModel):
    order_id: str
    status: str
    window_ends_at: datetime | None
    delivery_event: str | None
    tx: str


class Settled(BaseModel):
    order_id: str
    status: str
    close_tx: str | None
    settlement: dict[str, Any]


class Skipped(BaseModel):
    order_id: str
    status: str
    due_at: datetime | None = Field(description="when it becomes due; none while disputed or once closed")
    final_at_block: int | None = Field(
        None,
        description="due, but its last change (escrow, delivery, refund) is not final yet: settled once this block "
        "is sealed (null while that transaction is in no block)",
    )


class SettleOut(BaseModel):
    settled: list[Settled]
    skipped: list[Skipped]
    others_settled: int = Field(0, description="due orders of others this call settled too (not named to you)")


def _audit(request: Request, text: str) -> None:
    request.state.audit_detail = text


@router.post("/orders/{order_id}/carrier", response_model=OrderOut, summary="Name the order's carrier (platform)")
def put_carrier(
    body: CarrierIn,
    request: Request,
    order_id: OrderIdPath,
    member: Member = Depends(require(Role.OPERATOR)),
    db: DbSession = Depends(get_db),
) -> dict:
    o = deliveries.set_carrier(db, deployment_of(request), sender_of(request, member), order_id, body.carrier)
    db.commit()
    _audit(request, f"order {order_id} carrier {body.carrier}")
    return order_out(o)


@router.get(
    "/deliveries/waiting",
    summary="Delivery events (receiving, accepting) the carrier may confirm its open orders with, newest first",
)
def deliveries_waiting(member: Member = Depends(require(Role.LOGISTICS)), db: DbSession = Depends(get_db)) -> list:
    return [e | {"event_time": as_utc(e["event_time"]).isoformat()} for e in deliveries.waiting(db, member.address)]


@router.post(
    "/orders/deliveries",
    response_model=list[Delivered],
    summary="The carrier confirms delivery of its orders, each with its EPCIS event's hash ID",
)
def post_deliveries(
    body: DeliveriesIn,
    request: Request,
    member: Member = Depends(require(Role.LOGISTICS)),
    db: DbSession = Depends(get_db),
) -> list[dict]:
    pairs = [(d.order_id, d.epcis_event) for d in body.deliveries]
    locks = services(request).locks
    rows = deliveries.confirm_deliveries(db, deployment_of(request), sender_of(request, member), pairs, locks)
    db.commit()
    tx = json.loads(rows[0].history)[-1]["tx"]
    _audit(request, f"{len(rows)} deliveries confirmed tx {tx}")
    return [
        {
            "order_id": o.order_id,
            "status": o.status,
            "window_ends_at": o.window_ends_at,
            "delivery_event": o.delivery_event,
            "tx": tx,
        }
        for o in rows
    ]


@router.post(
    "/orders/{order_id}/confirm",
    response_model=OrderOut,
    summary="The platform confirms delivery of an order without a carrier; opens the return window",
)
def confirm_order(
    request: Request,
    order_id: OrderIdPath,
    member: Member = Depends(require(Role.OPERATOR)),
    db: DbSession = Depends(get_db),
) -> dict:
    dep, locks = deployment_of(request), services(request).locks
    (o,) = deliveries.confirm_by_platform(db, dep, sender_of(request, member), [order_id], locks)
    db.commit()
    _audit(request, f"order {order_id} delivered (platform)")
    return order_out(o)


@router.post(
    "/orders/{order_id}/refund",
    response_model=OrderOut,
    summary="Refund all or part of what remains, before delivery or within the return window",
)
def refund_order(
    body: RefundIn,
    request: Request,
    order_id: OrderIdPath,
    member: Member = Depends(require(Role.OPERATOR, Role.MERCHANT)),
    db: DbSession = Depends(get_db),
) -> dict:
    o = visible_order(db, member, order_id)
    if not member.has(Role.OPERATOR) and o.merchant != member.address:
        raise Forbidden(f"only order {order_id}'s merchant or the platform may refund it")
    with order_turn(request, db, order_id):
        o = orders.refund_order(db, deployment_of(request), sender_of(request, member), order_id, body.amount_fen)
        db.commit()
    _audit(request, f"order {order_id} refund {body.amount_fen} fen")
    return order_out(o)


@router.post("/orders/{order_id}/dispute", response_model=OrderOut, summary="Dispute for the shopper (platform)")
def dispute_order(
    body: DisputeIn,
    request: Request,
    order_id: OrderIdPath,
    member: Member = Depends(require(Role.OPERATOR)),
    db: DbSession = Depends(get_db),
) -> dict:
    with order_turn(request, db, order_id):
        o = orders.dispute_order(db, deployment_of(request), sender_of(request, member), order_id, body.reason)
        db.commit()
    _audit(request, f"order {order_id} disputed")
    return order_out(o)


@router.post("/orders/settle", response_model=SettleOut, summary="Settle due orders in one transaction (any member)")
def settle_orders(
    body: SettleIn, request: Request, member: Member = Depends(authenticate), db: DbSession = Depends(get_db)
) -> dict:
    dep = deployment_of(request)
    visible_orders(db, member, body.order_ids)  # another's order is named as an unknown one: nobody learns it exists
    ids = body.order_ids or (settling.due_order_ids(db, dep) if body.due else [])
    if not ids:
        return {"settled": [], "skipped": []}
    settled, skipped = settling.settle_orders(db, dep, sender_of(request, member), ids, services(request).locks)
    db.commit()
    _audit(request, f"{len(settled)} orders settled, {len(skipped)} skipped")
    # anyone may settle what is due; the answer names only the orders the caller may see
    seen = {o.order_id for o, _ in settled if _sees(member, o)} | {
        s["order_id"] for s in skipped if _sees(member, db.get(Order, s["order_id"]))
    }
    return {
        "settled": [
            {"order_id": o.order_id, "status": o.status, "close_tx": o.close_tx, "settlement": s}
            for o, s in settled
            if o.order_id in seen
        ],
        "skipped": [s for s in skipped if s["order_id"] in seen],
        "others_settled": sum(o.order_id not in seen for o, _ in settled),
    }


def _sees(member: Member, o: Order | None) -> bool:
    return may_see(member, o, OWNERS)


@router.get("/audit/orders/{order_id}/key", summary="Open one order's on-chain key for an auditor")
def order_key_opening(
    order_id: OrderIdPath, member: Member = Depends(require(Role.AUDITOR)), db: DbSession = Depends(get_db)
) -> dict:
    o = visible_order(db, member, order_id)
    return {
        "order_id": o.order_id,
        "order_key": o.order_key,
        "salt": o.salt,
        "derivation": "order_key = keccak256(utf8(order_id) || salt); salt = HMAC-SHA256(platform secret, order_id)",
    }
