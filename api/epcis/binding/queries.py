"""Named queries and subscriptions of the EPCIS 2.0 REST binding (`/epcis/queries`).

Query names are each member's own. Webhook subscriptions are delivered by
`ledger.trace.epcis.binding.webhooks` (signed, retried with backoff, paused after repeated failures;
`POST .../{subscriptionID}/resume` starts a paused one again, our extension). Only a query's
owner changes it, subscribes to it, unsubscribes and resumes; auditors and operators read every
member's queries and subscriptions by adding `?owner=<address>` (our extension), with others'
destinations redacted. WebSocket subscriptions: `api.epcis.binding.sockets`."""

from __future__ import annotations

import json
from typing import Any

from eth_utils import to_checksum_address
from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import JSONResponse
from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session as DbSession
from starlette.concurrency import run_in_threadpool

from ledger.clock import utcnow
from ledger.errors import Forbidden
from ledger.store.models import EpcisNamedQuery, EpcisSubscription
from ledger.trace.epcis import reading
from ledger.trace.epcis.binding import named_queries as nq
from ledger.trace.epcis.binding import webhooks

from ...access.auth import READ_ALL, Member
from ...core.errors import ApiError
from ...core.services import get_db, services
from .events import READERS, run_query
from .protocol import PREFIX, location, next_link, page_controls

router = APIRouter(prefix=f"{PREFIX}/queries", tags=["EPCIS 2.0 REST binding"])
SUBSCRIPTION_PARAMS = {"stream", "second", "minute", "hour", "dayOfMonth", "month", "dayOfWeek", "reportIfEmpty",
                       "initialRecordTime", "access_token", "owner"}  # fmt: skip


def owner_to_read(member: Member, owner: str | None) -> str:
    """Whose queries `member` reads: its own, or (auditors and operators) `owner`'s."""
    if not owner or not member.has(READ_ALL):
        return member.address
    try:
        return to_checksum_address(owner)
    except ValueError:
        return owner[:42]  # no such member: not found


def _own_subscription(db: DbSession, member: Member, name: str, sub_id: str, owner: str | None):
    sub = nq.subscription(db, nq.get(db, name, owner_to_read(member, owner)), sub_id)
    if sub.owner != member.address:
        raise Forbidden("only the subscription's owner changes it (auditors and operators read it)")
    return sub


async def _json(request: Request) -> Any:
    kind = request.headers.get("content-type", "application/json").split(";")[0].strip().lower()
    if kind not in ("application/json", "application/ld+json"):
        raise ApiError(415, "unsupported_media_type", f"{kind}: send application/json")
    try:
        return reading.parse(await request.body())  # nested too deep is a ValueError there too
    except ValueError as exc:
        raise ApiError(400, "invalid_input", f"not JSON: {exc}") from None


@router.get("", summary="Named queries the member owns (all, for auditors and operators)")
def list_queries(request: Request, member: Member = Depends(READERS), db: DbSession = Depends(get_db)):
    per_page, token = page_controls(request)
    stmt = select(EpcisNamedQuery)
    if not member.has(READ_ALL):
        stmt = stmt.where(EpcisNamedQuery.owner == member.address)
    if token:  # the last (owner, name) of the page before
        owner, _, name = token.partition("/")
        after = or_(EpcisNamedQuery.owner > owner, and_(EpcisNamedQuery.owner == owner, EpcisNamedQuery.name > name))
        stmt = stmt.where(after)
    order = (EpcisNamedQuery.owner, EpcisNamedQuery.name)
    rows = list(db.scalars(stmt.order_by(*order).limit(per_page + 1)))
    headers = {}
    if len(rows) > per_page:
        rows = rows[:per_page]
        headers["Link"] = next_link(request, f"{rows[-1].owner}/{rows[-1].name}")
    return JSONResponse([nq.out(r) for r in rows], headers=headers)


