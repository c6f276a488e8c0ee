"""The EPCIS 2.0 REST binding under `/epcis/` (GS1's `REST Bindings/openapi.yaml`): capture jobs,
events by query or by ID, and the top-level resource trees (`/eventTypes`, `/epcs`, `/bizSteps`,
`/bizLocations`, `/readPoints`, `/dispositions`, each with its `/events`).

Roles and visibility are those of `/v1/epcis` (which stays, documented as our own binding):
producers, carriers, inspectors and merchants capture; members see the events they recorded and
those about their products, auditors and operators see all. Errors are RFC 7807 problems."""

from __future__ import annotations

import base64
import json
from typing import Any

from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import JSONResponse
from sqlalchemy import select
from sqlalchemy.orm import Session as DbSession

from ledger.store.models import EpcisEpc, EpcisEvent
from ledger.trace.epcis.binding import event_pages
from ledger.trace.epcis.binding import simple_query as sq
from ledger.trace.epcis.query import visible

from ...access.auth import READ_ALL, Member, require
from ...core import segments  # noqa: F401  registers the `{name:gs1}` path convertor its routes use
from ...core.errors import ApiError, not_found
from ...core.services import get_db
from ..v1 import RECORDERS
from .protocol import PREFIX, collection, media_type, next_link, page_controls, query_answer

router = APIRouter(prefix=PREFIX, tags=["EPCIS 2.0 REST binding"])
READERS = require(RECORDERS, *READ_ALL)
CONTROLS = {"perPage", "nextPageToken"}
SAME_ID_MAX = 100  # events answered for one eventID (each declared by its capturer)
TOP_LEVEL = ["events", "eventTypes", "epcs", "bizSteps", "bizLocations", "readPoints", "dispositions", "capture",
             "queries"]  # fmt: skip


def reader(member: Member) -> str | None:
    return None if member.has(READ_ALL) else member.address


def _prefixes(request: Request) -> dict[str, str]:
    """Extension prefixes the client declares: `GS1-Extensions: ex=http://ns.example.com/epcis/, ...`
    (or as a JSON object)."""
    raw = request.headers.get("gs1-extensions")
    if not raw:
        return {}
    try:
        pairs = json.loads(raw)
    except (ValueError, RecursionError):
        pairs = dict(p.strip().split("=", 1) for p in raw.split(",") if "=" in p)
    return {k.strip(): "{" + str(v).strip() + "}" for k, v in pairs.items()} if isinstance(pairs, dict) else {}


def run_query(
    request: Request, db: DbSession, member: Member, fixed: dict[str, Any], query_name: str | None = None,
    named: dict[str, Any] | None = None, ignore: set[str] = frozenset(),  # type: ignore[assignment]
) -> Response:  # fmt: skip
    """A page of events matching the URL's parameters (less `ignore`d ones), `fixed` ones (from the
    path) and a named query's."""
    per_page, token = page_controls(request)
    params: dict[str, Any] = dict(named or {})
    for k, v in request.query_params.multi_items():
        if k not in CONTROLS and k not in ignore:
            # a QueryParameterException when "two or more query parameters have the same parameter name"
            # (EPCIS 2.0, QueryParameterException), not the last one silently taken: several values are written a|b
            if len(request.query_params.getlist(k)) > 1:
                raise sq.QueryParameterError(k, "given more than once (several values are written a|b)")
            params[k] = v
    for k, v in fixed.items():
        if k in params and sq.values_of({k: params[k]}) != sq.values_of({k: v}):
            raise ApiError(400, "query_parameter", f"{k} in the query contradicts the path")
        params[k] = v
    q = sq.parse(params, db, _prefixes(request), reader(member))
    page = event_pages.page(db, q, per_page, reader(member), token)
    return query_answer(request, page.rows, page.next_token, query_name)


# --- events ----------------------------------------------------------------------------------


@router.get("/", summary="The top-level resources of this repository")
def top_level(member: Member = Depends(READERS)) -> dict:
    return collection(TOP_LEVEL)


@router.get("/events", summary="Events matching a SimpleEventQuery (every standard parameter), paged")
def events(request: Request, member: Member = Depends(READERS), db: DbSession = Depends(get_db)) -> Response:
    return run_query(request, db, member, {})


