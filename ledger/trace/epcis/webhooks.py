"""Delivering subscribed query results to webhooks, at least once.

Each round, every subscription that is due (streaming: always; scheduled: at its next time) gets
the events recorded after its cursor that match its query and that its owner may see, as an
EPCISQueryDocument naming the query and the subscription (each event with its eventID, so a
receiver can drop repeats). The body is signed: `GS1-Signature: sha256=<HMAC-SHA256 of the body
with the subscriber's secret, hex>`. Only a 2xx moves the cursor. A failure waits 1, 2, 4, ...
seconds (at most 5 minutes; the base is LEDGER_WEBHOOK_BACKOFF_S) before the next try; after
MAX_FAILURES in a row the subscription is paused, not retried forever, until its owner resumes it."""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import uuid
from collections.abc import Callable
from datetime import datetime, timedelta

import requests
from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from ledger.access.roles import Role
from ledger.clock import as_utc
from ledger.store.models import EpcisEvent, EpcisNamedQuery, EpcisSubscription

from . import event_pages, schedules
from . import named_queries as nq
from .query import query_document

log = logging.getLogger(__name__)
MAX_FAILURES = 8
BATCH = 500  # events per delivery
SCAN = 5_000  # rows one round may examine per subscription
TIMEOUT_S = 5.0
READ_ALL = Role.AUDITOR | Role.OPERATOR  # subscribers who read every member's events

Post = Callable[[str, bytes, dict[str, str]], int]


def signature(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def http_post(url: str, body: bytes, headers: dict[str, str]) -> int:
    """POST without following redirects (a redirect is not a delivery)."""
    return requests.post(url, data=body, headers=headers, timeout=TIMEOUT_S, allow_redirects=False).status_code


def due(db: Session, now: datetime) -> list[EpcisSubscription]:
    stmt = select(EpcisSubscription).where(
        EpcisSubscription.paused_at.is_(None),
        or_(EpcisSubscription.retry_at.is_(None), EpcisSubscription.retry_at <= now),
        or_(EpcisSubscription.stream.is_(True), EpcisSubscription.next_run_at <= now),
    )
    return list(db.scalars(stmt.order_by(EpcisSubscription.created_at)))


def after_cursor(db: Session, q, visible_to: str | None, cursor: int) -> tuple[list[EpcisEvent], int]:
    """Events after row `cursor` matching `q` that `visible_to` (None: anyone) may see, at most
    BATCH, in capture order; and the last row id examined (the next cursor)."""
    q.order_by, q.descending, q.event_count_limit, q.max_event_count = None, False, None, None
    rows, last = [], cursor
    for row in event_pages.candidates(db, q, visible_to, {"i": cursor}, SCAN):
        last = row.id
        if event_pages.matches(q, row):
            rows.append(row)
            if len(rows) == BATCH:
                break
    return rows, last


def deliver_one(
    db: Session, sub: EpcisSubscription, now: datetime, roles: int, post: Post = http_post, backoff_s: float = 1.0
) -> int:
    """One delivery for a due subscription whose owner holds `roles` on chain; the number of events
    delivered (-1 on failure). A subscriber no longer a member gets nothing."""
    query = db.get(EpcisNamedQuery, sub.query_name)
    if query is None or roles == 0:
        return 0
    visible_to = None if roles & READ_ALL else sub.owner
    rows, last = after_cursor(db, nq.parsed(db, query, visible_to), visible_to, sub.cursor)
    scheduled = not sub.stream
    if not rows and not (scheduled and sub.report_if_empty):
        sub.cursor = last  # nothing for this subscriber among the rows examined
        if scheduled:
            sub.next_run_at = schedules.next_after(json.loads(sub.schedule), now)
        db.commit()
        return 0
    doc = query_document(rows, now, query.name)
    doc["epcisBody"]["queryResults"]["subscriptionID"] = sub.id
    body = json.dumps(doc, ensure_ascii=False, separators=(",", ":")).encode()
    headers = {
        "Content-Type": "application/json",
        "GS1-Signature": signature(sub.secret, body),
        "GS1-Subscription-ID": sub.id,
        "GS1-Delivery-ID": uuid.uuid4().hex,
        "GS1-EPCIS-Version": "2.0",
    }
    try:
        status = post(sub.dest, body, headers)
        ok, why = 200 <= status < 300, f"HTTP {status}"
    except requests.RequestException as exc:
        ok, why = False, f"{type(exc).__name__}: {str(exc)[:200]}"
    if ok:
        sub.cursor, sub.failures, sub.retry_at, sub.last_error = last, 0, None, None
        sub.delivered += len(rows)
        if scheduled:
            sub.next_run_at = schedules.next_after(json.loads(sub.schedule), now)
    else:
        sub.failures += 1
        sub.last_error = why
        sub.retry_at = now + timedelta(seconds=min(backoff_s * 2 ** (sub.failures - 1), 300))
        if sub.failures >= MAX_FAILURES:
            sub.paused_at = now
            log.warning("subscription %s paused after %d failed deliveries: %s", sub.id, sub.failures, why)
    db.commit()
    return len(rows) if ok else -1


def run_round(
    db: Session, now: datetime, roles_of: Callable[[str], int], post: Post = http_post, backoff_s: float = 1.0
) -> int:
    """Deliver to every due subscription once; the number of events delivered."""
    delivered = 0
    for sub in due(db, now):
        n = deliver_one(db, sub, as_utc(now), roles_of(sub.owner), post, backoff_s)
        delivered += max(n, 0)
    return delivered


def resume(db: Session, sub: EpcisSubscription) -> None:
    sub.paused_at, sub.failures, sub.retry_at = None, 0, None
    db.commit()
