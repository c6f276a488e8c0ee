"""The purchases API. The platform hands in the commitment its checkout received with an order; the
carrier vouches for the commitment each recipient showed at hand-over; the platform anchors exactly
the vouched ones; an auditor recomputes the roots and confirms them; anyone reads the tree (the
browser builds its own Merkle path from what every prover fetches and whole chunks, so no request
says which leaf is the prover's); a merchant sets what a proven claim on its batch pays; a shopper,
anonymous, sends a proof with a review or a claim (paid at once from the deposit); the batch's
counts are public. A refusal names its reason, with nothing stored."""

from __future__ import annotations

import contextlib
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Request
from pydantic import BaseModel, Field, StrictInt
from sqlalchemy import select
from sqlalchemy.orm import Session as DbSession

from ledger.access.roles import Role
from ledger.chain.client import TransactionFailed
from ledger.privacy import tree, voices
from ledger.store.models import Product

from ..access.auth import Member, require
from ..access.deps import sender_of
from ..core.errors import ApiError
from ..core.fields import Address, Fen, OrderId, ProseText
from ..core.services import get_db, rate_limited, services
from .deployed import proofs_deployment

router = APIRouter(prefix="/v1/purchases", tags=["purchases"])

FieldText = Annotated[str, Field(pattern=r"^[0-9]{1,78}$", description="a BN254 field element, decimal")]
Gtin = Annotated[str, Field(pattern=r"^[0-9]{14}$")]
Lot = Annotated[str, Field(min_length=1, max_length=20)]
#: what the contract's refusals mean to a client
STATUS = {
    "InvalidProof": 422,
    "NotInField": 422,
    "BadRating": 422,
    "ZeroAddress": 422,
    "UnknownRoot": 409,
    "StaleRoot": 409,
    "NullifierUsed": 409,
    "NoClaimTerms": 409,
    "ClaimWindowClosed": 409,
    "ClaimsExhausted": 409,
    "RootTooNew": 409,
    "WrongClaimAmount": 422,
    "InsufficientAvailable": 409,
    "TermsNotYours": 403,
    "TermsLocked": 409,
    "TermsNotInForce": 409,
    "EndsBeforeInForce": 422,
    "NoClaimVault": 409,
    "PartyToCase": 422,
    "RootNotConfirmed": 409,
    "NotVouched": 409,
    "OperatorCannot": 403,
}


class Proof(BaseModel):
    pi_a: list[FieldText] = Field(min_length=2, max_length=3)
    pi_b: list[list[FieldText]] = Field(min_length=2, max_length=3)
    pi_c: list[FieldText] = Field(min_length=2, max_length=3)

    def words(self) -> list[int]:
        b = self.pi_b
        if any(len(p) < 2 for p in b[:2]):
            raise ApiError(422, "invalid_input", "proof.pi_b must hold two pairs")
        a, c = self.pi_a, self.pi_c
        return [_word(x, "proof") for x in (a[0], a[1], b[0][1], b[0][0], b[1][1], b[1][0], c[0], c[1])]


def _word(value: str, what: str) -> int:
    v = int(value)
    if v >= 1 << 256:
        raise ApiError(422, "invalid_input", f"{what}: a number above 2^256")
    return v


_deployment = proofs_deployment


class CommitmentIn(BaseModel):
    order_id: OrderId
    gtin: Gtin = Field(description="the batch the order is for: a batch of the order's merchant")
    lot: Lot
    holder: FieldText = Field(description="Poseidon(secret), from the shopper's browser at checkout")


class Handed(BaseModel):
    order_id: OrderId
    commitment: FieldText = Field(description="the code the recipient showed at hand-over")


class VouchIn(BaseModel):
    handed: list[Handed] = Field(min_length=1, max_length=tree.MAX_ANCHOR)


class Spoken(BaseModel):
    gtin: Gtin
    lot: Lot
    root: FieldText
    nullifier: FieldText
    proof: Proof


class ReviewIn(Spoken):
    rating: StrictInt = Field(ge=1, le=5)
    text: ProseText = Field("", max_length=2000)


class ClaimIn(Spoken):
    pay_to: Address
    amount_fen: Fen


class DisputeIn(Spoken):
    statement: ProseText = Field(min_length=1, max_length=2000, description="what went wrong, for the arbiters")
    pay_to: Address


class TermsIn(BaseModel):
    gtin: Gtin
    lot: Lot
    amount_fen: Fen
    until: int = Field(ge=0, lt=2**64, description="the claim window's end, unix seconds")
    count: int = Field(ge=0, lt=2**32, description="how many claims it pays at most")


def _chain(call):  # type: ignore[no-untyped-def]
    try:
        return call()
    except TransactionFailed as exc:
        status = STATUS.get(exc.error or "")
        if status is None:
            raise
        raise ApiError(status, exc.error or "reverted", str(exc)) from None


@router.post(
    "/commitments",
    status_code=201,
    summary="A purchase's commitment, made from the order's batch and the holder the shopper's browser made (platform)",
)
def post_commitment(
    body: CommitmentIn,
    request: Request,
    member: Member = Depends(require(Role.OPERATOR)),
    db: DbSession = Depends(get_db),
) -> dict:
    row = tree.record_commitment(db, body.order_id, body.gtin, body.lot, body.holder)
    db.commit()
    return {"order_id": row.order_id, "batch": row.batch, "commitment": row.commitment, "state": row.state}