@router.get("/events/{eventID:gs1}", summary="One event by its eventID (declared, or its hash ID)")
def event_by_id(
    eventID: str,
    request: Request,
    member: Member = Depends(READERS),
    db: DbSession = Depends(get_db),  # noqa: N803
) -> Response:
    # "events with the requested eventID" (GS1's OpenAPI): a declared eventID is the capturer's word and
    # another member may have declared the same one, so every visible event naming it, oldest first (the
    # first capture before a later one; it was whichever row the database met first)
    stmt = select(EpcisEvent).where((EpcisEvent.event_ref == eventID) | (EpcisEvent.hash_id == eventID))
    rows = list(db.scalars(stmt.where(visible(reader(member))).order_by(EpcisEvent.id).limit(SAME_ID_MAX)))
    if not rows:
        raise not_found(f"event {eventID[:120]}")
    return query_answer(request, rows, None)


@router.get("/eventTypes", summary="The event types of EPCIS 2.0")
def event_types(member: Member = Depends(READERS)) -> JSONResponse:
    return JSONResponse(collection(list(sq.EVENT_TYPES)))


# each tree: (path, its field, the column listed, the parameter its /events fixes)
_TREES = {
    "epcs": ("epc", None, "MATCH_anyEPC"),
    "bizSteps": ("bizStep", EpcisEvent.biz_step, "EQ_bizStep"),
    "bizLocations": ("bizLocation", EpcisEvent.biz_location, "EQ_bizLocation"),
    "readPoints": ("readPoint", EpcisEvent.read_point, "EQ_readPoint"),
    "dispositions": ("disposition", EpcisEvent.disposition, "EQ_disposition"),
}


def _listing(tree: str):
    _, column, _ = _TREES[tree]

    def listing(request: Request, member: Member = Depends(READERS), db: DbSession = Depends(get_db)) -> JSONResponse:
        per_page, token = page_controls(request)
        col = EpcisEpc.uri if column is None else column
        stmt = select(col).distinct().where(col.is_not(None), visible(reader(member)))
        if column is None:
            stmt = stmt.join(EpcisEvent, EpcisEvent.id == EpcisEpc.event_id)
        if token:
            stmt = stmt.where(col > _untoken(token))
        values = list(db.scalars(stmt.order_by(col).limit(per_page + 1)))
        headers = {}
        if len(values) > per_page:
            values = values[:per_page]
            headers["Link"] = next_link(request, _tokenise(values[-1]))
        return JSONResponse(collection(values), headers=headers)

    return listing


def _tokenise(value: str) -> str:
    return base64.urlsafe_b64encode(value.encode()).decode().rstrip("=")


def _untoken(token: str) -> str:
    try:
        value = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode()
        if "\x00" in value:  # no value we list holds one, and PostgreSQL refuses it in a query
            raise ValueError(value)
        return value
    except ValueError:
        raise sq.QueryParameterError("nextPageToken", "not a token this repository gave out") from None


def _sub_resources(value: str, member: Member = Depends(READERS)) -> dict:
    return collection(["events"])


def _tree_events(fixed_param: str):
    def tree_events(
        value: str, request: Request, member: Member = Depends(READERS), db: DbSession = Depends(get_db)
    ) -> Response:
        return run_query(request, db, member, {fixed_param: value})

    return tree_events


for _tree, (_field, *_rest, _param) in _TREES.items():
    router.add_api_route(f"/{_tree}", _listing(_tree), methods=["GET"], summary=f"Known {_tree}, paged")
    router.add_api_route(f"/{_tree}/{{value:gs1}}", _sub_resources, methods=["GET"], summary="Sub-resources: events")
    router.add_api_route(
        f"/{_tree}/{{value:gs1}}/events", _tree_events(_param), methods=["GET"], summary=f"Events by {_field}"
    )


@router.get("/eventTypes/{eventType}", summary="Sub-resources of an event type: events")
def event_type(eventType: str, member: Member = Depends(READERS)) -> dict:  # noqa: N803
    if eventType not in sq.EVENT_TYPES:
        raise not_found(f"event type {eventType[:40]}")
    return collection(["events"])


@router.get("/eventTypes/{eventType}/events", summary="Events of one type")
def events_of_type(
    eventType: str,
    request: Request,
    member: Member = Depends(READERS),
    db: DbSession = Depends(get_db),  # noqa: N803
) -> Response:
    if eventType not in sq.EVENT_TYPES:
        raise not_found(f"event type {eventType[:40]}")
    return run_query(request, db, member, {"eventType": eventType})


@router.delete("/nextPageToken/{token}", status_code=204, summary="Release a page token (they hold nothing here)")
def release_token(token: str, member: Member = Depends(READERS)) -> Response:
    return Response(status_code=204)


__all__ = ["router", "run_query", "reader", "media_type"]
