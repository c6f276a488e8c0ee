"""`POST /pact/3/events` (Action Events): CloudEvents 1.0 in structured mode
(`application/cloudevents+json`), the four PACT 3.0 types: RequestCreatedEvent,
RequestFulfilledEvent, RequestRejectedEvent, PublishedEvent (suffix `.3`). An event is checked and
kept (once per source and id); 200 with an empty body when accepted, PACT's 400 when not.

A RequestCreatedEvent whose `source` is a partner the client's member registered
(`/v1/carbon/partners`) is kept as a pending request, which the worker answers at the partner's
`/3/events` (`ledger.carbon.pact_replies`); from any other source it is accepted and kept, never
answered (PACT 3.0: "the host system MUST validate the value of source before sending the
response": we call no URL a client names, only partners' with their credentials)."""

from __future__ import annotations

import json
import re
import uuid
from datetime import datetime

from fastapi import APIRouter, Depends, Request, Response
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session as DbSession

from ledger.clock import utcnow
from ledger.store.carbon_tables import CarbonClient, CarbonEvent, CarbonPartner, CarbonRequest

from ..core.services import get_db
from .pact_auth import pact_client
from .pact_errors import PactError
from .partners import base_of

router = APIRouter(prefix="/pact/3", tags=["carbon (PACT v3)"])
PREFIX = "org.wbcsd.pact.ProductFootprint."
TYPES = ("RequestCreatedEvent", "RequestFulfilledEvent", "RequestRejectedEvent", "PublishedEvent")
LISTS = ("productId", "companyId", "geography", "classification")
DATES = ("validOn", "validAfter", "validBefore")
FILTERS = (*LISTS, *DATES, "status")
MAX_PENDING = 100  # requests of one partner waiting for their answer; more are refused until some are sent
MAX_VALUES, MAX_VALUE_CHARS = 100, 1000  # a criterion's values, as ListFootprints takes them; each value's length
# RFC 3339 date-time (CloudEvents `time`; PACT's `format: date-time`): a full date, a time and an offset
RFC3339 = re.compile(r"\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d{1,9})?([Zz]|[+-]\d{2}:\d{2})")


def _date_time(name: str, value: object) -> None:
    if isinstance(value, str) and RFC3339.fullmatch(value):
        try:  # the shape is right; the date must exist too (no 2023-02-30, no 25:00)
            datetime.fromisoformat(value.upper().replace("Z", "+00:00"))
            return
        except ValueError:
            pass
    raise PactError(400, f"{name} must be an RFC 3339 date-time")


def _criteria(data: dict) -> None:
    """A request's criteria have ListFootprints' types: lists of strings, date-times, a status."""
    for name in LISTS:
        value = data.get(name)
        if name in data and not (
            isinstance(value, list) and value and all(isinstance(v, str) and v.strip() for v in value)
        ):
            raise PactError(400, f"{name} is a non-empty list of strings")
        if name in data and (len(value) > MAX_VALUES or any(len(v) > MAX_VALUE_CHARS for v in value)):
            raise PactError(400, f"{name}: at most {MAX_VALUES} values of at most {MAX_VALUE_CHARS} characters each")
    for name in DATES:
        if name in data:
            _date_time(name, data[name])
    if "status" in data and not isinstance(data["status"], str):
        raise PactError(400, 'status is "Active" or "Deprecated"')
    if "comment" in data and not isinstance(data["comment"], str):
        raise PactError(400, "comment is a string")


def _text(ev: dict, name: str, limit: int) -> str:
    value = ev.get(name)
    if not isinstance(value, str) or not value.strip() or len(value) > limit:
        raise PactError(400, f"CloudEvent attribute {name!r} must be a non-empty string of at most {limit} characters")
    return value


