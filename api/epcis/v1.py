"""EPCIS 2.0: capture documents other systems write, query events back as EPCIS query documents,
and prove any stored event against the root anchored on chain.

Producers, logistics providers, inspectors and merchants capture; a document that is not valid
EPCIS 2.0 is refused whole (422, each problem with its JSON path) and nothing of it is stored.
Members see the events they recorded and the events about their products; auditors and
operators see all. Proofs are public: they reveal hashes only.
"""

from __future__ import annotations

import math
import re
import threading
from datetime import datetime
from typing import Any

from fastapi import APIRouter, Body, Depends, Query, Request, Response
from fastapi.responses import JSONResponse
from sqlalchemy import func, select
from sqlalchemy.orm import Session as DbSession

from ledger.access.roles import Role
from ledger.clock import as_utc, utcnow
from ledger.flows import compliance_capture
from ledger.store.models import EpcisAnchor, EpcisEvent
from ledger.trace import recorders
from ledger.trace.epcis import capture as captures
from ledger.trace.epcis import proofs
from ledger.trace.epcis import query as queries
from ledger.trace.epcis.binding import master_data
from ledger.trace.epcis.declarations import NotTheRecorder
from ledger.trace.epcis.hashid import hash_id_of
from ledger.trace.epcis.schema import InvalidEpcis, check_capture
from ledger.trace.gs1 import GtinError, normalize_gtin

from ..access.auth import READ_ALL, Member, require, visible
from ..access.deps import deployment_of
from ..core.errors import ApiError, invalid, not_found
from ..core.self_signing import MODE
from ..core.services import get_db, rate_limited, services
from . import capture_profile
from .capture_deliveries import confirm_deliveries
from .document_route import DocumentRoute

router = APIRouter(prefix="/v1/epcis", tags=["EPCIS events"], route_class=DocumentRoute)
RECORDERS = Role.PRODUCER | Role.LOGISTICS | Role.INSPECTOR | Role.MERCHANT
EVENT_HASH = r"^(0x)?[0-9a-f]{64}$"
EPCIS_JSON = "application/ld+json"
# Capturing is CPU-bound Python: threads of one worker interleaving on the GIL finish later, all
# of them, than one after another (measured: 4 at once gave 2/3 of the throughput). Scale with
# workers (processes) instead.
CAPTURING = threading.Lock()

_CAPTURE_EXAMPLE = {
    "@context": ["https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld"],
    "type": "EPCISDocument",
    "schemaVersion": "2.0",
    "creationDate": "2026-11-24T08:00:00.000Z",
    "epcisBody": {
        "eventList": [
            {
                "type": "ObjectEvent",
                "eventTime": "2026-11-24T08:00:00.000+08:00",
                "eventTimeZoneOffset": "+08:00",
                "epcList": ["https://id.gs1.org/01/06901234567892/21/A1"],
                "action": "OBSERVE",
                "bizStep": "shipping",
                "disposition": "in_transit",
            }
        ]
    },
}


@router.post(
    "/capture",
    status_code=201,
    summary="Capture an EPCIS 2.0 document (or one event); all or nothing; each event flagged against the "
    "trace-record profile (X-Ledger-Profile: strict refuses an incomplete one)",
    responses={200: {"description": "every event was already stored"}, 413: {}, 422: {}},
)
def capture(
    request: Request,
    response: Response,
    body: dict[str, Any] = Body(description="EPCISDocument or a single EPCIS event", examples=[_CAPTURE_EXAMPLE]),
    member: Member = Depends(require(RECORDERS)),
    db: DbSession = Depends(get_db),
) -> dict:
    limit = services(request).settings.epcis_max_events
    events = body.get("epcisBody", {}).get("eventList") if isinstance(body.get("epcisBody"), dict) else None
    if isinstance(events, list) and len(events) > limit:
        raise ApiError(413, "too_many_events", f"{len(events)} events in one document; at most {limit} per capture")
    strict = capture_profile.is_strict(request)
    flags = compliance_capture.Flags(member.address)

    def also(s: DbSession, hash_ids: list[str]) -> None:
        """In the capture's own transaction (one commit): the header's master data (a read point's
        name, ...), the capturer's own, as the binding keeps it, and each event's completeness flags."""
        if found := master_data.elements(doc):
            master_data.store(s, found, member.address, utcnow())
        flags.write(s)

    with CAPTURING:
        try:
            doc, events = check_capture(body)
            capture_profile.refuse_incomplete(db, events, member.address, strict)
            may_record = recorders.may_record_on_chain(deployment_of(request), member.address)
            result = captures.capture(
                db, doc, events, member.address, may_record=may_record, also=also, before=flags.before
            )
        except InvalidEpcis as exc:
            raise ApiError(422, "invalid_epcis", exc.problems) from None
        except (captures.NotAuthorisedRecorder, NotTheRecorder) as exc:  # another's product; another's event
            code = "not_the_recorder" if isinstance(exc, NotTheRecorder) else "not_authorised_recorder"
            raise ApiError(403, code, str(exc)) from None
    stored, declared = result.stored, result.declared
    duplicates = len(result.events) - stored - declared
    counts = f"{stored} stored, {declared} declared, {duplicates} duplicate"
    request.state.audit_detail = f"capture {result.capture_id}: {counts}"
    if stored == declared == 0:
        response.status_code = 200
    answer = {
        "captureID": result.capture_id,
        "eventCount": len(result.events),
        "stored": stored,
        "declared": declared,  # error declarations of events stored before (ledger.trace.epcis.declarations)
        "duplicates": duplicates,
        "events": result.events,
        "completeness": flags.written,
    }
    delivered = confirm_deliveries(request, db, member, result.bodies, [e["hashId"] for e in result.events])
    if delivered:
        answer["deliveries"] = delivered
    return answer


