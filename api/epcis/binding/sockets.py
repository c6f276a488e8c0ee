"""WebSocket subscriptions of the EPCIS 2.0 REST binding: a WebSocket on
`/epcis/queries/{name}/events` (`?stream=true` or schedule parameters; the bearer token in
`Authorization` or `?access_token=`; `?owner=` for auditors and operators reading another
member's query) sends each new matching event's query document as it is captured, or at the
scheduled times.

Only members who may read events (recorders, auditors, operators) subscribe, each to at most
`LEDGER_WS_PER_MEMBER` sockets at once (per API worker). The subscriber's roles are read again
every ROLE_CHECK_S seconds: a member who lost them has its socket closed (1008), and one who
lost auditor or operator then sees only its own events; the token is checked again with them (one
revoked or expired since closes the socket, 1008, as HTTP answers 401). A refused subscription (no token, no
role, too many sockets, a schedule naming no time, both a stream and a schedule) is accepted and
closed at once with code 1008 and the reason."""

from __future__ import annotations

import asyncio
import json
import time

from fastapi import APIRouter, WebSocket, WebSocketDisconnect
from sqlalchemy import func, select
from starlette.concurrency import run_in_threadpool
from websockets.exceptions import ConnectionClosed

from ledger.access.roles import Role
from ledger.clock import utcnow
from ledger.errors import Forbidden, InvalidInput, LedgerError
from ledger.store.epcis_tables import EpcisDeclaration
from ledger.store.models import EpcisEvent, EpcisNamedQuery
from ledger.trace.epcis.binding import named_queries as nq
from ledger.trace.epcis.binding import schedules, webhooks
from ledger.trace.epcis.query import query_document

from ...access.auth import READ_ALL, Member, token_holder
from ...core.errors import ApiError
from ...core.services import Services
from ..v1 import RECORDERS
from .events import reader
from .protocol import PREFIX
from .queries import owner_to_read

router = APIRouter(prefix=f"{PREFIX}/queries", tags=["EPCIS 2.0 REST binding"])
ROLE_CHECK_S = 2.0  # how stale a subscriber's roles may be
POLICY = 1008  # WebSocket close code: policy violation
#: a client that reset its connection in the handshake: websockets' close finds no transfer task
#: (AttributeError), Starlette's send a closed socket (RuntimeError), the transport an OSError. Each
#: was two tracebacks in the log (5.6 KB) per connection an anonymous client opened and dropped.
_GONE = (WebSocketDisconnect, ConnectionClosed, AttributeError, RuntimeError, OSError)


def _ws_token(ws: WebSocket) -> str:
    auth = ws.headers.get("authorization", "")
    token = auth[7:].strip() if auth.lower().startswith("bearer ") else ws.query_params.get("access_token", "")
    if not token:
        raise ApiError(401, "unauthorized", "send Authorization: Bearer <token> or ?access_token=")
    return token


def _ws_member(svc: Services, token: str, touch: bool = True) -> Member:
    """The member `token` stands for now, with the roles it holds now: 401 (ApiError) if the token
    is unknown, expired or revoked; Forbidden if no role reads events."""
    with svc.sessions() as db:
        address, kind = token_holder(db, token, touch)
    return Member(address, _reader_roles(svc, address), kind)


def _reader_roles(svc: Services, address: str) -> Role:
    roles = Role(svc.chain.roles_of(address))
    if not roles & (RECORDERS | READ_ALL):
        raise Forbidden(f"{address} holds no role that reads EPCIS events")
    return roles


def _ws_plan(ws: WebSocket) -> tuple[dict | None, bool]:
    """The schedule (None: stream) and reportIfEmpty a WebSocket subscription asked for."""
    p = ws.query_params
    schedule = {k: p[k] for k in schedules.FIELDS if k in p}
    stream = p.get("stream") == "true"
    if stream == bool(schedule):
        raise InvalidInput("either stream=true or schedule parameters (second, minute, hour, ...), not both")
    if schedule:
        schedules.next_after(schedule, utcnow())  # a schedule naming no time (31 February) is refused
    return schedule or None, p.get("reportIfEmpty") == "true"


@router.websocket("/{queryName}/events")
async def query_socket(ws: WebSocket, queryName: str) -> None:  # noqa: N803
    svc: Services = ws.app.state.services
    try:
        token = _ws_token(ws)
        member = await run_in_threadpool(_ws_member, svc, token)
        schedule, report_if_empty = _ws_plan(ws)
        with svc.sessions() as db:
            query = nq.get(db, queryName, owner_to_read(member, ws.query_params.get("owner")))
            cursor = (  # from now on: the events recorded and the declarations made after this
                db.scalar(select(func.max(EpcisEvent.id))) or 0,
                db.scalar(select(func.max(EpcisDeclaration.id))) or 0,
            )
        if svc.sockets[member.address] >= svc.settings.ws_per_member:
            raise Forbidden(f"at most {svc.settings.ws_per_member} WebSocket subscriptions per member")
    except (ApiError, LedgerError, ValueError) as exc:
        try:
            await ws.accept()
            await ws.close(code=POLICY, reason=str(getattr(exc, "detail", exc))[:120])
        except _GONE:  # the client left during the handshake: nothing to tell it, nothing to log
            pass
        return
    svc.sockets[member.address] += 1
    try:
        await ws.accept()
        await _serve(ws, svc, (member, token), (query.owner, query.name), schedule, report_if_empty, cursor)
    finally:
        svc.sockets[member.address] -= 1
        if svc.sockets[member.address] <= 0:
            del svc.sockets[member.address]


async def _serve(ws, svc, caller, key, schedule, report_if_empty, cursor) -> None:
    member, token = caller
    visible_to, checked = reader(member), time.monotonic()
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
            if time.monotonic() - checked >= ROLE_CHECK_S:  # the token or roles may have been revoked
                try:
                    now_member = await run_in_threadpool(_ws_member, svc, token, False)
                except ApiError as exc:  # the token expired or was revoked: as HTTP's 401
                    await ws.close(code=POLICY, reason=str(exc.detail)[:120])
                    return
                except LedgerError as exc:
                    await ws.close(code=POLICY if isinstance(exc, Forbidden) else 1011, reason=str(exc)[:120])
                    return
                visible_to, checked = reader(now_member), time.monotonic()
            sent, cursor = await run_in_threadpool(_ws_batch, svc, key, visible_to, cursor)
            if sent is None:  # the query was deleted: the subscription ends
                await ws.close(code=1000, reason="query deleted")
                return
            if sent or (next_run is not None and report_if_empty):
                doc = query_document(sent, utcnow(), key[1])
                await ws.send_text(json.dumps(doc, ensure_ascii=False, separators=(",", ":")))
            if next_run is not None:
                next_run = schedules.next_after(schedule, utcnow())
    except WebSocketDisconnect:
        return
    finally:
        incoming.cancel()


def _ws_batch(svc: Services, key: tuple[str, str], visible_to: str | None, cursor: tuple[int, int]):
    """The next events (and declarations: `webhooks.next_batch`) and the cursors after them."""
    with svc.sessions() as db:
        row = db.get(EpcisNamedQuery, key)
        if row is None:
            return None, cursor
        rows, last, declared = webhooks.next_batch(db, row, visible_to, *cursor)
        return rows, (last, declared)
