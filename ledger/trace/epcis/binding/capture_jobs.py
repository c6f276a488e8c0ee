"""Capture jobs of the EPCIS 2.0 REST binding (`POST /epcis/capture`).

`rollback` (the default, as in EPCIS 1.2): the document is valid and every event may be recorded
by the caller, or nothing is stored and the caller learns why at once. `proceed`: each event is
checked on its own; the valid ones the caller may record are stored (in one transaction), and
the job lists a problem for each of the others. Either way the job is finished when its 202 is
answered (`running` false), and stays readable by the member who captured."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from ledger.clock import as_utc
from ledger.store.models import EpcisCaptureJob
from ledger.trace.epcis.binding import master_data
from ledger.trace.epcis.capture import NotAuthorisedRecorder, Prepared, capture
from ledger.trace.epcis.hashid import document_digests, hash_id_of
from ledger.trace.epcis.schema import EVENT_TYPES, InvalidEpcis, check_capture, has_master_data

BEHAVIOURS = ("rollback", "proceed")


def _problem(kind: str, title: str, status: int, detail: str, pointer: str | None = None) -> dict:
    """An RFC 7807 problem; `pointer` (a JSON pointer into the document) says which event."""
    p = {"type": f"epcisException:{kind}", "title": title, "status": status, "detail": detail}
    if pointer:
        p["pointer"] = pointer
    return p


def _envelope(body: Any, xml: bool) -> dict:
    """The document a body is (a single event becomes the one event of a document); InvalidEpcis
    if it is neither, whatever its events. An XML document may hold master data alone."""
    if isinstance(body, dict) and body.get("type") in EVENT_TYPES:
        return check_capture(body, xml)[0]
    if not isinstance(body, dict) or body.get("type") not in ("EPCISDocument", "EPCISQueryDocument"):
        raise InvalidEpcis(
            [{"path": "$.type", "reason": "expected an EPCISDocument, an EPCISQueryDocument or one event"}]
        )
    events = events_of(body)
    if not isinstance(events, list) or not (events or (xml and has_master_data(body))):
        raise InvalidEpcis([{"path": "$.epcisBody.eventList", "reason": "expected a non-empty list of events"}])
    return body


def events_of(body: dict) -> Any:
    epcis_body = body.get("epcisBody")
    if not isinstance(epcis_body, dict):
        return None
    if body.get("type") == "EPCISQueryDocument":
        results = epcis_body.get("queryResults")
        rb = results.get("resultsBody") if isinstance(results, dict) else None
        return rb.get("eventList") if isinstance(rb, dict) else None
    return epcis_body.get("eventList")


def as_capture_document(body: dict) -> dict:
    """An EPCISQueryDocument's events as an EPCISDocument (capture takes both)."""
    if body.get("type") != "EPCISQueryDocument":
        return body
    doc = {k: v for k, v in body.items() if k not in ("epcisBody", "type")}
    return doc | {"type": "EPCISDocument", "epcisBody": {"eventList": events_of(body)}}


def _alone(doc: dict, event: Any) -> dict:
    keep = {k: v for k, v in doc.items() if k != "epcisBody"}
    return keep | {"epcisBody": {"eventList": [event]}}


def run(
    db: Session,
    body: Any,
    member: str,
    behaviour: str,
    may_record: Callable[[str], bool] | None,
    now: datetime,
    xml: bool = False,
    stored: Callable[[list[dict], list[str]], None] | None = None,
    vet: Callable[[list[dict]], None] | None = None,
    before: Callable[[Session, list[Prepared]], None] | None = None,
    within: Callable[[Session], None] | None = None,
) -> EpcisCaptureJob:
    """Capture `body` as one job; InvalidEpcis / NotAuthorisedRecorder only under rollback.
    `xml`: `body` was read from an XML document (`xml_binding.to_document`). `stored` is called
    with the events captured (stored now or before) and their hash IDs, once they are committed;
    `vet` with the events about to be stored, before anything is (it refuses them by raising);
    `before` and `within` as `capture`'s `before` and (in the capture's transaction) `also`."""
    doc = as_capture_document(_envelope(body, xml))
    errors: list[dict] = []
    if behaviour == "rollback":
        doc, events = check_capture(doc, xml)
    else:
        events = []
        for i, event in enumerate(events_of(doc)):
            try:
                check_capture(_alone(doc, event), xml)
                events.append(event)
            except InvalidEpcis as exc:
                where = f"$.epcisBody.eventList[{i}]"
                detail = "; ".join(f"{p['path'].replace('$.epcisBody.eventList[0]', where)}: {p['reason']}"
                                   for p in exc.problems)  # fmt: skip
                errors.append(
                    _problem("ValidationException", "Invalid event", 400, detail, f"/epcisBody/eventList/{i}")
                )
    if vet is not None and events:
        vet(events)
    found = master_data.elements(doc)
    job = EpcisCaptureJob(
        id=uuid.uuid4().hex, member=member, created_at=now, finished_at=now, behaviour=behaviour, running=False,
        success=not errors, errors="[]", events="[]",
    )  # fmt: skip

    def also(s: Session, hash_ids: list[str]) -> None:
        """The master data and the job itself, in the capture's own transaction."""
        if found:
            master_data.store(s, found, member, now)
        job.events = json.dumps(hash_ids)
        job.success, job.errors = not errors, json.dumps(errors, ensure_ascii=False)
        s.add(job)
        if within is not None and hash_ids:  # in a capture's transaction, not the job's alone
            within(s)

    while events:
        try:
            part = _alone(doc, None) | {"epcisBody": {"eventList": events}}
            result = capture(db, part, events, member, now=now, may_record=may_record, also=also, xml=xml,
                             before=before)  # fmt: skip
            if stored is not None:
                stored(result.bodies, [e["hashId"] for e in result.events])
            return job
        except NotAuthorisedRecorder as exc:
            if behaviour == "rollback":
                raise
            db.rollback()
            for _, says in exc.refused:
                errors.append(_problem("SecurityException", "Not an authorised recorder", 403, says))
            # every refused event left out at once, each event hashed once (not once per refusal)
            out = {h for h, _ in exc.refused}
            hashes = [hash_id_of(d) for d in document_digests(part, xml)]
            events = [e for e, h in zip(events, hashes, strict=True) if h not in out]
    also(db, [])  # no event left to capture: the job alone, with its errors
    db.commit()
    return job


def job_out(job: EpcisCaptureJob) -> dict:
    return {
        "captureID": job.id,
        "createdAt": _iso(job.created_at),
        "finishedAt": _iso(job.finished_at) if job.finished_at else None,
        "running": job.running,
        "success": job.success,
        "captureErrorBehaviour": job.behaviour,
        "errors": json.loads(job.errors),
        "eventIDs": json.loads(job.events),
    }


def _iso(t: datetime) -> str:
    return as_utc(t).isoformat(timespec="milliseconds").replace("+00:00", "Z")
