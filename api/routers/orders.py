"""Orders with referral splits, and the commission rule. The platform (operators) escrows, confirms and
refunds orders and sets the rule within the on-chain caps; merchants see only their own orders (another's
are a 404); auditors see everything. Integer fen only; floats are refused.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from fastapi import APIRouter, Depends, Header, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from sqlalchemy import select
from sqlalchemy.orm import Session as DbSession

from ledger.access.roles import Role
from ledger.clock import as_utc, utcnow
from ledger.money import orders, settlement
from ledger.money.orders import current_rule
from ledger.store.models import CommissionRule, Order

from .. import idempotency
from ..auth import READ_ALL, Member, authenticate, require, visible
from ..errors import invalid
from ..services import get_db
from .money_fields import Address, Bps, Fen, OrderId, OrderIdPath, deployment_of, sender_of

router = APIRouter(prefix="/v1", tags=["money"])


class RuleIn(BaseModel):
    platform_fee_bps: Bps
    referral_bps: list[Bps] = Field(min_length=3, max_length=3, description="levels 1, 2, 3")


class RuleOut(RuleIn):
    caps_platform_fee_bps: int
    caps_referral_bps: list[int]


@router.get("/commission-rules", response_model=RuleOut, summary="The platform's split for new orders, and the caps")
def get_rule(request: Request, _: Member = Depends(authenticate), db: DbSession = Depends(get_db)) -> dict:
    fee_cap, level_caps = settlement.caps(deployment_of(request))
    return {**current_rule(db), "caps_platform_fee_bps": fee_cap, "caps_referral_bps": level_caps}


@router.put("/commission-rules", response_model=RuleOut, summary="Set the split for new orders (platform)")
def put_rule(
    body: RuleIn, request: Request, member: Member = Depends(require(Role.OPERATOR)), db: DbSession = Depends(get_db)
) -> dict:
    fee_cap, level_caps = settlement.caps(deployment_of(request))
    if body.platform_fee_bps > fee_cap:
        raise invalid("body.platform_fee_bps", f"{body.platform_fee_bps} bps is above the on-chain cap of {fee_cap}")
    for level, (bps, cap) in enumerate(zip(body.referral_bps, level_caps, strict=True), start=1):
        if bps > cap:
            raise invalid(
                f"body.referral_bps.{level - 1}", f"level {level}: {bps} bps is above the on-chain cap of {cap}"
            )
    row = db.get(CommissionRule, 1) or CommissionRule(id=1)
    row.platform_fee_bps, row.referral_bps = body.platform_fee_bps, json.dumps(body.referral_bps)
    row.updated_by, row.updated_at = member.address, utcnow()
    db.add(row)
    db.commit()
    return {**current_rule(db), "caps_platform_fee_bps": fee_cap, "caps_referral_bps": level_caps}


# -- orders ---------------------------------------------------------------------------------


class OrderIn(BaseModel):
    order_id: OrderId
    merchant: Address
    amount_fen: Fen
    payer: Address | None = Field(None, description="refunds go here; default: the platform account")
    referrers: list[Address] = Field(default_factory=list, max_length=3, description="level 1 first")


class Referral(BaseModel):
    address: str
    bps: int


class OrderOut(BaseModel):
    order_id: str
    order_key: str
    merchant: str
    payer: str
    amount_fen: int
    referrers: list[Referral]
    platform_fee_bps: int
    status: str
    escrow_tx: str
    close_tx: str | None
    created_at: datetime
    updated_at: datetime
    settlement: dict[str, Any] | None = None


def order_out(o: Order, settlement: dict[str, Any] | None = None) -> dict[str, Any]:
    return {
        "order_id": o.order_id,
        "order_key": o.order_key,
        "merchant": o.merchant,
        "payer": o.payer,
        "amount_fen": o.amount_fen,
        "referrers": [{"address": a, "bps": b} for a, b in json.loads(o.referrers)],
        "platform_fee_bps": o.platform_fee_bps,
        "status": o.status,
        "escrow_tx": o.escrow_tx,
        "close_tx": o.close_tx,
        "created_at": as_utc(o.created_at).isoformat(),
        "updated_at": as_utc(o.updated_at).isoformat(),
        "settlement": settlement,
    }


def visible_order(db: DbSession, member: Member, order_id: str) -> Order:
    return visible(member, db.get(Order, order_id), f"order {order_id}")


@router.post(
    "/orders",
    response_model=OrderOut,
    status_code=201,
    summary="Escrow an order on chain (platform); requires an Idempotency-Key",
)
def create_order(
    body: OrderIn,
    request: Request,
    idempotency_key: str = Header(alias="Idempotency-Key", min_length=1, max_length=128),
    member: Member = Depends(require(Role.OPERATOR)),
    db: DbSession = Depends(get_db),
) -> Any:
    replay = idempotency.begin(db, member.address, idempotency_key, idempotency.body_hash(body.model_dump()))
    if replay is not None:
        return replay
    try:
        o = orders.escrow_order(
            db,
            deployment_of(request),
            sender_of(request, member),
            order_id=body.order_id,
            merchant=body.merchant,
            amount_fen=body.amount_fen,
            referrers=body.referrers,
            payer=body.payer,
        )
        content = order_out(o)
        idempotency.record(db, member.address, idempotency_key, 201, content)
        db.commit()  # the order and the remembered answer together
    except Exception:
        idempotency.release(db, member.address, idempotency_key)
        raise
    request.state.audit_detail = f"order {body.order_id} escrowed {body.amount_fen} fen tx {o.escrow_tx}"
    return JSONResponse(status_code=201, content=content)


def _close(request: Request, db: DbSession, member: Member, order_id: str, action: str) -> dict[str, Any]:
    o, split = orders.close_order(db, deployment_of(request), sender_of(request, member), order_id, action)
    request.state.audit_detail = f"order {order_id} {o.status} tx {o.close_tx}"
    return order_out(o, split)


@router.post("/orders/{order_id}/confirm", response_model=OrderOut, summary="Delivery confirmed: settle (platform)")
def confirm_order(
    request: Request,
    order_id: OrderIdPath,
    member: Member = Depends(require(Role.OPERATOR)),
    db: DbSession = Depends(get_db),
) -> dict:
    return _close(request, db, member, order_id, "confirm")


@router.post("/orders/{order_id}/refund", response_model=OrderOut, summary="Refund before settlement (platform)")
def refund_order(
    request: Request,
    order_id: OrderIdPath,
    member: Member = Depends(require(Role.OPERATOR)),
    db: DbSession = Depends(get_db),
) -> dict:
    return _close(request, db, member, order_id, "refund")


@router.post(
    "/orders/{order_id}/settle-timeout",
    response_model=OrderOut,
    summary="Settle an order whose confirmation timeout has passed (platform)",
)
def settle_timeout(
    request: Request,
    order_id: OrderIdPath,
    member: Member = Depends(require(Role.OPERATOR)),
    db: DbSession = Depends(get_db),
) -> dict:
    return _close(request, db, member, order_id, "settle-timeout")


@router.get("/orders", response_model=list[OrderOut], summary="Orders the caller may see")
def list_orders(
    member: Member = Depends(require(Role.MERCHANT, *READ_ALL)),
    db: DbSession = Depends(get_db),
    limit: int = 100,
    after: str = "",
) -> list[dict]:
    q = select(Order).where(Order.order_id > after).order_by(Order.order_id).limit(max(1, min(limit, 1000)))
    if not member.has(READ_ALL):
        q = q.where(Order.merchant == member.address)
    return [order_out(o) for o in db.scalars(q)]


@router.get("/orders/{order_id}", response_model=OrderOut, summary="One order")
def get_order(
    order_id: OrderIdPath, member: Member = Depends(require(Role.MERCHANT, *READ_ALL)), db: DbSession = Depends(get_db)
) -> dict:
    return order_out(visible_order(db, member, order_id))
