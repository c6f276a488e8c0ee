"""Named queries and subscriptions of the EPCIS 2.0 REST binding (`/epcis/queries`).

Webhook subscriptions are delivered by `ledger.trace.epcis.webhooks` (signed, retried with
backoff, paused after repeated failures; `POST .../{subscriptionID}/resume` starts a paused one
again, our extension). A WebSocket on `/epcis/queries/{name}/events` (`?stream=true` or schedule
parameters; the bearer token in `Authorization` or `?access_token=`) sends each new matching
event's query document as it is captured, or at the scheduled times."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from fastapi import APIRouter, Depends, Request, Response, WebSocket, WebSocketDisconnect
from fastapi.responses import JSONResponse
from sqlalchemy import func, select
from sqlalchemy.orm import Session as DbSession
from starlette.concurrency import run_in_threadpool

from ledger.access.roles import Role
from ledger.clock import utcnow
from ledger.errors import InvalidInput, LedgerError
from ledger.store.models import EpcisEvent, EpcisNamedQuery, EpcisSubscription
from ledger.trace.epcis import named_queries as nq
from ledger.trace.epcis import schedules, webhooks
from ledger.trace.epcis.query import query_document

from ..auth import READ_ALL, Member, token_holder
from ..epcis_binding import PREFIX, location, next_link, page_controls
from ..errors import ApiError
from ..services import Services, get_db, services
from .epcis_rest import READERS, reader, run_query

router = APIRouter(prefix=f"{PREFIX}/queries", tags=["EPCIS 2.0 REST binding"])
SUBSCRIPTION_PARAMS = {"stream", "second", "minute", "hour", "dayOfMonth", "month", "dayOfWeek", "reportIfEmpty",
                       "initialRecordTime", "access_token"}  # fmt: skip


def _owner(member: Member) -> str | None:
    return None if member.has(READ_ALL) else member.address


async def _json(request: Request) -> Any:
    kind = request.headers.get("content-type", "application/json").split(";")[0].strip().lower()
    if kind not in ("application/json", "application/ld+json"):
        raise ApiError(415, "unsupported_media_type", f"{kind}: send application/json")
    try:
        return json.loads(await request.body())
    except ValueError as exc:
        raise ApiError(400, "invalid_input", f"not JSON: {exc}") from None


@router.get("", summary="Named queries the member owns (all, for auditors and operators)")
def list_queries(request: Request, member: Member = Depends(READERS), db: DbSession = Depends(get_db)):
    per_page, token = page_controls(request)
    stmt = select(EpcisNamedQuery)
    if _owner(member):
        stmt = stmt.where(EpcisNamedQuery.owner == member.address)
    if token:
        stmt = stmt.where(EpcisNamedQuery.name > token)
    rows = list(db.scalars(stmt.order_by(EpcisNamedQuery.name).limit(per_page + 1)))
    headers = {}
    if len(rows) > per_page:
        rows = rows[:per_page]
        headers["Link"] = next_link(request, rows[-1].name)
    return JSONResponse([nq.out(r) for r in rows], headers=headers)


@router.post("", status_code=201, summary="Create a named query (a SimpleEventQuery kept under a name)")
async def create_query(request: Request, member: Member = Depends(READERS), db: DbSession = Depends(get_db)):
    body = await _json(request)
    row = await run_in_threadpool(nq.create, db, member.address, body, utcnow())
    request.state.audit_detail = f"query {row.name}"
    return JSONResponse(nq.out(row), 201, headers={"Location": location(request, f"{PREFIX}/queries/{row.name}")})


@router.get("/{queryName}", summary="A named query's definition")
def get_query(queryName: str, member: Member = Depends(READERS), db: DbSession = Depends(get_db)):  # noqa: N803
    return nq.out(nq.get(db, queryName, _owner(member)))


@router.delete("/{queryName}", status_code=204, summary="Delete a named query and end its subscriptions")
def delete_query(queryName: str, member: Member = Depends(READERS), db: DbSession = Depends(get_db)):  # noqa: N803
    nq.remove(db, nq.get(db, queryName, _owner(member)))
    return Response(status_code=204)


@router.get("/{queryName}/events", summary="The named query's events, paged (WebSocket here: a subscription)")
def query_events(
    queryName: str,
    request: Request,
    member: Member = Depends(READERS),
    db: DbSession = Depends(get_db),  # noqa: N803
) -> Response:
    row = nq.get(db, queryName, _owner(member))
    return run_query(request, db, member, {}, row.name, json.loads(row.query), ignore=SUBSCRIPTION_PARAMS)


@router.get("/{queryName}/subscriptions", summary="The named query's subscriptions")
def list_subscriptions(queryName: str, member: Member = Depends(READERS), db: DbSession = Depends(get_db)):  # noqa: N803
    query = nq.get(db, queryName, _owner(member))
    rows = db.scalars(select(EpcisSubscription).where(EpcisSubscription.query_name == query.name))
    return [nq.subscription_out(r) for r in rows]


@router.post("/{queryName}/subscriptions", status_code=201, summary="Subscribe a webhook (stream or schedule)")
async def subscribe(
    queryName: str,
    request: Request,
    member: Member = Depends(READERS),
    db: DbSession = Depends(get_db),  # noqa: N803
):
    body = await _json(request)
    query = nq.get(db, queryName, _owner(member))
    allow = services(request).settings.webhook_allow_private
    row = await run_in_threadpool(nq.subscribe, db, query, member.address, body, utcnow(), allow)
    request.state.audit_detail = f"subscription {row.id} to {query.name} -> {row.dest}"
    where = location(request, f"{PREFIX}/queries/{query.name}/subscriptions/{row.id}")
    return JSONResponse(nq.subscription_out(row), 201, headers={"Location": where})


@router.get("/{queryName}/subscriptions/{subscriptionID}", summary="One subscription: active, paused, delivered")
def get_subscription(
    queryName: str,
    subscriptionID: str,
    member: Member = Depends(READERS),
    db: DbSession = Depends(get_db),  # noqa: N803
):
    return nq.subscription_out(nq.subscription(db, nq.get(db, queryName, _owner(member)), subscriptionID))


@router.delete("/{queryName}/subscriptions/{subscriptionID}", status_code=204, summary="Unsubscribe")
def unsubscribe(
    queryName: str,
    subscriptionID: str,
    member: Member = Depends(READERS),
    db: DbSession = Depends(get_db),  # noqa: N803
):
    db.delete(nq.subscription(db, nq.get(db, queryName, _owner(member)), subscriptionID))
    db.commit()
    return Response(status_code=204)


@router.post("/{queryName}/subscriptions/{subscriptionID}/resume", summary="Resume a paused subscription")
def resume(
    queryName: str,
    subscriptionID: str,
    member: Member = Depends(READERS),
    db: DbSession = Depends(get_db),  # noqa: N803
):
    sub = nq.subscription(db, nq.get(db, queryName, _owner(member)), subscriptionID)
    webhooks.resume(db, sub)
    return nq.subscription_out(sub)


# --- WebSocket subscriptions -------------------------------------------------------------------


def _ws_member(svc: Services, ws: WebSocket) -> Member:
    auth = ws.headers.get("authorization", "")
    token = auth[7:].strip() if auth.lower().startswith("bearer ") else ws.query_params.get("access_token", "")
    if not token:
        raise ApiError(401, "unauthorized", "send Authorization: Bearer <token> or ?access_token=")
    with svc.sessions() as db:
        address, kind = token_holder(db, token)
    roles = Role(svc.chain.roles_of(address))
    return Member(address, roles, kind)


def _ws_plan(ws: WebSocket) -> tuple[dict | None, bool]:
    """The schedule (None: stream) and reportIfEmpty a WebSocket subscription asked for."""
    p = ws.query_params
    schedule = {k: p[k] for k in schedules.FIELDS if k in p}
    stream = p.get("stream") == "true"
    if stream == bool(schedule):
        raise InvalidInput("either stream=true or schedule parameters (second, minute, hour, ...), not both")
    if schedule:
        schedules.check(schedule)
    return schedule or None, p.get("reportIfEmpty") == "true"


@router.websocket("/{queryName}/events")
async def query_socket(ws: WebSocket, queryName: str) -> None:  # noqa: N803
    svc: Services = ws.app.state.services
    try:
        member = await run_in_threadpool(_ws_member, svc, ws)
        schedule, report_if_empty = _ws_plan(ws)
        with svc.sessions() as db:
            query = nq.get(db, queryName, _owner(member))
            cursor = db.scalar(select(func.max(EpcisEvent.id))) or 0
    except (ApiError, LedgerError, ValueError) as exc:
        await ws.close(code=1008, reason=str(getattr(exc, "detail", exc))[:120])
        return
    await ws.accept()
    name, visible_to = query.name, reader(member)
    next_run = schedules.next_after(schedule, utcnow()) if schedule else None
    incoming = asyncio.ensure_future(ws.receive())  # the client's close (or the server's shutdown)
    try:
        while True:
            done, _ = await asyncio.wait({incoming}, timeout=0.1)
            if done:
                if incoming.result()["type"] == "websocket.disconnect":
                    return
                incoming = asyncio.ensure_future(ws.receive())  # anything else the client says is ignored
            if next_run is not None and utcnow() < next_run:
                continue
            sent, cursor = await run_in_threadpool(_ws_batch, svc, name, visible_to, cursor)
            if sent is None:  # the query was deleted: the subscription ends
                await ws.close(code=1000, reason="query deleted")
                return
            if sent or (next_run is not None and report_if_empty):
                doc = query_document(sent, utcnow(), name)
                await ws.send_text(json.dumps(doc, ensure_ascii=False, separators=(",", ":")))
            if next_run is not None:
                next_run = schedules.next_after(schedule, utcnow())
    except WebSocketDisconnect:
        return
    finally:
        incoming.cancel()


def _ws_batch(svc: Services, name: str, visible_to: str | None, cursor: int):
    with svc.sessions() as db:
        row = db.get(EpcisNamedQuery, name)
        if row is None:
            return None, cursor
        return webhooks.after_cursor(db, nq.parsed(db, row), visible_to, cursor)
