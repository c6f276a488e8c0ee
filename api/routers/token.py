"""The settlement token: issuance against fiat deposits (issuers), redemption for fiat payouts (any
holder), and the supply check auditors read. Each fiat reference counts once on chain: the same
request again answers 200 with what it did the first time; the reference used for something else
is a 409 naming it. Integer fen only."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request, Response
from pydantic import BaseModel, Field

from ledger.access.roles import Role
from ledger.money import issuance

from ..auth import READ_ALL, Member, authenticate, require
from ..errors import ApiError
from ..services import services
from .money_fields import Address, Fen

router = APIRouter(prefix="/v1/token", tags=["money"])
Reference = Field(min_length=1, max_length=80, pattern=r"^[\x21-\x7e]+$", description="the fiat transfer's reference")


class IssuanceIn(BaseModel):
    to: Address
    amount_fen: Fen
    fiat_reference: str = Reference


class RedemptionIn(BaseModel):
    amount_fen: Fen
    fiat_reference: str = Reference


def _replay(found: list[dict[str, Any]], same: dict[str, Any], reference: str, response: Response) -> dict | None:
    """What a reference already did: the same request again (200), or a conflict (409)."""
    if not found:
        return None
    first = found[0]
    if all(first.get(k) == v for k, v in same.items()):
        response.status_code = 200
        return first
    raise ApiError(409, "reference_used", f"fiat reference {reference!r} was already used: {first}")


@router.post("/issuances", status_code=201, summary="Mint fen against a fiat deposit (issuers)")
def issue(
    body: IssuanceIn, request: Request, response: Response, member: Member = Depends(require(Role.ISSUER))
) -> dict:
    svc = services(request)
    dep = svc.chain.deployment()
    same = {"issuer": member.address, "to": body.to, "amount_fen": body.amount_fen}
    replay = _replay(issuance.issuances(dep, body.fiat_reference), same, body.fiat_reference, response)
    if replay is None and issuance.reference_used(dep, body.fiat_reference):  # used by a redemption
        raise ApiError(409, "reference_used", f"fiat reference {body.fiat_reference!r} was already used")
    if replay is not None:
        return replay
    issuance.issue(dep, svc.signers.sender_for(member.address), body.to, body.amount_fen, body.fiat_reference)
    request.state.audit_detail = f"issued {body.amount_fen} fen to {body.to} against {body.fiat_reference}"
    return issuance.issuances(dep, body.fiat_reference)[0]


@router.post("/redemptions", status_code=201, summary="Burn own fen for a fiat payout (any holder)")
def redeem(body: RedemptionIn, request: Request, response: Response, member: Member = Depends(authenticate)) -> dict:
    svc = services(request)
    dep = svc.chain.deployment()
    same = {"holder": member.address, "amount_fen": body.amount_fen}
    replay = _replay(issuance.redemptions(dep, body.fiat_reference), same, body.fiat_reference, response)
    if replay is None and issuance.reference_used(dep, body.fiat_reference):
        raise ApiError(409, "reference_used", f"fiat reference {body.fiat_reference!r} was already used")
    if replay is not None:
        return replay
    issuance.redeem(dep, svc.signers.sender_for(member.address), body.amount_fen, body.fiat_reference)
    request.state.audit_detail = f"redeemed {body.amount_fen} fen against {body.fiat_reference}"
    return issuance.redemptions(dep, body.fiat_reference)[0]


@router.get("/issuances", summary="Every issuance, as the chain records it (issuers, auditors, operators)")
def list_issuances(request: Request, _: Member = Depends(require(Role.ISSUER, *READ_ALL))) -> list[dict]:
    return issuance.issuances(services(request).chain.deployment())


@router.get("/redemptions", summary="Every redemption, as the chain records it (issuers, auditors, operators)")
def list_redemptions(request: Request, _: Member = Depends(require(Role.ISSUER, *READ_ALL))) -> list[dict]:
    return issuance.redemptions(services(request).chain.deployment())


@router.get("/supply", summary="Total supply against minted minus burned (issuers, auditors, operators)")
def get_supply(request: Request, _: Member = Depends(require(Role.ISSUER, *READ_ALL))) -> dict:
    return issuance.supply(services(request).chain.deployment())