@router.post("", status_code=201, summary="Create a named query (a SimpleEventQuery kept under a name)")
async def create_query(request: Request, member: Member = Depends(READERS), db: DbSession = Depends(get_db)):
    body = await _json(request)
    row = await run_in_threadpool(nq.create, db, member.address, body, utcnow())
    request.state.audit_detail = f"query {row.name}"
    return JSONResponse(nq.out(row), 201, headers={"Location": location(request, f"{PREFIX}/queries/{row.name}")})


@router.get("/{queryName}", summary="A named query's definition")
def get_query(
    queryName: str,
    owner: str | None = None,
    member: Member = Depends(READERS),
    db: DbSession = Depends(get_db),  # noqa: N803
):
    return nq.out(nq.get(db, queryName, owner_to_read(member, owner)))


@router.delete("/{queryName}", status_code=204, summary="Delete a named query and end its subscriptions")
def delete_query(queryName: str, member: Member = Depends(READERS), db: DbSession = Depends(get_db)):  # noqa: N803
    nq.remove(db, nq.get(db, queryName, member.address))
    return Response(status_code=204)


@router.get("/{queryName}/events", summary="The named query's events, paged (WebSocket here: a subscription)")
def query_events(
    queryName: str,
    request: Request,
    owner: str | None = None,
    member: Member = Depends(READERS),
    db: DbSession = Depends(get_db),  # noqa: N803
) -> Response:
    row = nq.get(db, queryName, owner_to_read(member, owner))
    return run_query(request, db, member, {}, row.name, json.loads(row.query), ignore=SUBSCRIPTION_PARAMS)


@router.get("/{queryName}/subscriptions", summary="The named query's subscriptions")
def list_subscriptions(
    queryName: str,
    owner: str | None = None,
    member: Member = Depends(READERS),
    db: DbSession = Depends(get_db),  # noqa: N803
):
    query = nq.get(db, queryName, owner_to_read(member, owner))
    rows = db.scalars(select(EpcisSubscription).where(nq.of_query(query)))
    return [nq.subscription_out(r, member.address) for r in rows]


@router.post("/{queryName}/subscriptions", status_code=201, summary="Subscribe a webhook (stream or schedule)")
async def subscribe(
    queryName: str,
    request: Request,
    member: Member = Depends(READERS),
    db: DbSession = Depends(get_db),  # noqa: N803
):
    body = await _json(request)
    query = nq.get(db, queryName, member.address)
    allow = services(request).settings.webhook_allow_private
    row = await run_in_threadpool(nq.subscribe, db, query, member.address, body, utcnow(), allow)
    request.state.audit_detail = f"subscription {row.id} to {query.name} -> {nq.redacted(row.dest)}"
    where = location(request, f"{PREFIX}/queries/{query.name}/subscriptions/{row.id}")
    return JSONResponse(nq.subscription_out(row), 201, headers={"Location": where})


@router.get("/{queryName}/subscriptions/{subscriptionID}", summary="One subscription: active, paused, delivered")
def get_subscription(
    queryName: str,
    subscriptionID: str,
    owner: str | None = None,
    member: Member = Depends(READERS),
    db: DbSession = Depends(get_db),  # noqa: N803
):
    query = nq.get(db, queryName, owner_to_read(member, owner))
    return nq.subscription_out(nq.subscription(db, query, subscriptionID), member.address)


@router.delete("/{queryName}/subscriptions/{subscriptionID}", status_code=204, summary="Unsubscribe")
def unsubscribe(
    queryName: str,
    subscriptionID: str,
    owner: str | None = None,
    member: Member = Depends(READERS),
    db: DbSession = Depends(get_db),  # noqa: N803
):
    db.delete(_own_subscription(db, member, queryName, subscriptionID, owner))
    db.commit()
    return Response(status_code=204)


@router.post("/{queryName}/subscriptions/{subscriptionID}/resume", summary="Resume a paused subscription")
def resume(
    queryName: str,
    subscriptionID: str,
    owner: str | None = None,
    member: Member = Depends(READERS),
    db: DbSession = Depends(get_db),  # noqa: N803
):
    sub = _own_subscription(db, member, queryName, subscriptionID, owner)
    webhooks.resume(db, sub)
    return nq.subscription_out(sub)
