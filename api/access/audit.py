"""The audit log: every write request (POST, PUT, PATCH, DELETE) is recorded after it is
answered, whatever the outcome: who, what, when, request id, status. The table is append-only
(database triggers refuse UPDATE and DELETE). Auditors query it at `GET /v1/audit/log`.
Refused anonymous writes are recorded by client and window, with a count (`audit_tally`).

Every response carries `X-Request-ID` (the caller's, if it sent a sane one, else a new one).
"""

from __future__ import annotations

import logging
import random
import re
import uuid
from datetime import datetime

import anyio.to_thread
from eth_utils import to_checksum_address
from fastapi import APIRouter, Depends, FastAPI, Query, Request
from pydantic import BaseModel
from sqlalchemy import select
from sqlalchemy.orm import Session as DbSession
from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ledger.access.roles import Role
from ledger.clock import as_utc, to_utc, utcnow
from ledger.store.models import AuditEntry

from ..core.limits import client_key
from ..core.services import get_db, services
from .audit_tally import DeniedTally, Summary
from .auth import Member, require

log = logging.getLogger("traceledger.audit")
WRITES = {"POST", "PUT", "PATCH", "DELETE"}
#: what a write answered by nobody is recorded as: its client went before its whole body came (not a 500)
CLIENT_GONE = 499


def _request_id() -> str:
    """A random (version 4) UUID without a system call per request, as uuid4() makes."""
    return uuid.UUID(int=random.getrandbits(128), version=4).hex


_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,64}$")


def outcome_of(status: int) -> str:
    if status < 400:
        return "ok"
    if status in (401, 403, 404, 429):
        return "denied"
    return "rejected" if status < 500 else "error"


class RequestIdAndAudit:
    """Pure ASGI middleware (Starlette's `@app.middleware("http")` costs ~2x on small answers):
    sets the request id, stamps it on the response, and audits writes once answered."""

    def __init__(self, app: ASGIApp):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request = Request(scope)
        incoming = request.headers.get("x-request-id", "")
        request_id = incoming if _REQUEST_ID.match(incoming) else _request_id()
        request.state.request_id = request_id
        status = 0

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                MutableHeaders(scope=message).append("X-Request-ID", request_id)
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        except BaseException:
            status = status or 500
            raise
        finally:
            if scope["method"] in WRITES:
                await anyio.to_thread.run_sync(_record, request, status or CLIENT_GONE)


def prepare(app: FastAPI) -> None:
    """The tally of refused anonymous writes that `RequestIdAndAudit` counts into."""
    app.state.audit_tally = DeniedTally(app.state.services.settings.audit_denied_window_s)


def flush(app: FastAPI) -> None:
    """Write the rows of every refused-anonymous window still counting (at shutdown)."""
    _write(app.state.services, [_summary_entry(s) for s in app.state.audit_tally.ended(None)])


def _summary_entry(s: Summary) -> AuditEntry:
    return AuditEntry(
        at=s.at, request_id=s.request_id, actor=None, auth=None, method=s.method, path=s.path[:512],
        status=s.status, outcome=outcome_of(s.status), detail=s.detail,
    )  # fmt: skip


def _record(request: Request, status: int) -> None:
    state, now = request.state, utcnow()
    tally: DeniedTally = request.app.state.audit_tally
    entries = [_summary_entry(s) for s in tally.ended(now)]
    actor = getattr(state, "actor", None)
    if actor is None and 400 <= status < 500:
        client = client_key(request.client.host) if request.client else "unknown"  # an IPv6 /64 is one, as limited
        if not tally.note(client, now, state.request_id, request.method, request.url.path, status):
            _write(services(request), entries)
            return
    entries.append(_entry(request, status, now))
    _write(services(request), entries)


def _entry(request: Request, status: int, now: datetime) -> AuditEntry:
    state = request.state
    return AuditEntry(
        at=now,
        request_id=state.request_id,
        actor=getattr(state, "actor", None),
        auth=getattr(state, "auth", None),
        method=request.method,
        path=request.url.path[:512],
        status=status,
        outcome=outcome_of(status),
        detail=(getattr(state, "audit_detail", None) or None),
    )


def _write(svc, entries: list[AuditEntry]) -> None:  # type: ignore[no-untyped-def]
    if not entries:
        return
    try:
        with svc.sessions() as db:
            db.add_all(entries)
            db.commit()
    except Exception:  # noqa: BLE001 - the answer is already given; make the loss loud
        for e in entries:
            log.exception("could not write audit entry for %s %s (request %s)", e.method, e.path, e.request_id)


router = APIRouter(prefix="/v1/audit", tags=["audit"])


class AuditOut(BaseModel):
    id: int
    at: datetime
    request_id: str
    actor: str | None
    auth: str | None
    method: str
    path: str
    status: int
    outcome: str
    detail: str | None


@router.get("/log", response_model=list[AuditOut], summary="The audit log of writes (auditors only)")
def audit_log(
    actor: str | None = Query(None, pattern=r"^0x[0-9a-fA-F]{40}$"),
    outcome: str | None = Query(None, pattern=r"^(ok|denied|rejected|error)$"),
    request_id: str | None = Query(None, max_length=64),
    since: datetime | None = None,
    until: datetime | None = None,
    after_id: int = Query(0, ge=0, le=2**63 - 1, description="page on (oldest first): the last id shown"),
    before_id: int | None = Query(None, ge=1, le=2**63 - 1, description="page back (newest first): the last id shown"),
    newest_first: bool = Query(False, description="newest first; page back with before_id"),
    limit: int = Query(100, ge=1, le=1000),
    _: Member = Depends(require(Role.AUDITOR)),
    db: DbSession = Depends(get_db),
) -> list[dict]:
    q = select(AuditEntry).where(AuditEntry.id > after_id)
    if before_id is not None:
        q = q.where(AuditEntry.id < before_id)
    if actor:
        q = q.where(AuditEntry.actor == to_checksum_address(actor))
    if outcome:
        q = q.where(AuditEntry.outcome == outcome)
    if request_id:
        q = q.where(AuditEntry.request_id == request_id)
    if since:
        q = q.where(AuditEntry.at >= to_utc(since))
    if until:
        q = q.where(AuditEntry.at < to_utc(until))
    # keyset paging on the primary key: each page is an index range scan, however long the log
    rows = db.scalars(q.order_by(AuditEntry.id.desc() if newest_first else AuditEntry.id).limit(limit))
    return [{**{c: getattr(r, c) for c in AuditOut.model_fields}, "at": as_utc(r.at)} for r in rows]
