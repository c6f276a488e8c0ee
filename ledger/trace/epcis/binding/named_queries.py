"""Named queries and their subscriptions (EPCIS 2.0 REST binding `/queries`).

A named query is a SimpleEventQuery kept under a name of its owner's own (two members may both
have a query "shipped"); it is checked when created (an unknown parameter is refused then, not
when it runs). Its owner reads it, subscribes to it and deletes it; deleting a query ends its
subscriptions. Auditors and operators read every member's queries and subscriptions, but change
none, and see others' destinations without their user information, path, query or fragment.
A subscription names a webhook (`dest`, http or https; private and loopback addresses only where
the deployment allows them, `webhook_dest`) and the secret deliveries are signed with, and
either streams (`stream: true`) or follows a `schedule`."""

from __future__ import annotations

import json
import re
import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from ledger.clock import as_utc
from ledger.errors import Conflict, InvalidInput, NotFound
from ledger.store.epcis_tables import EpcisDeclaration
from ledger.store.models import EpcisEvent, EpcisNamedQuery, EpcisSubscription
from ledger.trace.epcis.binding import event_match, schedules, webhook_dest
from ledger.trace.epcis.binding import simple_query as sq
from ledger.trace.epcis.canonical import namespaces_of

NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,99}")


def _iso(t: datetime) -> str:
    return as_utc(t).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def create(db: Session, owner: str, body: Any, now: datetime) -> EpcisNamedQuery:
    if not isinstance(body, dict) or not isinstance(body.get("name"), str) or not isinstance(body.get("query"), dict):
        raise InvalidInput('expected {"name": "...", "query": {SimpleEventQuery parameters}}')
    name = body["name"]
    if not NAME.fullmatch(name):
        raise InvalidInput("name: 1 to 100 letters, digits, '_', '.' or '-', starting with a letter or digit")
    query = body["query"]
    sq.parse(query, db, namespaces_of(query.get("@context")), owner)  # refuses what it cannot run
    if db.get(EpcisNamedQuery, (owner, name)) is not None:
        raise Conflict(f"a query named {name!r} exists")
    row = EpcisNamedQuery(name=name, owner=owner, query=json.dumps(query, ensure_ascii=False), created_at=now)
    db.add(row)
    db.commit()
    return row


def get(db: Session, name: str, owner: str) -> EpcisNamedQuery:
    """`owner`'s query `name`; NotFound otherwise."""
    row = db.get(EpcisNamedQuery, (owner, name[:100]))
    if row is None:
        raise NotFound(f"query {name[:100]!r} not found")
    return row


def out(row: EpcisNamedQuery) -> dict:
    return {"name": row.name, "owner": row.owner, "query": json.loads(row.query), "createdAt": _iso(row.created_at)}


def of_query(row: EpcisNamedQuery):
    """The condition selecting the subscriptions of query `row`."""
    return (EpcisSubscription.query_owner == row.owner) & (EpcisSubscription.query_name == row.name)


def remove(db: Session, row: EpcisNamedQuery) -> None:
    db.execute(delete(EpcisSubscription).where(of_query(row)))
    db.delete(row)
    db.commit()


def parsed(db: Session, row: EpcisNamedQuery, viewer: str | None = "") -> sq.Query:
    """The named query, reading master data as `viewer` (None: every member; "": none) may see it."""
    query = json.loads(row.query)
    return sq.parse(query, db, namespaces_of(query.get("@context")), viewer)


def check_dest(dest: Any, allow_private: bool) -> str:
    """A webhook URL we may call (ledger.trace.epcis.binding.webhook_dest)."""
    return webhook_dest.check(dest, allow_private)


def subscribe(db: Session, query: EpcisNamedQuery, owner: str, body: Any, now: datetime, allow_private: bool):
    if not isinstance(body, dict):
        raise InvalidInput("expected a subscription object: dest, secret, and stream or schedule")
    dest = check_dest(body.get("dest"), allow_private)
    secret = body.get("secret")
    if not isinstance(secret, str) or not 8 <= len(secret) <= 200:
        raise InvalidInput("secret: 8 to 200 characters the deliveries are signed with (HMAC-SHA256)")
    stream, schedule = body.get("stream"), body.get("schedule")
    if (stream is True) == (schedule is not None):
        raise InvalidInput("either stream: true or a schedule, not both and not neither")
    next_run = None
    if schedule is not None:
        try:
            next_run = schedules.next_after(schedule, now)
        except schedules.ScheduleError as exc:
            raise InvalidInput(f"schedule: {exc}") from None
    initial = body.get("initialRecordTime")
    start = now
    if initial is not None:
        start = event_match.when(initial) if isinstance(initial, str) else None
        if start is None:
            raise InvalidInput("initialRecordTime: an ISO 8601 date-time with a time zone")
    report_if_empty = body.get("reportIfEmpty", False)
    if not isinstance(report_if_empty, bool):
        raise InvalidInput("reportIfEmpty: true or false")
    # events recorded before the initial record time are not delivered: start after the last of them
    cursor = db.scalar(select(func.max(EpcisEvent.id)).where(EpcisEvent.record_time < start)) or 0
    declared = db.scalar(select(func.max(EpcisDeclaration.id)).where(EpcisDeclaration.declared_at < start)) or 0
    row = EpcisSubscription(
        id=str(uuid.uuid4()), query_owner=query.owner, query_name=query.name, owner=owner, dest=dest, secret=secret,
        stream=bool(stream),
        schedule=json.dumps(schedule) if schedule is not None else None, report_if_empty=report_if_empty,
        initial_record_time=start, created_at=now, cursor=cursor, next_run_at=next_run, failures=0, delivered=0,
        declared_cursor=declared,
    )  # fmt: skip
    db.add(row)
    db.commit()
    return row


def redacted(dest: str) -> str:
    """Where a destination goes, without what may be a credential (user information, path, query)."""
    try:
        url = webhook_dest.parse(dest)
    except InvalidInput:
        return "(hidden)"
    port = f":{url.port}" if url.port else ""
    return f"{url.scheme}://{url.host}{port}/…"


def subscription_out(row: EpcisSubscription, viewer: str | None = None) -> dict:
    """The subscription as `viewer` (None: its owner) may see it: others see no secret in its `dest`."""
    body: dict[str, Any] = {
        "subscriptionID": row.id,
        "queryName": row.query_name,
        "dest": row.dest if viewer in (None, row.owner) else redacted(row.dest),
        "createdAt": _iso(row.created_at),
        "initialRecordTime": _iso(row.initial_record_time),
        "reportIfEmpty": row.report_if_empty,
        "delivered": row.delivered,
        "failures": row.failures,
        "paused": row.paused_at is not None,
    }
    if row.schedule:
        body["schedule"] = json.loads(row.schedule)
    else:
        body["stream"] = True
    if row.last_error:
        body["lastError"] = row.last_error
    return body


def subscription(db: Session, query: EpcisNamedQuery, sub_id: str) -> EpcisSubscription:
    row = db.get(EpcisSubscription, sub_id[:36])
    if row is None or (row.query_owner, row.query_name) != (query.owner, query.name):
        raise NotFound(f"subscription {sub_id[:36]!r} not found")
    return row
