"""The purchases API. The platform hands in the commitment its checkout received with an order and
anchors the tree; anyone reads the tree (the browser builds its own Merkle path from what every
prover fetches and whole chunks, so no request says which leaf is the prover's); a merchant sets
what a proven claim on its batch pays; a shopper, anonymous, sends a proof with a review or a
claim (paid at once from the deposit); the batch's counts are public. A refusal names its
reason, with nothing stored."""

from __future__ import annotations

import hashlib
import json
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Request, Response
from pydantic import BaseModel, Field, StrictInt
from sqlalchemy import select
from sqlalchemy.orm import Session as DbSession

from ledger.access.roles import Role
from ledger.chain.client import TransactionFailed
from ledger.privacy import chunks, tree, voices
from ledger.privacy.fields import batch_id
from ledger.store.models import Product
from ledger.store.purchase_tables import PurchaseCommitment

from ..access.auth import Member, require
from ..access.deps import deployment_of, sender_of
from ..core.errors import ApiError
from ..core.fields import Address, Fen, OrderId
from ..core.services import get_db, rate_limited, services

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
}
MAX_PAGE = 65_536


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


def _deployment(request: Request):  # type: ignore[no-untyped-def]
    dep = deployment_of(request)
    if "PurchaseProofs" not in dep.manifest["contracts"]:
        raise ApiError(409, "zk_not_deployed", "purchase proofs are not deployed on this chain: `ledger zk deploy`")
    return dep


class CommitmentIn(BaseModel):
    order_id: OrderId
    gtin: Gtin
    lot: Lot
    commitment: FieldText


class Spoken(BaseModel):
    gtin: Gtin
    lot: Lot
    root: FieldText
    nullifier: FieldText
    proof: Proof


class ReviewIn(Spoken):
    rating: StrictInt = Field(ge=1, le=5)
    text: str = Field("", max_length=2000)


class ClaimIn(Spoken):
    pay_to: Address
    amount_fen: Fen


class DisputeIn(Spoken):
    statement: str = Field(min_length=1, max_length=2000, description="what went wrong, for the arbiters")
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


@router.post("/commitments", status_code=201, summary="The commitment a shopper's browser made at checkout (platform)")
def post_commitment(
    body: CommitmentIn,
    request: Request,
    member: Member = Depends(require(Role.OPERATOR)),
    db: DbSession = Depends(get_db),
) -> dict:
    voices.require_batch(db, body.gtin, body.lot)
    row = tree.record_commitment(db, body.order_id, batch_id(body.gtin, body.lot), body.commitment)
    db.commit()
    return {"order_id": row.order_id, "batch": row.batch, "state": row.state}


@router.post("/anchor", summary="Add delivered purchases to the tree, zero refunded ones, anchor the root (platform)")
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


@router.get(
    "/tree", summary="The tree's leaves (decimal), a page at a time, and its size", dependencies=[Depends(rate_limited)]
)
def get_tree(
    db: DbSession = Depends(get_db),
    offset: int = Query(0, ge=0, le=tree.CAPACITY),
    limit: int = Query(4096, ge=1, le=MAX_PAGE),
) -> dict:
    rows = db.execute(
        select(PurchaseCommitment.leaf_index, PurchaseCommitment.commitment, PurchaseCommitment.state)
        .where(PurchaseCommitment.leaf_index.is_not(None), PurchaseCommitment.leaf_index >= offset)
        .order_by(PurchaseCommitment.leaf_index)
        .limit(limit)
    ).all()
    size = db.scalar(select(PurchaseCommitment.leaf_index).order_by(PurchaseCommitment.leaf_index.desc()).limit(1))
    leaves = [c if s == "anchored" else "0" for _, c, s in rows]
    return {"depth": tree.DEPTH, "size": 0 if size is None else size + 1, "offset": offset, "leaves": leaves}


def _cached(request: Request, body: bytes, media: str) -> Response:
    """A public, content-addressed answer: an ETag, and 304 when the caller holds it already."""
    tag = '"' + hashlib.sha256(body).hexdigest()[:32] + '"'
    headers = {"ETag": tag, "Cache-Control": "public, no-cache"}
    if request.headers.get("if-none-match") == tag:
        return Response(status_code=304, headers=headers)
    return Response(body, media_type=media, headers=headers)


@router.get(
    "/tree/summary",
    summary="The tree's size, root, every 1,024-leaf chunk's root and the levels above (the same for everyone)",
    dependencies=[Depends(rate_limited)],
)
def get_tree_summary(request: Request, db: DbSession = Depends(get_db)) -> Response:
    return _cached(request, json.dumps(chunks.summary(db)).encode(), "application/json")


@router.get(
    "/tree/prefixes/{page}",
    summary="The first 4 bytes of 65,536 leaves, binary (a prover fetches every page to find its leaf)",
    dependencies=[Depends(rate_limited)],
)
def get_tree_prefixes(
    request: Request, page: Annotated[int, Path(ge=0, lt=tree.CAPACITY // chunks.PREFIX_PAGE)], db=Depends(get_db)
) -> Response:
    return _cached(request, chunks.prefixes(db, page), "application/octet-stream")


@router.get(
    "/tree/chunks/{index}",
    summary="A whole chunk: 1,024 leaves, 32 bytes each, binary",
    dependencies=[Depends(rate_limited)],
)
def get_tree_chunk(
    request: Request, index: Annotated[int, Path(ge=0, lt=tree.CAPACITY // chunks.CHUNK)], db=Depends(get_db)
) -> Response:
    return _cached(request, chunks.chunk(db, index), "application/octet-stream")


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
def post_dispute_payment(request: Request, case_id: Annotated[int, Path(ge=1, le=2**63)], db=Depends(get_db)) -> dict:
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
    return _chain(lambda: act(db, dep, relayer, body.gtin, body.lot, *what, root, nullifier, body.proof.words()))


@router.get("/batches/{gtin}/{lot}", summary="Verified buyers' reviews and claims of a batch: counts, never a link")
def get_batch(
    request: Request,
    gtin: Annotated[str, Path(pattern=r"^[0-9]{14}$")],
    lot: Annotated[str, Path(min_length=1, max_length=20)],
    db: DbSession = Depends(get_db),
) -> dict:
    return voices.summary(db, _deployment(request), gtin, lot)