def _data(kind: str, data: object) -> None:
    if not isinstance(data, dict):
        raise PactError(400, "CloudEvent data must be an object")
    if kind == "RequestCreatedEvent":
        unknown = [k for k in data if k not in FILTERS and k != "comment" and not k.startswith("x-")]
        if unknown or not any(k in data for k in FILTERS):
            raise PactError(
                400,
                f"a request names criteria among {', '.join(FILTERS)}" + (f"; unknown: {unknown}" if unknown else ""),
            )
        _criteria(data)
    elif kind == "RequestFulfilledEvent":
        pfs = data.get("pfs")
        if not isinstance(data.get("requestEventId"), str) or not isinstance(pfs, list) or not pfs:
            raise PactError(400, "a fulfilled request names requestEventId and a non-empty list pfs")
        if not all(isinstance(pf, dict) and isinstance(pf.get("id"), str) for pf in pfs):
            raise PactError(400, "each of pfs is a ProductFootprint with its id")
    elif kind == "RequestRejectedEvent":
        error = data.get("error")
        if not isinstance(data.get("requestEventId"), str) or not isinstance(error, dict) or "code" not in error:
            raise PactError(400, "a rejected request names requestEventId and an error {code, message}")
    elif kind == "PublishedEvent":
        ids = data.get("pfIds")
        if not isinstance(ids, list) or not ids or not all(isinstance(i, str) for i in ids):
            raise PactError(400, "a published event names a non-empty list pfIds")


@router.post(
    "/events", summary="PACT Action Events: receive a CloudEvent (requests, fulfilments, rejections, publications)"
)
async def receive(request: Request, client: str = Depends(pact_client), db: DbSession = Depends(get_db)) -> Response:
    if request.headers.get("content-type", "").split(";")[0].strip().lower() != "application/cloudevents+json":
        raise PactError(400, "send the event as application/cloudevents+json (structured content mode)")
    try:
        ev = json.loads(await request.body())
    except (ValueError, UnicodeDecodeError, RecursionError):  # RecursionError: nested thousands deep
        raise PactError(400, "the body is not JSON") from None
    if not isinstance(ev, dict):
        raise PactError(400, "a CloudEvent is a JSON object")
    if ev.get("specversion") != "1.0":
        raise PactError(400, 'specversion must be "1.0"')
    kind = _text(ev, "type", 100)
    if not kind.startswith(PREFIX) or kind[len(PREFIX) :] not in {f"{t}.3" for t in TYPES}:
        raise PactError(
            400, f"unknown event type {kind!r}; PACT 3 defines {', '.join(PREFIX + t + '.3' for t in TYPES)}"
        )
    event_id, source = _text(ev, "id", 200), _text(ev, "source", 300)
    _date_time("time", _text(ev, "time", 40))
    _data(kind[len(PREFIX) : -2], ev.get("data"))
    partner = None
    if kind == PREFIX + "RequestCreatedEvent.3":  # answered at the source: a partner of the client's member only
        member = db.scalar(select(CarbonClient.member).where(CarbonClient.client_id == client))
        partner = db.scalar(select(CarbonPartner).where(CarbonPartner.member == member,
                                                        CarbonPartner.base_url == base_of(source)))  # fmt: skip
        # a source none of the member's partners has is accepted and kept, but never called: we hold no
        # credentials for it, and answering any URL a client names would let it make us call anywhere
        # (PACT 3.0: "validate the value of source before sending the response"); registering it as a
        # partner (`/v1/carbon/partners`) answers its next request
        if partner is not None:
            source = partner.base_url  # one request, however its source is written ("https://p", "https://p/")
    known = db.scalar(select(CarbonEvent.id).where(CarbonEvent.source == source, CarbonEvent.event_id == event_id))
    if known is None:
        if partner is not None:
            mine = CarbonRequest.partner_id == partner.id
            waiting = select(func.count()).where(mine, CarbonRequest.status == "pending")
            if db.scalar(waiting) >= MAX_PENDING:
                raise PactError(429, f"{MAX_PENDING} requests of this source wait for their answers already; send this "
                                "one again later", code="TooManyRequests", headers={"Retry-After": "60"})  # fmt: skip
            db.add(
                CarbonRequest(
                    member=partner.member,
                    partner_id=partner.id,
                    event_id=event_id,
                    source=source,
                    criteria=json.dumps(ev["data"], ensure_ascii=False),
                    status="pending",
                    reply_id=str(uuid.uuid4()),
                    footprints=0,
                    attempts=0,
                    received_at=utcnow(),
                )
            )
        db.add(
            CarbonEvent(
                event_id=event_id,
                source=source,
                type=kind,
                client_id=client,
                body=json.dumps(ev, ensure_ascii=False),
                received_at=utcnow(),
            )
        )
        try:
            db.commit()
        except IntegrityError:  # the same event, sent twice at once, kept by the other: accepted once
            db.rollback()
    return Response(status_code=200)
