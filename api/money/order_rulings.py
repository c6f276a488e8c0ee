"""Arbiters' signed rulings on disputed orders: what they sign (EIP-712: refund so much, settle the
rest), their co-signatures collected across their browsers (each its own, checked), and the ruling
executed with enough of them; the contract decides who may rule and how many must."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, Field, StrictInt
from sqlalchemy.orm import Session as DbSession

from ledger.access.roles import Role
from ledger.errors import Conflict, NotFound
from ledger.money import cosign
from ledger.money.orders import lifecycle as orders
from ledger.money.orders import settlement
from ledger.store.models import Order

from ..access.auth import READ_ALL, Member, require
from ..access.deps import deployment_of, sender_of
from ..core.fields import OrderIdPath
from ..core.services import get_db
from .order_turns import order_turn
from .orders import OrderOut, order_out

router = APIRouter(prefix="/v1", tags=["money"])


class RulingIn(BaseModel):
    refund_fen: StrictInt = Field(ge=0, le=2**48 - 1)  # strict as every amount_fen: not true, "5000" nor 1e3
    signatures: list[str] = Field(min_length=1, max_length=32, description="65-byte EIP-712 signatures, hex")


class OrderCoSignatureIn(BaseModel):
    refund_fen: StrictInt = Field(ge=0, le=2**48 - 1)
    signature: str = Field(pattern=r"^0x[0-9a-fA-F]{130}$", description="the arbiter's own EIP-712 signature")


def _order(db: DbSession, order_id: str) -> Order:
    o = db.get(Order, order_id)  # arbiters and readers-of-all see every order
    if o is None:
        raise NotFound(f"order {order_id} not found")
    return o


@router.get("/orders/{order_id}/ruling", summary="What arbiters sign to rule on a disputed order (EIP-712)")
def ruling_to_sign(
    request: Request,
    order_id: OrderIdPath,
    refund_fen: int = Query(ge=0, le=2**48 - 1),
    member: Member = Depends(require(Role.ARBITER, *READ_ALL)),
    db: DbSession = Depends(get_db),
) -> dict:
    o = _order(db, order_id)
    dep = deployment_of(request)
    params = settlement.parameters(dep)
    remaining = orders.ruling_remaining(o, refund_fen)
    needed = params["arbiter_quorum"] if remaining > params["ruling_threshold_fen"] else 1
    typed = settlement.ruling_typed_data(dep, bytes.fromhex(o.order_key[2:]), o.payer, refund_fen, o.slot)
    return {
        "order_id": o.order_id,
        "status": o.status,
        "remaining_fen": remaining,
        "signatures_needed": needed,
        "typed_data": typed,
        "collected": cosign.collected_for_order(db, o.order_id, refund_fen),
    }


@router.post("/orders/{order_id}/cosignatures", summary="Leave an arbiter's own signature of a ruling for the others")
def leave_order_cosignature(
    body: OrderCoSignatureIn,
    request: Request,
    order_id: OrderIdPath,
    member: Member = Depends(require(Role.ARBITER)),
    db: DbSession = Depends(get_db),
) -> list[dict]:
    """The signature must be the signed-in arbiter's own (403), the order disputed (409)."""
    o = _order(db, order_id)
    if o.status != "disputed":
        raise Conflict(f"order {order_id} is {o.status}, not disputed: it takes no ruling signatures")
    orders.ruling_remaining(o, body.refund_fen)
    key = bytes.fromhex(o.order_key[2:])
    typed = settlement.ruling_typed_data(deployment_of(request), key, o.payer, body.refund_fen, o.slot)
    out = cosign.leave_for_order(db, typed, o.order_id, member.address, body.signature)
    request.state.audit_detail = f"order {order_id} ruling co-signed (refund {body.refund_fen} fen)"
    return out


@router.post("/orders/{order_id}/ruling", response_model=OrderOut, summary="Execute the arbiters' signed ruling")
def post_ruling(
    body: RulingIn,
    request: Request,
    order_id: OrderIdPath,
    member: Member = Depends(require(Role.ARBITER, Role.OPERATOR)),
    db: DbSession = Depends(get_db),
) -> dict:
    dep = deployment_of(request)
    with order_turn(request, db, order_id):
        o, split = orders.rule_order(db, dep, sender_of(request, member), order_id, body.refund_fen, body.signatures)
        db.commit()
    request.state.audit_detail = f"order {order_id} ruled: refund {body.refund_fen} fen"
    return order_out(o, split)