def _time(name: str, value: str | None) -> datetime | None:
    if value is None:
        return None
    try:
        t = datetime.fromisoformat(value)
    except ValueError:
        raise invalid(name, "expected an ISO 8601 date-time with time zone, e.g. 2026-11-24T08:00:00Z") from None
    if t.tzinfo is None:
        raise invalid(name, "the date-time needs a time zone (Z or +hh:mm)")
    return t


@router.get(
    "/events",
    summary="Query events (EPCIS 2.0 SimpleEventQuery subset); answers an EPCISQueryDocument",
    response_class=JSONResponse,
)
def query_events(
    request: Request,
    epc: str | None = Query(None, description="an EPC URN or GS1 Digital Link URI, any form"),
    gtin: str | None = Query(None, description="GTIN-8/12/13/14 (check digit verified)"),
    lot: str | None = Query(None, max_length=20, description="with gtin: one batch"),
    bizStep: str | None = Query(None, description="CBV short name or URI, e.g. shipping"),  # noqa: N803
    eventType: str | None = Query(None, pattern=r"^[A-Za-z]{1,24}$"),  # noqa: N803
    GE_eventTime: str | None = Query(None, description="events at or after this time"),  # noqa: N803
    LT_eventTime: str | None = Query(None, description="events before this time"),  # noqa: N803
    merchant: str | None = Query(None, pattern=r"^0x[0-9a-fA-F]{40}$"),
    perPage: int = Query(100, ge=1, le=1000),  # noqa: N803
    nextPageToken: str | None = Query(None, pattern=r"^\d{1,18}$"),  # noqa: N803
    member: Member = Depends(require(RECORDERS, *READ_ALL)),
    db: DbSession = Depends(get_db),
) -> JSONResponse:
    if lot and not gtin:
        raise invalid("lot", "a lot is only meaningful with its gtin")
    if gtin:
        try:
            gtin = normalize_gtin(gtin)
        except GtinError as exc:
            raise invalid("gtin", str(exc)) from None
    q = queries.EventQuery(
        epc=epc,
        gtin=gtin,
        lot=lot,
        biz_step=bizStep,
        event_type=eventType,
        ge_time=_time("GE_eventTime", GE_eventTime),
        lt_time=_time("LT_eventTime", LT_eventTime),
        merchant=merchant,
        visible_to=None if member.has(READ_ALL) else member.address,
        after_id=int(nextPageToken or 0),
        limit=perPage + 1,
    )
    rows = queries.find_events(db, q)
    headers = {}
    if len(rows) > perPage:
        rows = rows[:perPage]
        token = str(rows[-1].id)
        url = request.url.include_query_params(nextPageToken=token)
        headers["Link"] = f'<{url}>; rel="next"'
        headers["GS1-Next-Page-Token"] = token
    doc = queries.query_document(rows, utcnow())
    return JSONResponse(doc, headers=headers, media_type=EPCIS_JSON)


