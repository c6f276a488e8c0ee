"""What auditors and regulators read from the chain itself: the deployment's on-chain records by
kind with filters (`GET /v1/chain/records`), one block, one transaction with its decoded logs; and
verifying a code URI or an EPCIS document in the console (`POST /v1/audit/verify/...`), every
check as `ledger verify` shows it, done against the chain node with only the Merkle paths taken
from our database (which the checks do not trust).

Read-all roles (auditor, operator) and governors; each request reads a bounded block range."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from fastapi import APIRouter, Body, Depends, Path, Query, Request
from pydantic import BaseModel, Field
from sqlalchemy import select
from sqlalchemy.orm import Session as DbSession
from web3.exceptions import TransactionNotFound

from ledger.access.roles import Role
from ledger.chain import explorer
from ledger.store.models import EpcisEvent
from ledger.trace import scan_facts
from ledger.trace.epcis import proofs
from ledger.trace.epcis.hashid import UnhashableEvent, document_digests, hash_id_of
from ledger.trace.epcis.schema import InvalidEpcis, check_capture
from ledger.trace.verify import Check, verify_code

from ..access.auth import READ_ALL, Member, require
from ..core.errors import ApiError, invalid, not_found
from ..core.services import get_db, services

router = APIRouter(tags=["audit"])
READERS = require(READ_ALL | Role.GOVERNOR)
MAX_EVENTS_VERIFIED = 200


def _dep(request: Request):  # type: ignore[no-untyped-def]
    return services(request).chain.deployment()


@router.get("/v1/chain/records", summary="On-chain records of the deployment by kind, newest first, read from the node")
def chain_records(
    request: Request,
    kind: str | None = Query(None, pattern="^(" + "|".join(explorer.KINDS) + ")$"),
    event: str | None = Query(None, pattern=r"^[A-Za-z]{1,60}$"),
    subject: str | None = Query(None, min_length=1, max_length=66, description="an address, hash, GTIN or id"),
    from_block: int | None = Query(None, ge=0, le=2**62),
    to_block: int | None = Query(None, ge=0, le=2**62),
    before_log_index: int | None = Query(None, ge=0, le=2**31, description="in to_block, only records before this"),
    limit: int = Query(100, ge=1, le=explorer.MAX_RECORDS),
    _: Member = Depends(READERS),
) -> dict[str, Any]:
    """Newest first; `next` holds the `to_block` and `before_log_index` of the next page further back."""
    if from_block is not None and to_block is not None and to_block < from_block:  # (was 200 and nothing)
        raise invalid("to_block", f"must be at least from_block ({from_block})")
    if from_block is not None and to_block is not None and to_block - from_block + 1 > explorer.MAX_BLOCKS:
        raise invalid("from_block", f"at most {explorer.MAX_BLOCKS} blocks per request; page back with next")
    return explorer.records(
        _dep(request), kind, from_block, to_block, event=event, subject=subject,
        before_log_index=before_log_index, limit=limit,
    )  # fmt: skip


@router.get("/v1/chain/blocks/{number}", summary="One block as the node has it")
def chain_block(request: Request, number: int = Path(ge=0, le=2**62), _: Member = Depends(READERS)) -> dict:
    dep = _dep(request)
    if number > dep.w3.eth.block_number:
        raise not_found(f"block {number}")
    return explorer.block(dep, number)


@router.get("/v1/chain/transactions/{tx_hash}", summary="One transaction: its receipt and decoded records")
def chain_transaction(
    request: Request, tx_hash: str = Path(pattern=r"^0x[0-9a-fA-F]{64}$"), _: Member = Depends(READERS)
) -> dict:
    try:
        return explorer.transaction(_dep(request), tx_hash)
    except TransactionNotFound:
        raise not_found(f"transaction {tx_hash}") from None


class CodeToVerify(BaseModel):
    uri: str = Field(min_length=10, max_length=600, description="the GS1 Digital Link URI from the QR code")


def _answer(checks: list[Check]) -> dict[str, Any]:
    return {"ok": bool(checks) and all(c.ok for c in checks), "checks": [asdict(c) for c in checks]}


@router.post("/v1/audit/verify/code", summary="Verify a code URI against the chain node, as `ledger verify` does")
def verify_code_uri(
    body: CodeToVerify, request: Request, db: DbSession = Depends(get_db), _: Member = Depends(READERS)
) -> dict[str, Any]:
    def fetch(link):  # type: ignore[no-untyped-def]  # the Merkle path only; the checks trust none of it
        proof = scan_facts.code_proof(db, link.gtin, link.lot, link.serial, link.params.get("t"))
        if proof is None:
            raise LookupError(f"no code {link.gtin}/{link.lot}/{link.serial} here")
        return proof

    return _answer(verify_code(_dep(request), body.uri, fetch))


@router.post(
    "/v1/audit/verify/events",
    summary="Verify an EPCIS document's events against the chain node, as `ledger verify-events` does",
)
def verify_epcis_document(
    request: Request,
    document: dict[str, Any] = Body(description="an EPCIS 2.0 JSON-LD document (or one event)"),
    db: DbSession = Depends(get_db),
    _: Member = Depends(READERS),
) -> dict[str, Any]:
    from ledger.trace.epcis.verify import verify_events

    try:
        document, events = check_capture(document)  # what capture would refuse is a 422 naming the path
        document_digests(document)
    except InvalidEpcis as exc:
        problems = [{"field": p["path"], "reason": p["reason"]} for p in exc.problems[:50]]
        raise ApiError(422, "invalid_epcis", problems) from None
    except UnhashableEvent as exc:
        raise invalid(exc.path, exc.reason) from None
    if len(events) > MAX_EVENTS_VERIFIED:
        raise invalid("body.epcisBody.eventList", f"at most {MAX_EVENTS_VERIFIED} events per verification")

    def fetch(digest: str) -> dict:
        row = db.scalar(select(EpcisEvent).where(EpcisEvent.hash_id == hash_id_of(digest)))
        return proofs.proof_of(db, row) if row is not None else {"status": "unknown to the service"}

    try:
        checks = verify_events(document, _dep(request), fetch)
    except (KeyError, TypeError, ValueError, AttributeError) as exc:  # an event of a shape no valid one has
        raise invalid("body", f"an event cannot be checked ({type(exc).__name__})") from None
    return _answer(checks)
