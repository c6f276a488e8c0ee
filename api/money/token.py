"""The settlement token: issuance against fiat deposits (issuers), redemption for fiat payouts (any
holder), and the supply check auditors read. Each fiat reference counts once on chain: the same
request again answers 200 with what it did the first time; the reference used for something else
is a 409 naming it. Integer fen only."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, Depends, Request, Response
from pydantic import BaseModel, Field

from ledger.access.roles import Role
from ledger.chain.client import TransactionFailed
from ledger.money import issuance

from ..access.auth import READ_ALL, Member, authenticate, require
from ..core.errors import ApiError
from ..core.fields import Address, Fen
from ..core.services import services

router = APIRouter(prefix="/v1/token", tags=["money"])
Reference = Field(min_length=1, max_length=80, pattern=r"^[\x21-\x7e]+$", description="the fiat transfer's reference")


class IssuanceIn(BaseModel):
    to: Address
    amount_fen: Fen
    fiat_reference: str = Reference


class RedemptionIn(BaseModel):
    amount_fen: Fen
    fiat_reference: str = Reference


def _once(
    dep: Any,
    listed: Callable[[Any, str], list[dict[str, Any]]],
    same: dict[str, Any],
    reference: str,
    response: Response,
    act: Callable[[], Any],
) -> dict:
    """Do `act` once per fiat reference: the same request again answers 200 with what it did the
    first time; the reference already used for anything else is a 409."""
    found = listed(dep, reference)
    if found and all(found[0].get(k) == v for k, v in same.items()):
        response.status_code = 200
        return found[0]
    if found or issuance.reference_used(dep, reference):  # other terms, or used the other way
        # what it was used for, as JSON reads (it was Python's repr of a dict, outside probe)
        detail = f": {json.dumps(found[0], default=str, ensure_ascii=False)}" if found else ""
        raise ApiError(409, "reference_used", f"fiat reference {reference!r} was already used{detail}")
    try:
        act()
    except TransactionFailed as exc:  # the same request, at the same moment, used the reference first
        if exc.error not in ("ReferenceUsed", None):  # (None: mined after the first, and reverted)
            raise
        found = listed(dep, reference)
        if not (found and all(found[0].get(k) == v for k, v in same.items())):
            raise
        response.status_code = 200
    return listed(dep, reference)[0]


@router.post("/issuances", status_code=201, summary="Mint fen against a fiat deposit (issuers)")
def issue(
    body: IssuanceIn, request: Request, response: Response, member: Member = Depends(require(Role.ISSUER))
) -> dict:
    svc = services(request)
    dep, ref = svc.chain.deployment(), body.fiat_reference
    same = {"issuer": member.address, "to": body.to, "amount_fen": body.amount_fen}
    request.state.audit_detail = f"issue {body.amount_fen} fen to {body.to} against {ref}"
    return _once(
        dep,
        issuance.issuances,
        same,
        ref,
        response,
        lambda: issuance.issue(dep, svc.signers.sender_for(member.address), body.to, body.amount_fen, ref),
    )


@router.post("/redemptions", status_code=201, summary="Burn own fen for a fiat payout (any holder)")
def redeem(body: RedemptionIn, request: Request, response: Response, member: Member = Depends(authenticate)) -> dict:
    svc = services(request)
    dep, ref = svc.chain.deployment(), body.fiat_reference
    same = {"holder": member.address, "amount_fen": body.amount_fen}
    request.state.audit_detail = f"redeem {body.amount_fen} fen against {ref}"
    return _once(
        dep,
        issuance.redemptions,
        same,
        ref,
        response,
        lambda: issuance.redeem(dep, svc.signers.sender_for(member.address), body.amount_fen, ref),
    )


@router.get("/issuances", summary="Every issuance, as the chain records it (issuers, auditors, operators)")
def list_issuances(request: Request, _: Member = Depends(require(Role.ISSUER, *READ_ALL))) -> list[dict]:
    return issuance.issuances(services(request).chain.deployment())


@router.get("/redemptions", summary="Every redemption, as the chain records it (issuers, auditors, operators)")
def list_redemptions(request: Request, _: Member = Depends(require(Role.ISSUER, *READ_ALL))) -> list[dict]:
    return issuance.redemptions(services(request).chain.deployment())


@router.get("/supply", summary="Total supply against minted minus burned (issuers, auditors, operators)")
def get_supply(request: Request, _: Member = Depends(require(Role.ISSUER, *READ_ALL))) -> dict:
    return issuance.supply(services(request).chain.deployment())
