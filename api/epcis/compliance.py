"""Compliance with the national traceability rules (ledger.compliance): GB 32100 credit codes and
trading parties, the trace-record profile, a capture checked against it (strict: 422 naming each
missing or wrong element), per-batch reports (zh/en, JSON or HTML), genealogy trace and recall
drafts. Reports, traces and drafts are for auditors, operators and inspectors, and for the
merchant of the product they start from."""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter, Body, Depends, Path, Query, Request, Response
from fastapi.responses import HTMLResponse
from pydantic import BaseModel, Field
from sqlalchemy import select, tuple_
from sqlalchemy.orm import Session as DbSession

from ledger.access.roles import Role
from ledger.clock import as_utc
from ledger.compliance import genealogy, parties, party_prefix, profile, recall, report, signatures
from ledger.compliance.credit_code import CreditCodeError
from ledger.flows import compliance_capture
from ledger.store.models import Batch, EpcisEvent, EventCompleteness, Product, TradingParty
from ledger.trace.epcis.hashid import hash_id_of
from ledger.trace.epcis.identifiers import canonical
from ledger.trace.gs1 import GtinError, normalize_gtin

from ..access.auth import READ_ALL, Member, authenticate, require
from ..access.deps import deployment_of
from ..core.errors import ApiError, invalid, not_found
from ..core.services import get_db, rate_limited
from . import v1 as epcis

router = APIRouter(prefix="/v1/compliance", tags=["compliance"])
REGULATORS = READ_ALL | Role.INSPECTOR
RECALLERS = Role.INSPECTOR | Role.OPERATOR  # Provenance.RECALL_ROLES
LOT = r"^[!-~]{1,20}$"


def _code_error(exc: CreditCodeError, field: str = "credit_code") -> ApiError:
    return ApiError(422, "invalid_credit_code", [{"field": field, "failed": exc.failed, "reason": exc.detail}])


@router.get("/profile", summary="The trace-record profile: JSON Schema, zh/en labels, EPCIS field of each element")
def get_profile(_: None = Depends(rate_limited)) -> dict:
    return profile.json_schema()


@router.get("/credit-codes/{code}", summary="Check a unified social credit code (GB 32100, GB 11714 inside)")
def check_credit_code(code: str, db: DbSession = Depends(get_db), _: Member = Depends(authenticate)) -> dict:
    try:
        got = parties.check_code(db, code[:40])
    except CreditCodeError as exc:
        raise _code_error(exc, "code") from None
    return {
        "code": got.code,
        "status": got.status,
        "organisation_code": got.organisation_code,
        "division": got.division,
    }


class PilotIn(BaseModel):
    code: str = Field(max_length=40)
    note: str = Field(min_length=1, max_length=300)


@router.post(
    "/pilot-codes", status_code=201, summary="Allow a pilot-region code that fails the final check (governors)"
)
def add_pilot(body: PilotIn, db: DbSession = Depends(get_db), member: Member = Depends(require(Role.GOVERNOR))) -> dict:
    try:
        row = parties.add_pilot(db, body.code, body.note, member.address)
    except CreditCodeError as exc:
        raise _code_error(exc, "code") from None
    except parties.BadParty as exc:
        raise invalid(exc.element, exc.reason) from None
    db.commit()
    return {"code": row.code, "note": row.note}


class PartyIn(BaseModel):
    urn: str = Field(max_length=300)
    credit_code: str = Field(max_length=40)
    name: str = Field(max_length=200)
    address: str = Field(max_length=300)
    contact: str = Field(max_length=100)
    member: str | None = Field(None, pattern=r"^0x[0-9a-fA-F]{40}$")