@router.post(
    "/vouches",
    summary="The carrier vouches for the commitments its parcels' recipients showed at hand-over (carrier)",
)
def post_vouches(
    body: VouchIn,
    request: Request,
    member: Member = Depends(require(Role.LOGISTICS)),
    db: DbSession = Depends(get_db),
) -> dict:
    handed = [(h.order_id, h.commitment) for h in body.handed]
    return _chain(lambda: tree.vouch(db, _deployment(request), sender_of(request, member), handed))


@router.get(
    "/roots",
    summary="Every anchored root recomputed from the logs: right or wrong, revoked or not (governor, auditor)",
)
def get_roots(request: Request, _: Member = Depends(require(Role.GOVERNOR, Role.AUDITOR))) -> list[dict]:
    return tree.verify_roots(_deployment(request))


@router.post(
    "/roots/confirmations",
    summary="Recompute every root from the logs and confirm the right ones with the auditor's key (auditor)",
)
def post_root_confirmations(request: Request, member: Member = Depends(require(Role.AUDITOR))) -> dict:
    return _chain(lambda: tree.confirm_roots(_deployment(request), sender_of(request, member)))


@router.post("/anchor", summary="Add vouched purchases to the tree, zero refunded ones, anchor the root (platform)")
def post_anchor(
    request: Request, member: Member = Depends(require(Role.OPERATOR)), db: DbSession = Depends(get_db)
) -> dict:
    done = tree.anchor(db, _deployment(request), sender_of(request, member))
    return done or {"added": 0, "zeroed": 0}


@router.post("/claim-terms", summary="What each proven claim on the caller's batch pays from its deposit (merchant)")
def post_claim_terms(
    body: TermsIn,
    request: Request,
    member: Member = Depends(require(Role.MERCHANT)),
    db: DbSession = Depends(get_db),
) -> dict:
    owner = db.scalar(select(Product.merchant).where(Product.gtin == body.gtin))
    if owner is None or owner.lower() != member.address.lower():
        raise ApiError(403, "not_your_product", f"{body.gtin} is not a product of {member.address}")
    dep, sender = _deployment(request), sender_of(request, member)
    return _chain(
        lambda: voices.set_terms(db, dep, sender, body.gtin, body.lot, body.amount_fen, body.until, body.count)
    )


@router.post(
    "/reviews",
    status_code=201,
    summary="A verified buyer's review, with its proof (anyone)",
    dependencies=[Depends(rate_limited)],
)
def post_review(body: ReviewIn, request: Request, db: DbSession = Depends(get_db)) -> dict:
    return _relayed(request, db, voices.review, body, body.rating, body.text)


@router.post(
    "/claims",
    status_code=201,
    summary="A shopper's claim on a batch, paid at once from the merchant's deposit to an address they name (anyone)",
    dependencies=[Depends(rate_limited)],
)
def post_claim(body: ClaimIn, request: Request, db: DbSession = Depends(get_db)) -> dict:
    return _relayed(request, db, voices.claim, body, body.pay_to, body.amount_fen)


@router.post(
    "/disputes",
    status_code=201,
    summary="A shopper's dispute: the terms' amount frozen from the deposit for an address they name, for arbiters",
    dependencies=[Depends(rate_limited)],
)
def post_dispute(body: DisputeIn, request: Request, db: DbSession = Depends(get_db)) -> dict:
    return _relayed(request, db, voices.dispute, body, body.statement, body.pay_to)


@router.post(
    "/disputes/{case_id}/payment",
    summary="Send what arbiters awarded a shopper's dispute to the address it named (anyone)",
    dependencies=[Depends(rate_limited)],
)
def post_dispute_payment(
    request: Request, case_id: Annotated[int, Path(ge=1, le=2**63 - 1)], db=Depends(get_db)
) -> dict:
    s = services(request)
    relayer = s.signers.sender_for(s.anchor_address())
    return _chain(lambda: voices.pay_dispute(db, _deployment(request), relayer, case_id))


def _relayed(request: Request, db: DbSession, act, body, *what) -> dict:
    """A shopper's voice (`voices.review` or `voices.claim`) sent by the platform's key: the proof,
    not the caller, authorises it."""
    s = services(request)
    relayer = s.signers.sender_for(s.anchor_address())
    dep = _deployment(request)
    root, nullifier = _word(body.root, "root"), _word(body.nullifier, "nullifier")
    # one nullifier's voices in turn: the same proof sent six times at once was simulated six times
    # before any was mined, and five reverted on chain at the platform's cost, their reason lost
    # (outside probe); in turn, the later ones are refused in simulation, NullifierUsed named
    turn = f"purchase-voice/{nullifier % 64}"
    with s.locks.exclusive(turn) if s.locks is not None else contextlib.nullcontext():
        return _chain(lambda: act(db, dep, relayer, body.gtin, body.lot, *what, root, nullifier, body.proof.words()))


@router.get("/batches/{gtin}/{lot}", summary="Verified buyers' reviews and claims of a batch: counts, never a link")
def get_batch(
    request: Request,
    gtin: Annotated[str, Path(pattern=r"^[0-9]{14}$")],
    lot: Annotated[str, Path(min_length=1, max_length=20)],
    db: DbSession = Depends(get_db),
) -> dict:
    return voices.summary(db, _deployment(request), gtin, lot)
