"""A merchant's referral terms: the most each referral level of an order it sells pays, set on chain
with the merchant's own key (`OrderSettlement.setReferralTerms`). The platform's commission rule
offers referrers its rates; an order pays each level the lower of the rule and the merchant's terms,
and the contract refuses more, so the platform's key cannot give referrers of its choosing more of
a merchant's proceeds than the merchant agreed to. Anyone signed in reads a merchant's terms.
"""

from __future__ import annotations

from eth_utils import to_checksum_address
from fastapi import APIRouter, Depends, Path, Request
from pydantic import BaseModel, Field

from ledger.access.roles import Role
from ledger.money.orders import settlement

from ..access.auth import Member, authenticate, require
from ..access.deps import deployment_of, sender_of
from ..core.errors import invalid
from ..core.fields import Bps, tx_of

router = APIRouter(prefix="/v1", tags=["money"])


class TermsIn(BaseModel):
    referral_bps: list[Bps] = Field(min_length=3, max_length=3, description="the most levels 1, 2, 3 pay")


class TermsOut(TermsIn):
    merchant: str
    caps_referral_bps: list[int]
    tx_hash: str | None = None


def _terms(request: Request, merchant: str) -> dict:
    dep = deployment_of(request)
    return {
        "merchant": merchant,
        "referral_bps": settlement.referral_terms(dep, merchant),
        "caps_referral_bps": settlement.caps(dep)[1],
    }


@router.get(
    "/referral-terms/{merchant}",
    response_model=TermsOut,
    summary="The most a merchant's orders pay each referral level, as it set them on chain",
)
def get_terms(
    request: Request, merchant: str = Path(pattern=r"^0x[0-9a-fA-F]{40}$"), _: Member = Depends(authenticate)
) -> dict:
    return _terms(request, to_checksum_address(merchant))


@router.put("/referral-terms", response_model=TermsOut, summary="Set the caller's referral terms (merchants)")
def put_terms(body: TermsIn, request: Request, member: Member = Depends(require(Role.MERCHANT))) -> dict:
    caps = settlement.caps(deployment_of(request))[1]
    for level, (bps, cap) in enumerate(zip(body.referral_bps, caps, strict=True)):
        if bps > cap:  # allowed on chain, but never paid: said now rather than silently capped later
            raise invalid(
                f"body.referral_bps.{level}", f"level {level + 1}: {bps} bps is above the on-chain cap of {cap}"
            )
    receipt = settlement.set_referral_terms(deployment_of(request), sender_of(request, member), body.referral_bps)
    request.state.audit_detail = f"referral terms {body.referral_bps}"
    return _terms(request, member.address) | {"tx_hash": tx_of(receipt)}
