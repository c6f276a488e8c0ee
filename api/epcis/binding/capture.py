"""Capture in the EPCIS 2.0 REST binding: `POST /epcis/capture` (a job, 202 with its Location;
`GS1-Capture-Error-Behaviour` rollback or proceed), the member's jobs, and `POST /epcis/events`
(one event, captured at once, 201 with the event's Location). Every event stored is flagged
against the trace-record profile; `X-Ledger-Profile: strict` refuses a document with an incomplete
one, nothing stored (the binding's 400 ValidationException naming each element; api.capture_profile)."""

from __future__ import annotations

import asyncio
import json
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import JSONResponse
from sqlalchemy import select
from sqlalchemy.orm import Session as DbSession
from starlette.concurrency import run_in_threadpool

from ledger.clock import utcnow
from ledger.flows import compliance_capture
from ledger.store.models import EpcisCaptureJob, EpcisEvent
from ledger.trace import recorders
from ledger.trace.epcis import reading
from ledger.trace.epcis.binding import capture_jobs
from ledger.trace.epcis.declarations import NotTheRecorder
from ledger.trace.epcis.query import as_captured
from ledger.trace.epcis.schema import EVENT_TYPES, InvalidEpcis
from ledger.trace.epcis.xml import xml_binding

from ...access.auth import Member, require
from ...access.deps import deployment_of
from ...core.errors import ApiError, not_found
from ...core.services import get_db, services
from .. import capture_profile
from ..capture_deliveries import confirm_deliveries
from ..v1 import CAPTURING, RECORDERS
from .protocol import PREFIX, location, next_link, page_controls

router = APIRouter(prefix=PREFIX, tags=["EPCIS 2.0 REST binding"])


# --- capture ---------------------------------------------------------------------------------


@router.post("/capture", status_code=202, summary="Capture an EPCISDocument (or EPCISQueryDocument) as a job")
async def capture(request: Request, member: Member = Depends(require(RECORDERS)), db: DbSession = Depends(get_db)):
    behaviour = request.headers.get("gs1-capture-error-behaviour", "rollback")
    if behaviour not in capture_jobs.BEHAVIOURS:
        raise ApiError(400, "invalid_input", "GS1-Capture-Error-Behaviour: expected rollback or proceed")
    body, xml = await _document(request)
    svc = services(request)
    events = capture_jobs.events_of(body) if isinstance(body, dict) else None
    limit = svc.settings.epcis_max_events
    if isinstance(events, list) and len(events) > limit:
        raise ApiError(413, "capture_limit", f"{len(events)} events; at most {limit} per capture",
                       {"GS1-EPCIS-Capture-Limit": str(limit)})  # fmt: skip
    job = await _run(request, db, member, body, behaviour, xml)
    request.state.audit_detail = f"capture job {job.id}: success={job.success}"
    for d in getattr(request.state, "deliveries", ()):  # in the audit log: the job's answer is GS1's
        request.state.audit_detail += f"; order {d['order_id']} {d['status']}"
    return Response(status_code=202, headers={"Location": location(request, f"{PREFIX}/capture/{job.id}")})


async def _run(
    request: Request, db: DbSession, member: Member, body: Any, behaviour: str, xml: bool
) -> EpcisCaptureJob:
    """A capture job, run in a worker thread, one at a time per process; errors as problems. Then,
    outside the capture lock, the deliveries a carrier's events confirm (as `/v1/epcis/capture`)."""
    may_record = recorders.may_record_on_chain(deployment_of(request), member.address)
    captured: list[tuple[list[dict], list[str]]] = []
    strict = capture_profile.is_strict(request)
    flags = compliance_capture.Flags(member.address)  # read by /v1/compliance/events; in the job's commit

    def work() -> EpcisCaptureJob:
        with CAPTURING:
            return capture_jobs.run(db, body, member.address, behaviour, may_record, utcnow(), xml,
                                    stored=lambda events, ids: captured.append((events, ids)),
                                    vet=lambda events: capture_profile.refuse_incomplete(db, events, member.address,
                                                                                         strict),
                                    before=flags.before, within=flags.write)  # fmt: skip

    try:
        job = await run_in_threadpool(work)
    except InvalidEpcis as exc:
        raise ApiError(400, "invalid_epcis", exc.problems) from None
    except capture_jobs.NotAuthorisedRecorder as exc:
        raise ApiError(403, "not_authorised_recorder", str(exc)) from None
    except NotTheRecorder as exc:
        raise ApiError(403, "not_the_recorder", str(exc)) from None
    for events, ids in captured:
        if delivered := await run_in_threadpool(confirm_deliveries, request, db, member, events, ids):
            request.state.deliveries = delivered
    return job


