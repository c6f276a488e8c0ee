"""Money: guarantee deposits and complaint cases, orders with referral splits, payouts,
commission rules.

Who may do what: merchants deposit and withdraw their own deposits; arbiters open and close
cases; the platform (operators) escrows, confirms and refunds orders and sets the commission
rule within the on-chain caps; every member pulls its own payouts. Merchants see only their own
deposits and orders (another's are a 404); auditors see everything and write nothing. All amounts
are integer fen; floats are refused.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Annotated, Any

from eth_utils import is_address, to_checksum_address
from fastapi import APIRouter, Depends, Header, Path, Request
from fastapi.responses import JSONResponse
from pydantic import AfterValidator, BaseModel, Field, StrictBool, StrictInt
from sqlalchemy import select
from sqlalchemy.orm import Session as DbSession

from ledger import money, orders
from ledger.models import CommissionRule, Order
from ledger.orders import current_rule
from ledger.roles import Role

from .. import idempotency
from ..auth import READ_ALL, Member, as_utc, authenticate, require, utcnow, visible
from ..errors import ApiError, invalid, not_found
from ..services import get_db, services

router = APIRouter(prefix="/v1", tags=["money"])
MAX_FEN = 2**96 - 1


def _address(v: str) -> str:
    if not is_address(v):
        raise ValueError("not an Ethereum address")
    return to_checksum_address(v)


Address = Annotated[str, Field(pattern=r"^0x[0-9a-fA-F]{40}$"), AfterValidator(_address)]
Fen = Annotated[StrictInt, Field(gt=0, le=MAX_FEN, description="integer fen (0.01 CNY)")]
Bps = Annotated[StrictInt, Field(ge=0, le=10_000)]
ORDER_ID = r"^[A-Za-z0-9_.:-]{1,64}$"
OrderId = Annotated[str, Field(pattern=ORDER_ID)]
OrderIdPath = Annotated[str, Path(pattern=ORDER_ID)]


def _tx(receipt: Any) -> str:
    return "0x" + bytes(receipt["transactionHash"]).hex()


def _sender(request: Request, member: Member):  # type: ignore[no-untyped-def]
    return services(request).signers.sender_for(member.address)


def _dep(request: Request):  # type: ignore[no-untyped-def]
    return services(request).chain.deployment()


# -- deposits and cases ---------------------------------------------------------------------


class AmountIn(BaseModel):
    amount_fen: Fen


class DepositOut(BaseModel):
    merchant: str
    balance_fen: int
    frozen_fen: int
    required_fen: int
    pending_withdrawal_fen: int
    unlock_at: int
    available_fen: int
    tx_hash: str | None = None


@router.post("/deposits", response_model=DepositOut, summary="Lock more guarantee deposit (merchants)")
def add_deposit(body: AmountIn, request: Request, member: Member = Depends(require(Role.MERCHANT))) -> dict:
    receipt = money.deposit(_dep(request), _sender(request, member), body.amount_fen)
    request.state.audit_detail = f"deposit {body.amount_fen} fen"
    return {"merchant": member.address, **money.deposit_account(_dep(request), member.address), "tx_hash": _tx(receipt)}


@router.get(
    "/deposits/{merchant}", response_model=DepositOut, summary="A merchant's deposit: balance, required, frozen"
)
def get_deposit(
    request: Request, merchant: str = Path(pattern=r"^0x[0-9a-fA-F]{40}$"), member: Member = Depends(authenticate)
) -> dict:
    merchant = to_checksum_address(merchant)
    if merchant != member.address and not member.has(READ_ALL | Role.ARBITER):
        raise not_found(f"deposit of {merchant}")
    return {"merchant": merchant, **money.deposit_account(_dep(request), merchant)}


@router.post(
    "/deposits/withdrawal-requests",
    response_model=DepositOut,
    summary="Ask to withdraw part of the deposit; it may be taken after the cooldown",
)
def request_withdrawal(body: AmountIn, request: Request, member: Member = Depends(require(Role.MERCHANT))) -> dict:
    receipt = money.request_withdrawal(_dep(request), _sender(request, member), body.amount_fen)
    return {"merchant": member.address, **money.deposit_account(_dep(request), member.address), "tx_hash": _tx(receipt)}


@router.post("/deposits/withdrawals", response_model=DepositOut, summary="Take the requested withdrawal")
def withdraw(request: Request, member: Member = Depends(require(Role.MERCHANT))) -> dict:
    receipt = money.withdraw_deposit(_dep(request), _sender(request, member))
    return {"merchant": member.address, **money.deposit_account(_dep(request), member.address), "tx_hash": _tx(receipt)}


class CaseIn(BaseModel):
    merchant: Address
    claimant: Address
    amount_fen: Fen


class CaseCloseIn(BaseModel):
    pay_out: StrictBool = Field(description="true: award the frozen amount to the claimant; false: release it")


class CaseOut(BaseModel):
    case_id: int
    merchant: str
    claimant: str
    amount_fen: int
    open: bool
    tx_hash: str | None = None


@router.post("/cases", response_model=CaseOut, status_code=201, summary="Open a complaint case (arbiters)")
def open_case(body: CaseIn, request: Request, member: Member = Depends(require(Role.ARBITER))) -> dict:
    dep = _dep(request)
    case_id = money.open_case(dep, _sender(request, member), body.merchant, body.claimant, body.amount_fen)
    request.state.audit_detail = f"case {case_id} freezes {body.amount_fen} fen of {body.merchant}"
    return money.case(dep, case_id)


@router.post("/cases/{case_id}/close", response_model=CaseOut, summary="Close a case: release or pay out")
def close_case(
    body: CaseCloseIn,
    request: Request,
    case_id: int = Path(ge=1, le=2**63),
    member: Member = Depends(require(Role.ARBITER)),
) -> dict:
    dep = _dep(request)
    receipt = money.close_case(dep, _sender(request, member), case_id, body.pay_out)
    return {**money.case(dep, case_id), "tx_hash": _tx(receipt)}


@router.get("/cases/{case_id}", response_model=CaseOut, summary="One case")
def get_case(request: Request, case_id: int = Path(ge=1, le=2**63), member: Member = Depends(authenticate)) -> dict:
    c = money.case(_dep(request), case_id)
    if c["merchant"] == "0x" + "00" * 20 or not (
        member.has(READ_ALL | Role.ARBITER) or member.address in (c["merchant"], c["claimant"])
    ):
        raise not_found(f"case {case_id}")
    return c


# -- commission rules -----------------------------------------------------------------------


class RuleIn(BaseModel):
    platform_fee_bps: Bps
    referral_bps: list[Bps] = Field(min_length=3, max_length=3, description="levels 1, 2, 3")


class RuleOut(RuleIn):
    caps_platform_fee_bps: int
    caps_referral_bps: list[int]


@router.get("/commission-rules", response_model=RuleOut, summary="The platform's split for new orders, and the caps")
def get_rule(request: Request, _: Member = Depends(authenticate), db: DbSession = Depends(get_db)) -> dict:
    fee_cap, level_caps = money.caps(_dep(request))
    return {**current_rule(db), "caps_platform_fee_bps": fee_cap, "caps_referral_bps": level_caps}


@router.put("/commission-rules", response_model=RuleOut, summary="Set the split for new orders (platform)")
def put_rule(
    body: RuleIn, request: Request, member: Member = Depends(require(Role.OPERATOR)), db: DbSession = Depends(get_db)
) -> dict:
    fee_cap, level_caps = money.caps(_dep(request))
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
            _dep(request),
            _sender(request, member),
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
    o, split = orders.close_order(db, _dep(request), _sender(request, member), order_id, action)
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


# -- payouts --------------------------------------------------------------------------------


class PayoutOut(BaseModel):
    account: str
    settlement_fen: int
    vault_claims_fen: int
    tx_hashes: list[str] = []


@router.get("/payouts/me", response_model=PayoutOut, summary="What the chain owes the caller, waiting to be pulled")
def my_payouts(request: Request, member: Member = Depends(authenticate)) -> dict:
    return {"account": member.address, **money.owed(_dep(request), member.address)}


@router.get("/payouts/{account}", response_model=PayoutOut, summary="What the chain owes an account")
def payouts_of(
    request: Request, account: str = Path(pattern=r"^0x[0-9a-fA-F]{40}$"), member: Member = Depends(authenticate)
) -> dict:
    """The account itself, auditors and operators only; anyone else gets a 404."""
    account = to_checksum_address(account)
    if account != member.address and not member.has(READ_ALL):
        raise not_found(f"payouts of {account}")
    return {"account": account, **money.owed(_dep(request), account)}


@router.post("/payouts/withdraw", response_model=PayoutOut, summary="Pull everything owed to the caller")
def withdraw_payouts(request: Request, member: Member = Depends(authenticate)) -> dict:
    dep, sender = _dep(request), _sender(request, member)
    before = money.owed(dep, member.address)
    if before["settlement_fen"] == 0 and before["vault_claims_fen"] == 0:
        raise ApiError(409, "nothing_owed", f"nothing is owed to {member.address}")
    txs = []
    if before["settlement_fen"]:
        txs.append(_tx(money.withdraw_payouts(dep, sender)))
    if before["vault_claims_fen"]:
        txs.append(_tx(money.claim(dep, sender)))
    request.state.audit_detail = f"withdrew {before}"
    return {"account": member.address, **money.owed(dep, member.address), "tx_hashes": txs}