@router.put("/parties", summary="Register a trading party by the URN events name it with")
def put_party(
    body: PartyIn, request: Request, db: DbSession = Depends(get_db), member: Member = Depends(authenticate)
) -> dict:
    """A party under a GS1 company prefix governance assigned is its holder's to name (it may take
    over another's registration); any other, its first registrant's; an operator's, always."""
    operator = member.has(Role.OPERATOR)
    if body.member and body.member.lower() != member.address.lower() and not operator:
        raise ApiError(403, "not_your_party", "only the member itself or an operator may tie a party to a member")
    holder = party_prefix.prefix_holder(deployment_of(request), body.urn)
    if holder is not None and holder != member.address and not operator:
        raise ApiError(403, "not_your_party", f"the party's GS1 company prefix is assigned to {holder}")
    existing = db.get(TradingParty, body.urn)
    if existing and existing.registered_by != member.address and not operator and holder != member.address:
        raise ApiError(403, "not_your_party", "the party was registered by another member")
    try:
        row, _ = parties.register(db, body.urn, body.model_dump(), member.address)
    except CreditCodeError as exc:
        raise _code_error(exc) from None
    except parties.BadParty as exc:
        raise invalid(exc.element, exc.reason) from None
    db.commit()
    return parties.as_json(row)


@router.get("/parties", summary="A trading party by its URN")
def get_party(
    urn: str = Query(max_length=300), db: DbSession = Depends(get_db), _: Member = Depends(authenticate)
) -> dict:
    row = db.get(TradingParty, urn)
    if row is None:
        raise not_found(f"party {urn}")
    return parties.as_json(row)


_CAPTURE_ANSWERS = {200: {}, 413: {}, 422: {"description": "invalid EPCIS; (strict) an incomplete record"}}


@router.post("/capture", status_code=201, summary="Capture an EPCIS document checked against the profile",
             responses=_CAPTURE_ANSWERS)  # fmt: skip
def capture(
    request: Request,
    response: Response,
    body: dict[str, Any] = Body(description="EPCISDocument"),
    strict: bool = Query(False, description="refuse (422) a document with a missing or wrong element"),
    member: Member = Depends(require(epcis.RECORDERS)),
    db: DbSession = Depends(get_db),
) -> dict:
    events = body.get("epcisBody", {}).get("eventList") if isinstance(body.get("epcisBody"), dict) else None
    limit = request.app.state.services.settings.epcis_max_events
    if isinstance(events, list) and len(events) <= limit and all(isinstance(e, dict) for e in events):
        found = compliance_capture.problems(db, events, member.address)
        refused = [p for p in found if strict or "cycle" in p["reason"]]
        if refused:
            raise ApiError(422, "incomplete_record", refused)
    return epcis.capture(request, response, body, member, db)  # which flags each stored event


def _event(db: DbSession, member: Member, event_hash: str) -> EpcisEvent:
    row = db.scalar(select(EpcisEvent).where(EpcisEvent.hash_id == hash_id_of(event_hash.removeprefix("0x"))))
    if row is None or not (member.has(REGULATORS) or member.address in (row.recorder, row.merchant)):
        raise not_found(f"event {event_hash}")
    return row


@router.get("/events/{event_hash}", summary="An event's completeness flags (by its 64 hex digits), as written "
            "when it was captured, and its recorder's signature, verified")  # fmt: skip
def event_flags(
    event_hash: str = Path(pattern=epcis.EVENT_HASH),
    db: DbSession = Depends(get_db),
    member: Member = Depends(authenticate),
) -> dict:
    row = _event(db, member, event_hash)
    flag = db.get(EventCompleteness, row.id)
    if flag is None:
        raise not_found(f"completeness flags of event {event_hash} (not checked yet)")
    return {"hashId": row.hash_id, "profile": flag.profile, "complete": flag.complete, "required": flag.required,
            "missing": json.loads(flag.missing), "wrong": json.loads(flag.wrong),
            "checkedAt": as_utc(flag.checked_at).isoformat(), "recorder": row.recorder,
            "signature": signatures.of_events(db, [row]).get(row.id)}  # fmt: skip


class SignatureIn(BaseModel):
    signature: str = Field(max_length=200, description="EIP-191 signature (0x + 130 hex) of the signing text")


@router.put("/events/{event_hash}/signature", summary="The recorder's EIP-191 signature over the event's hash ID "
            "(the text `traceledger: I recorded the EPCIS event <hash ID>`), checked and kept")  # fmt: skip
