"""Guarantee deposits and complaint cases. Merchants deposit and withdraw their own deposits (another's
is a 404); arbiters open and close cases; auditors read everything and write nothing. Integer fen only.

A party to a case (its merchant or claimant) never opens or decides it (403 `PartyToCase`, from the
contract); the arbiter who opened a case never awards it alone (403 `OpenerAlone`). One arbiter
releases or awards a case of up to the case threshold (`/close`); a larger case, either way, takes
the case quorum of arbiters' own EIP-712 signatures (`GET` then `POST /v1/cases/{id}/ruling`).
"""

from __future__ import annotations

from typing import Any

from eth_utils import to_checksum_address
from fastapi import APIRouter, Depends, Path, Query, Request
from pydantic import BaseModel, Field, StrictBool
from sqlalchemy.orm import Session as DbSession

from ledger.access.roles import Role
from ledger.money import cosign, vault

from ..access.auth import READ_ALL, Member, authenticate, require
from ..access.deps import deployment_of, sender_of
from ..core.errors import not_found
from ..core.fields import Address, Fen, tx_of
from ..core.services import get_db, services

router = APIRouter(prefix="/v1", tags=["money"])


def _account_after(request: Request, member: Member, receipt: Any) -> dict:
    """The merchant's deposit account after its transaction, with the transaction's hash."""
    account = vault.deposit_account(deployment_of(request), member.address)
    return {"merchant": member.address, **account, "tx_hash": tx_of(receipt)}


class AmountIn(BaseModel):
    amount_fen: Fen


class DepositOut(BaseModel):
    merchant: str
    balance_fen: int
    frozen_fen: int
    required_fen: int
    pending_withdrawal_fen: int
    unlock_at: int
    lapses_at: int = Field(description="after this time (unix s) the requested withdrawal lapses; 0: none")
    available_fen: int
    tx_hash: str | None = None


@router.post("/deposits", response_model=DepositOut, summary="Lock more guarantee deposit (merchants)")
def add_deposit(body: AmountIn, request: Request, member: Member = Depends(require(Role.MERCHANT))) -> dict:
    # its exact approval and the deposit taken as one turn per merchant: two deposits at once each
    # approved its own amount, the second approval replaced the first, and one deposit failed
    with services(request).locks.exclusive(f"deposit-{member.address.lower()}"):
        receipt = vault.deposit(deployment_of(request), sender_of(request, member), body.amount_fen)
    request.state.audit_detail = f"deposit {body.amount_fen} fen"
    return _account_after(request, member, receipt)


@router.get(
    "/deposits/{merchant}", response_model=DepositOut, summary="A merchant's deposit: balance, required, frozen"
)
def get_deposit(
    request: Request, merchant: str = Path(pattern=r"^0x[0-9a-fA-F]{40}$"), member: Member = Depends(authenticate)
) -> dict:
    merchant = to_checksum_address(merchant)
    if merchant != member.address and not member.has(READ_ALL | Role.ARBITER):
        raise not_found(f"deposit of {merchant}")
    return {"merchant": merchant, **vault.deposit_account(deployment_of(request), merchant)}


@router.get("/deposits/{merchant}/cases", summary="Cases opened against a merchant's deposit, newest first")
def cases_against(
    request: Request, merchant: str = Path(pattern=r"^0x[0-9a-fA-F]{40}$"), member: Member = Depends(authenticate)
) -> list[dict]:
    """The merchant itself, arbiters, auditors and operators; anyone else gets a 404."""
    merchant = to_checksum_address(merchant)
    if merchant != member.address and not member.has(READ_ALL | Role.ARBITER):
        raise not_found(f"cases of {merchant}")
    return vault.cases_of(deployment_of(request), merchant)


@router.post(
    "/deposits/withdrawal-requests",
    response_model=DepositOut,
    summary="Ask to withdraw part of the deposit; taken after the cooldown, within 3 days (then it lapses)",
)
def request_withdrawal(body: AmountIn, request: Request, member: Member = Depends(require(Role.MERCHANT))) -> dict:
    receipt = vault.request_withdrawal(deployment_of(request), sender_of(request, member), body.amount_fen)
    return _account_after(request, member, receipt)


@router.post("/deposits/withdrawals", response_model=DepositOut, summary="Take the requested withdrawal")
def withdraw(request: Request, member: Member = Depends(require(Role.MERCHANT))) -> dict:
    receipt = vault.withdraw_deposit(deployment_of(request), sender_of(request, member))
    return _account_after(request, member, receipt)


class CaseIn(BaseModel):
    merchant: Address
    claimant: Address
    amount_fen: Fen


class CaseCloseIn(BaseModel):
    pay_out: StrictBool = Field(description="true: award the frozen amount to the claimant; false: release it")