XML_TYPES = ("application/xml", "text/xml")
#: one XML document built at a time per process: a document is ~300 bytes of Python objects an
#: element (up to xml_parser.MAX_ELEMENTS), and three at once held 7.5 GB (found from outside)
_BUILDING_XML = asyncio.Semaphore(1)


async def _document(request: Request) -> tuple[Any, bool]:
    """The body as a JSON-LD document, and whether it came as XML (EPCIS 2.0 or 1.2)."""
    kind = request.headers.get("content-type", "application/json").split(";")[0].strip().lower()
    if kind in XML_TYPES:
        try:
            body = await request.body()
            async with _BUILDING_XML:
                return await run_in_threadpool(xml_binding.to_document, body), True
        except xml_binding.InvalidXml as exc:
            raise ApiError(400, "invalid_epcis", str(exc)) from None
    if kind not in ("application/json", "application/ld+json"):
        raise ApiError(415, "unsupported_media_type", f"{kind}: send application/json, application/ld+json or "
                       "application/xml")  # fmt: skip
    try:
        return reading.parse(await request.body()), False
    except ValueError as exc:
        raise ApiError(400, "invalid_epcis", f"not JSON: {exc}") from None


@router.get("/capture", summary="The member's capture jobs, newest first")
def list_jobs(request: Request, member: Member = Depends(require(RECORDERS)), db: DbSession = Depends(get_db)):
    per_page, token = page_controls(request)
    stmt = select(EpcisCaptureJob).where(EpcisCaptureJob.member == member.address)
    if token:
        stmt = stmt.where(EpcisCaptureJob.id < token)
    jobs = list(db.scalars(stmt.order_by(EpcisCaptureJob.id.desc()).limit(per_page + 1)))
    headers = {}
    if len(jobs) > per_page:
        jobs = jobs[:per_page]
        headers["Link"] = next_link(request, str(jobs[-1].id))
    return JSONResponse([capture_jobs.job_out(j) for j in jobs], headers=headers)


@router.get("/capture/{captureID}", summary="A capture job: running, success, errors")
def get_job(captureID: str, member: Member = Depends(require(RECORDERS)), db: DbSession = Depends(get_db)):  # noqa: N803
    job = db.get(EpcisCaptureJob, captureID[:36])
    if job is None or job.member != member.address:
        raise not_found(f"capture job {captureID[:40]}")
    return JSONResponse(capture_jobs.job_out(job), headers={"GS1-Capture-Error-Behaviour": job.behaviour})


@router.post("/events", status_code=201, summary="Capture one event now (synchronous); Location names it")
async def capture_event(
    request: Request, member: Member = Depends(require(RECORDERS)), db: DbSession = Depends(get_db)
):
    body, _ = await _document(request)
    if not isinstance(body, dict) or body.get("type") not in EVENT_TYPES:
        raise ApiError(400, "invalid_epcis", f"expected one event, of type {', '.join(EVENT_TYPES)}")
    job = await _run(request, db, member, body, "rollback", False)
    hash_id = json.loads(job.events)[0]
    row = db.scalar(select(EpcisEvent).where(EpcisEvent.hash_id == hash_id))
    where = location(request, f"{PREFIX}/events/{quote(row.event_ref if row else hash_id, safe='')}")
    return JSONResponse(as_captured(row) if row else body, 201, headers={"Location": where})
