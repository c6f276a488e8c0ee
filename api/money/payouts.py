"""Payouts: what the chain owes a member (settlement shares, awarded claims), pulled by the member itself."""

from __future__ import annotations

from eth_utils import to_checksum_address
from fastapi import APIRouter, Depends, Path, Request
from pydantic import BaseModel

from ledger.money import vault
from ledger.money.orders import settlement

from ..access.auth import READ_ALL, Member, authenticate
from ..access.deps import deployment_of, sender_of
from ..core.errors import ApiError, not_found
from ..core.fields import tx_of

router = APIRouter(prefix="/v1", tags=["money"])


class PayoutOut(BaseModel):
    account: str
    settlement_fen: int
    vault_claims_fen: int
    tx_hashes: list[str] = []


@router.get("/payouts/me", response_model=PayoutOut, summary="What the chain owes the caller, waiting to be pulled")
def my_payouts(request: Request, member: Member = Depends(authenticate)) -> dict:
    return {"account": member.address, **settlement.owed(deployment_of(request), member.address)}


@router.get("/payouts/{account}", response_model=PayoutOut, summary="What the chain owes an account")
def payouts_of(
    request: Request, account: str = Path(pattern=r"^0x[0-9a-fA-F]{40}$"), member: Member = Depends(authenticate)
) -> dict:
    """The account itself, auditors and operators only; anyone else gets a 404."""
    account = to_checksum_address(account)
    if account != member.address and not member.has(READ_ALL):
        raise not_found(f"payouts of {account}")
    return {"account": account, **settlement.owed(deployment_of(request), account)}


@router.post("/payouts/withdraw", response_model=PayoutOut, summary="Pull everything owed to the caller")
def withdraw_payouts(request: Request, member: Member = Depends(authenticate)) -> dict:
    dep, sender = deployment_of(request), sender_of(request, member)
    before = settlement.owed(dep, member.address)
    if before["settlement_fen"] == 0 and before["vault_claims_fen"] == 0:
        raise ApiError(409, "nothing_owed", f"nothing is owed to {member.address}")
    txs = []
    if before["settlement_fen"]:
        txs.append(tx_of(settlement.withdraw_payouts(dep, sender)))
    if before["vault_claims_fen"]:
        txs.append(tx_of(vault.claim(dep, sender)))
    request.state.audit_detail = f"withdrew {before}"
    return {"account": member.address, **settlement.owed(dep, member.address), "tx_hashes": txs}