class CaseRulingIn(BaseModel):
    pay_out: StrictBool = Field(description="true: award the frozen amount to the claimant; false: release it")
    signatures: list[str] = Field(min_length=1, max_length=32, description="65-byte EIP-712 signatures, hex")


class CaseOut(BaseModel):
    case_id: int
    merchant: str
    claimant: str
    amount_fen: int
    open: bool
    tx_hash: str | None = None


@router.post("/cases", response_model=CaseOut, status_code=201, summary="Open a complaint case (arbiters)")
def open_case(body: CaseIn, request: Request, member: Member = Depends(require(Role.ARBITER))) -> dict:
    dep = deployment_of(request)
    case_id = vault.open_case(dep, sender_of(request, member), body.merchant, body.claimant, body.amount_fen)
    request.state.audit_detail = f"case {case_id} freezes {body.amount_fen} fen of {body.merchant}"
    return vault.case(dep, case_id)


@router.post("/cases/{case_id}/close", response_model=CaseOut, summary="Close a case: release or pay out")
def close_case(
    body: CaseCloseIn,
    request: Request,
    case_id: int = Path(ge=1, le=2**63 - 1),
    member: Member = Depends(require(Role.ARBITER)),
) -> dict:
    dep = deployment_of(request)
    receipt = vault.close_case(dep, sender_of(request, member), case_id, body.pay_out)
    return {**vault.case(dep, case_id), "tx_hash": tx_of(receipt)}


@router.get("/cases/{case_id}/ruling", summary="What arbiters sign to rule on a case (EIP-712)")
def case_ruling_to_sign(
    request: Request,
    case_id: int = Path(ge=1, le=2**63 - 1),
    pay_out: bool = Query(description="the ruling to sign: award (true) or release (false)"),
    member: Member = Depends(require(Role.ARBITER, *READ_ALL)),
    db: DbSession = Depends(get_db),
) -> dict:
    dep = deployment_of(request)
    c = vault.case(dep, case_id)
    if c["merchant"] == "0x" + "00" * 20:
        raise not_found(f"case {case_id}")
    return {
        **c,
        "pay_out": pay_out,
        "signatures_needed": vault.signatures_needed(dep, c["amount_fen"]),
        "typed_data": vault.case_ruling_typed_data(dep, case_id, pay_out),
        "collected": cosign.collected(db, case_id, pay_out),
    }


class CoSignatureIn(BaseModel):
    pay_out: StrictBool
    signature: str = Field(pattern=r"^0x[0-9a-fA-F]{130}$", description="the arbiter's own EIP-712 signature")


@router.post("/cases/{case_id}/cosignatures", summary="Leave an arbiter's own signature of a ruling for the others")
def leave_cosignature(
    body: CoSignatureIn,
    request: Request,
    case_id: int = Path(ge=1, le=2**63 - 1),
    member: Member = Depends(require(Role.ARBITER)),
    db: DbSession = Depends(get_db),
) -> list[dict]:
    """The signature must be the signed-in arbiter's own (403), the case open (409)."""
    out = cosign.leave(db, deployment_of(request), case_id, body.pay_out, member.address, body.signature)
    request.state.audit_detail = f"case {case_id} ruling co-signed ({'pay out' if body.pay_out else 'release'})"
    return out


@router.post("/cases/{case_id}/ruling", response_model=CaseOut, summary="Execute the arbiters' signed ruling")
def rule_case(
    body: CaseRulingIn,
    request: Request,
    case_id: int = Path(ge=1, le=2**63 - 1),
    member: Member = Depends(require(Role.ARBITER)),
) -> dict:
    dep = deployment_of(request)
    receipt = vault.rule_case(dep, sender_of(request, member), case_id, body.pay_out, body.signatures)
    request.state.audit_detail = f"case {case_id} ruled: {'paid out' if body.pay_out else 'released'}"
    return {**vault.case(dep, case_id), "tx_hash": tx_of(receipt)}


@router.get("/cases", response_model=list[CaseOut], summary="Cases, newest first: by default the open ones (arbiters)")
def list_cases(
    request: Request,
    open_only: bool = Query(True, alias="open", description="only cases still waiting for a ruling"),
    limit: int = Query(50, ge=1, le=200),
    member: Member = Depends(require(Role.ARBITER, *READ_ALL)),
) -> list[dict]:
    return vault.recent_cases(deployment_of(request), limit, only_open=open_only)


@router.get("/cases/{case_id}", response_model=CaseOut, summary="One case")
def get_case(request: Request, case_id: int = Path(ge=1, le=2**63 - 1), member: Member = Depends(authenticate)) -> dict:
    c = vault.case(deployment_of(request), case_id)
    if c["merchant"] == "0x" + "00" * 20 or not (
        member.has(READ_ALL | Role.ARBITER) or member.address in (c["merchant"], c["claimant"])
    ):
        raise not_found(f"case {case_id}")
    return c