def sign_event(
    body: SignatureIn,
    event_hash: str = Path(pattern=epcis.EVENT_HASH),
    db: DbSession = Depends(get_db),
    member: Member = Depends(authenticate),
) -> dict:
    row = _event(db, member, event_hash)
    if row.recorder != member.address:
        raise ApiError(403, "not_your_record", "only the member that recorded the event signs it")
    try:
        kept = signatures.record(db, row, body.signature)
    except signatures.BadSignature as exc:
        raise invalid("signature", str(exc).removeprefix("signature: ")) from None
    db.commit()
    return {"hashId": row.hash_id, "signer": kept.signer, "signature": kept.signature, "verified": True}


def _batch(member: Member, db: DbSession, gtin: str, lot: str) -> str:
    try:
        gtin = normalize_gtin(gtin)
    except GtinError as exc:
        raise invalid("gtin", str(exc)) from None
    owner = db.get(Product, gtin)
    if not member.has(REGULATORS) and (owner is None or owner.merchant != member.address):
        raise not_found(f"batch {gtin}/{lot}")
    return gtin


@router.get("/batches/{gtin}/{lot}/report", summary="The batch's compliance report (zh/en; JSON, HTML or PDF)",
            response_model=None)  # fmt: skip
def batch_report(
    gtin: str,
    lot: str = Path(pattern=LOT),
    lang: str = Query("zh", pattern="^(zh|en)$"),
    format: str = Query("json", pattern="^(json|html|pdf)$"),
    db: DbSession = Depends(get_db),
    member: Member = Depends(authenticate),
) -> Any:
    gtin = _batch(member, db, gtin, lot)
    got = report.build(db, gtin, lot)
    if got is None:
        raise not_found(f"records of batch {gtin}/{lot}")
    db.commit()  # the flags judged on this read
    if format == "pdf":
        return Response(report.pdf(got, lang), media_type="application/pdf")
    return HTMLResponse(report.html(got, lang)) if format == "html" else got


def _trace(db: DbSession, member: Member, gtin: str | None, lot: str | None, epc: str | None, forward: bool, depth):
    if epc:
        start = canonical(epc) or epc
        if gtin or lot:
            raise invalid("epc", "give an epc or a gtin and lot, not both")
        g, item_lot, _ = genealogy.item_parts(start)
        if not member.has(REGULATORS):
            _batch(member, db, g or "", item_lot or "")
        return genealogy.trace(db, {start}, forward, depth)
    if not gtin or not lot:
        raise invalid("gtin", "give an epc, or a gtin and a lot")
    gtin = _batch(member, db, gtin, lot)
    return genealogy.trace(db, {genealogy.class_uri(gtin, lot)}, forward, depth)


@router.get("/trace", summary="One step back/forward or the whole genealogy (GB/T 22005) from a batch or item")
def trace(
    direction: str = Query("forward", pattern="^(forward|backward)$"),
    scope: str = Query("genealogy", pattern="^(one_step|genealogy)$"),
    gtin: str | None = Query(None, max_length=14),
    lot: str | None = Query(None, pattern=LOT),
    epc: str | None = Query(None, max_length=300),
    db: DbSession = Depends(get_db),
    member: Member = Depends(authenticate),
) -> dict:
    t = _trace(db, member, gtin, lot, epc, direction == "forward", 1 if scope == "one_step" else None)
    return t.as_json() | {"scope": scope}


class RecallIn(BaseModel):
    gtin: str = Field(max_length=14)
    lot: str = Field(pattern=LOT)
    reason: str = Field(min_length=1, max_length=500)


@router.post("/recalls/draft", summary="Draft a recall from the batch's forward trace (changes nothing)")
def recall_draft(
    request: Request, body: RecallIn, db: DbSession = Depends(get_db), member: Member = Depends(authenticate)
) -> dict:
    t = _trace(db, member, body.gtin, body.lot, None, True, None)
    prov = deployment_of(request).contract("Provenance")
    known = db.scalars(select(Batch.batch_id).where(tuple_(Batch.gtin, Batch.lot).in_(sorted(t.batches))))
    recalled = {i: bool(prov.functions.batch(bytes.fromhex(i.removeprefix("0x"))).call()[3]) for i in known}
    council = deployment_of(request).contract("Governance").address
    may = deployment_of(request).contract("Membership").functions.hasAnyRole(council, int(RECALLERS)).call()
    return recall.draft(db, t, body.reason, recalled, council, bool(may))
