"""Orders with referral splits, and the commission rule. The platform (operators) escrows orders, one or
a batch per request, and sets the rule within the on-chain caps. Merchants see their own orders, carriers
the orders they carry (another's are a 404), operators and auditors everything, each with its history.
Integer fen only; floats are refused. The later steps are in `order_steps`.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from fastapi import APIRouter, Depends, Header, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field, field_validator
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session as DbSession

from ledger.access.roles import Role
from ledger.clock import as_utc, utcnow
from ledger.errors import Conflict
from ledger.money.orders import lifecycle as orders
from ledger.money.orders import settlement
from ledger.money.orders.lifecycle import MAX_BATCH, NewOrder, current_rule
from ledger.store.models import CommissionRule, Order

from ..access.auth import READ_ALL, Member, authenticate, require, visible
from ..access.deps import deployment_of, sender_of
from ..core import idempotency
from ..core.errors import invalid
from ..core.fields import Address, Bps, Fen, OrderId, OrderIdPath
from ..core.services import get_db

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
    for _ in range(2):  # the one row may be created by another request at the same moment: then updated
        row = db.get(CommissionRule, 1) or CommissionRule(id=1)
        row.platform_fee_bps, row.referral_bps = body.platform_fee_bps, json.dumps(body.referral_bps)
        row.updated_by, row.updated_at = member.address, utcnow()
        db.add(row)
        try:
            db.commit()
            break
        except IntegrityError:
            db.rollback()
    return {**current_rule(db), "caps_platform_fee_bps": fee_cap, "caps_referral_bps": level_caps}


# -- orders ---------------------------------------------------------------------------------


class OrderIn(BaseModel):
    order_id: OrderId
    merchant: Address
    amount_fen: Fen
    referrers: list[Address] = Field(default_factory=list, max_length=3, description="level 1 first")
    carrier: Address | None = Field(None, description="the logistics member who will confirm delivery")
    shopper_id: str | None = Field(None, max_length=128, description="kept off chain, never disclosed")

    @field_validator("referrers")
    @classmethod
    def _distinct(cls, referrers: list[str], info: Any) -> list[str]:  # noqa: ANN401 - pydantic's ValidationInfo
        """A referrer is someone other than the merchant and the other levels' referrers, as the
        contract requires (`ReferrerNotAllowed`; the payer too, which the contract checks)."""
        seen = [r.lower() for r in referrers]
        if len(set(seen)) != len(seen) or str(info.data.get("merchant", "")).lower() in seen:
            raise ValueError("each referrer is someone other than the merchant and the other levels' referrers")
        return referrers


class OrderBatchIn(BaseModel):
    orders: list[OrderIn] = Field(min_length=1, max_length=MAX_BATCH)


class Referral(BaseModel):
    address: str
    bps: int


class OrderOut(BaseModel):
    order_id: str
    order_key: str
    merchant: str
    payer: str
    carrier: str | None
    amount_fen: int
    refunded_fen: int
    referrers: list[Referral]
    platform_fee_bps: int
    status: str
    escrow_tx: str
    close_tx: str | None
    settle_after: datetime | None
    window_ends_at: datetime | None
    delivery_event: str | None
    created_at: datetime
    updated_at: datetime
    history: list[dict[str, Any]]
    settlement: dict[str, Any] | None = None


def _iso(t: datetime | None) -> str | None:
    return as_utc(t).isoformat() if t else None


def order_out(o: Order, settlement: dict[str, Any] | None = None) -> dict[str, Any]:
    return {
        "order_id": o.order_id,
        "order_key": o.order_key,
        "merchant": o.merchant,
        "payer": o.payer,
        "carrier": o.carrier,
        "amount_fen": o.amount_fen,
        "refunded_fen": o.refunded_fen or 0,
        "referrers": [{"address": a, "bps": b} for a, b in json.loads(o.referrers)],
        "platform_fee_bps": o.platform_fee_bps,
        "status": o.status,
        "escrow_tx": o.escrow_tx,
        "close_tx": o.close_tx,
        "settle_after": _iso(o.settle_after),
        "window_ends_at": _iso(o.window_ends_at),
        "delivery_event": o.delivery_event,
        "created_at": _iso(o.created_at),
        "updated_at": _iso(o.updated_at),
        "history": json.loads(o.history or "[]"),
        "settlement": settlement,
    }


OWNERS = ("merchant", "carrier")


def visible_order(db: DbSession, member: Member, order_id: str) -> Order:
    return visible(member, db.get(Order, order_id), f"order {order_id}", owners=OWNERS)


def visible_orders(db: DbSession, member: Member, order_ids: list[str]) -> list[Order]:
    """Each of `order_ids` as `visible_order` answers it, in one query (a batch of 500 asked one by
    one was 45 % of a settlement request's time)."""
    rows = {o.order_id: o for o in db.scalars(select(Order).where(Order.order_id.in_(order_ids)))} if order_ids else {}
    return [visible(member, rows.get(i), f"order {i}", owners=OWNERS) for i in order_ids]


def _new(o: OrderIn) -> NewOrder:
    return NewOrder(o.order_id, o.merchant, o.amount_fen, tuple(o.referrers), o.carrier, o.shopper_id)


def _escrow(request: Request, db: DbSession, member: Member, key: str, items: list[OrderIn], batch: bool) -> Any:
    scope = idempotency.scope_of(request)  # the key of /v1/orders/batch is not /v1/orders' key
    body = idempotency.body_hash([i.model_dump() for i in items])
    replay = idempotency.begin(db, member.address, key, body, scope)
    if replay is not None:
        return replay
    try:
        rows = orders.escrow_orders(db, deployment_of(request), sender_of(request, member), [_new(i) for i in items])
        content: Any = {"orders": [order_out(o) for o in rows]} if batch else order_out(rows[0])
        idempotency.record(db, member.address, key, 201, content, scope)
        db.commit()  # the orders and the remembered answer together
    except IntegrityError:  # another request escrowed one of these order ids at the same moment (its
        db.rollback()  # slots were these; the chain holds the escrow once): that request answers for it
        idempotency.release(db, member.address, key, scope)
        raise Conflict("an order of this request was escrowed by another request at the same time") from None
    except Exception:
        db.rollback()
        idempotency.release(db, member.address, key, scope)
        raise
    request.state.audit_detail = (
        f"{len(rows)} order(s) escrowed, {sum(o.amount_fen for o in rows)} fen tx {rows[0].escrow_tx}"
    )
    return JSONResponse(status_code=201, content=content)


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
    return _escrow(request, db, member, idempotency_key, [body], batch=False)


@router.post(
    "/orders/batch",
    status_code=201,
    summary=f"Escrow up to {MAX_BATCH} orders in one transaction (platform); requires an Idempotency-Key",
)
def create_orders(
    body: OrderBatchIn,
    request: Request,
    idempotency_key: str = Header(alias="Idempotency-Key", min_length=1, max_length=128),
    member: Member = Depends(require(Role.OPERATOR)),
    db: DbSession = Depends(get_db),
) -> Any:
    return _escrow(request, db, member, idempotency_key, body.orders, batch=True)


@router.get("/orders/{order_id}", response_model=OrderOut, summary="One order, with its history")
def get_order(
    order_id: OrderIdPath,
    member: Member = Depends(require(Role.MERCHANT, Role.LOGISTICS, *READ_ALL)),
    db: DbSession = Depends(get_db),
) -> dict:
    return order_out(visible_order(db, member, order_id))