def _event(db: DbSession, event_hash: str) -> EpcisEvent:
    digest = "0x" + event_hash.removeprefix("0x")
    row = db.scalar(select(EpcisEvent).where(EpcisEvent.hash_id == hash_id_of(digest[2:])))
    if row is None:
        raise not_found(f"event {digest}")
    return row


@router.get("/events/{event_hash}", summary="One event as captured, with its anchoring proof")
def get_event(
    event_hash: str,
    member: Member = Depends(require(RECORDERS, *READ_ALL)),
    db: DbSession = Depends(get_db),
) -> dict:
    if not re.match(EVENT_HASH, event_hash):
        raise invalid("event_hash", "expected the 64 hex digits of the event hash ID")
    row = visible(member, _event(db, event_hash), f"event {event_hash}", owners=("recorder", "merchant"))
    return {"event": queries.as_captured(row), "recorder": row.recorder, "proof": proofs.proof_of(db, row)}


@router.get(
    "/proofs/{event_hash}",
    summary="Public: where an event hash is on chain (Merkle path to an anchored root, or its batch chain entry)",
    dependencies=[Depends(rate_limited)],
)
def get_proof(event_hash: str, db: DbSession = Depends(get_db)) -> dict:
    if not re.match(EVENT_HASH, event_hash):
        raise invalid("event_hash", "expected the 64 hex digits of the event hash ID")
    return proofs.proof_of(db, _event(db, event_hash))


@router.get(
    "/status",
    summary="Events stored, pending anchoring, and roots anchored: the caller's own (recorded, or of its "
    "products), or all for auditors and operators",
)
def status(member: Member = Depends(require(RECORDERS, *READ_ALL)), db: DbSession = Depends(get_db)) -> dict:
    pending = func.count().filter(EpcisEvent.anchor_id.is_(None))
    q = select(func.count(), pending, func.count(func.distinct(EpcisEvent.anchor_id))).select_from(EpcisEvent)
    if not member.has(READ_ALL):
        q = q.where((EpcisEvent.recorder == member.address) | (EpcisEvent.merchant == member.address))
    events, pending, roots = db.execute(q).one()
    return {"events": events, "pending": pending, "anchors": roots}


@router.post(
    "/anchor",
    summary="Anchor every pending event now (instead of waiting for count or age): in Merkle roots, or one by one "
    "into their batches' hash chains when few are pending",
)
def anchor_now(
    request: Request,
    member: Member = Depends(require(RECORDERS | Role.OPERATOR)),
    db: DbSession = Depends(get_db),
) -> dict:
    if MODE.get() is not None:  # roots are the anchoring key's, entries their recorders': nothing of the caller's
        raise ApiError(
            409,
            "not_self_signed",
            "anchoring is signed by the platform's anchoring key (batches' hash-chain entries by their recorders' "
            "keys held here): nothing to sign; send it without X-Ledger-Sign: self",
        )
    if not member.has(Role.OPERATOR):
        _no_sooner_than_batching(db, services(request).settings.anchor_manual_every_s)
    anchors = services(request).anchorer.drain()
    request.state.audit_detail = f"{len(anchors)} roots anchored"
    return {"anchors": [_anchor_out(a) for a in anchors]}


def _no_sooner_than_batching(db: DbSession, every_s: float) -> None:
    """A recorder's call makes no more roots than batching would: with events pending, at most one
    anchoring per `every_s` (LEDGER_ANCHOR_MANUAL_EVERY), counted from the last one, else 429."""
    if db.scalar(select(EpcisEvent.id).where(EpcisEvent.anchor_id.is_(None)).limit(1)) is None:
        return  # nothing pending: nothing will be sent
    last = db.scalar(select(func.max(EpcisAnchor.anchored_at)))
    wait = every_s - (utcnow() - as_utc(last)).total_seconds() if last is not None else 0
    if wait > 0:
        raise ApiError(
            429,
            "rate_limited",
            f"events were anchored {every_s - wait:.0f} s ago; anchoring on demand at most every {every_s:g} s "
            "(pending events are anchored by then anyway)",
            {"Retry-After": str(math.ceil(wait))},
        )


def _anchor_out(a: EpcisAnchor) -> dict:
    where = {"tx": a.tx_hash, "block": a.block_number, "leafCount": a.leaf_count}
    if a.kind == "chain":
        return {"method": "batchChain", "batchId": a.batch_id, "index": a.chain_index, "head": a.root} | where
    return {"method": "merkle", "root": a.root} | where
