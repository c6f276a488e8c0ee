"""Delivering subscribed query results to webhooks, at least once.

Each round, every subscription that is due (streaming: always; scheduled: at its next time) gets
the events recorded after its cursor that match its query and that its owner may see, and those
declared erroneous since its last delivery (again, now with their errorDeclaration), as an
EPCISQueryDocument naming the query and the subscription (each event with its eventID, so a
receiver can drop repeats). The body is signed: `GS1-Signature: sha256=<HMAC-SHA256 of the body
with the subscriber's secret, hex>`. Only a 2xx moves the cursor. A failure waits 1, 2, 4, ...
seconds (at most 5 minutes; the base is LEDGER_WEBHOOK_BACKOFF_S) before the next try; after
MAX_FAILURES in a row the subscription is paused, not retried forever, until its owner resumes it.
A failure is recorded as one generic text (it must not tell which ports of a host answer).

Deliveries run on a pool of threads (`Deliverer`), each with its own timeouts: one subscription
has at most one delivery in flight and one member at most PER_MEMBER, so a member's slow
receivers hold at most PER_MEMBER threads and never delay another member's deliveries."""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import threading
import uuid
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta

from sqlalchemy import or_, select
from sqlalchemy.orm import Session, sessionmaker
from urllib3.exceptions import HTTPError

from ledger.access.roles import Role
from ledger.clock import as_utc, utcnow
from ledger.errors import InvalidInput
from ledger.store.epcis_tables import EpcisDeclaration
from ledger.store.models import EpcisEvent, EpcisNamedQuery, EpcisSubscription
from ledger.trace.epcis.binding import event_pages, schedules, webhook_dest
from ledger.trace.epcis.binding import named_queries as nq
from ledger.trace.epcis.binding.simple_query import sql_filter
from ledger.trace.epcis.query import query_document, visible

log = logging.getLogger(__name__)
MAX_FAILURES = 8
BATCH = 500  # events per delivery
SCAN = 5_000  # rows one round may examine per subscription
TIMEOUT_S = 5.0  # to connect, and between bytes of the answer
WORKERS = 16  # deliveries in flight at once
PER_MEMBER = 2  # of which one member's subscriptions hold at most this many
RUN = 10  # full batches one streaming subscription may deliver in a row before the next round
READ_ALL = Role.AUDITOR | Role.OPERATOR  # subscribers who read every member's events
READERS = Role.PRODUCER | Role.LOGISTICS | Role.INSPECTOR | Role.MERCHANT | READ_ALL  # who may subscribe

Post = Callable[[str, bytes, dict[str, str]], int]


def signature(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def http_post(url: str, body: bytes, headers: dict[str, str], allow_private: bool = False) -> int:
    """POST to the destination's checked address, not following redirects (webhook_dest.post)."""
    return webhook_dest.post(url, body, headers, allow_private, TIMEOUT_S)


def backoff(now: datetime, failures: int, base_s: float, cap_s: float = 300.0) -> datetime:
    """When the next try after `failures` failures in a row is due: base, twice that, ... at most cap."""
    return now + timedelta(seconds=min(base_s * 2 ** (failures - 1), cap_s))


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
    q.order_by, q.order_key, q.descending, q.event_count_limit, q.max_event_count = None, None, False, None, None
    rows, last = [], cursor
    for row in event_pages.candidates(db, q, visible_to, {"i": cursor}, SCAN):
        last = row.id
        if event_pages.matches(q, row):
            rows.append(row)
            if len(rows) == BATCH:
                break
    return rows, last


def declared_after(db: Session, q, visible_to: str | None, cursor: int) -> tuple[list[EpcisEvent], int]:
    """Events declared erroneous after declaration `cursor` (EPCIS 2.0 7.4.1.2) matching `q` that
    `visible_to` may see, each once, at most BATCH; and the last declaration examined. A subscriber
    got the event before; it now gets it again with its errorDeclaration."""
    stmt = (
        select(EpcisEvent, EpcisDeclaration.id)
        .join(EpcisDeclaration, EpcisDeclaration.event_id == EpcisEvent.id)
        .where(EpcisDeclaration.id > cursor, sql_filter(q), visible(visible_to))
        .order_by(EpcisDeclaration.id)
        .limit(SCAN)
    )
    rows, last = [], cursor
    for row, declaration in db.execute(stmt):
        last = declaration
        if event_pages.matches(q, row):
            rows.append(row)
            if len(rows) == BATCH:
                break
    return rows, last


def next_batch(
    db: Session, query: EpcisNamedQuery, visible_to: str | None, cursor: int, declared: int
) -> tuple[list[EpcisEvent], int, int]:
    """What a subscription (webhook or WebSocket) is sent next: the events recorded after row
    `cursor` and those declared erroneous after declaration `declared` (`declared_after`), each
    once; and both cursors to move to once it is delivered."""
    q = nq.parsed(db, query, visible_to)  # once: both reads filter alike (ordering is after_cursor's own)
    rows, last = after_cursor(db, q, visible_to, cursor)
    again, declared = declared_after(db, q, visible_to, declared)
    fresh = {r.id for r in rows}  # one declared since it was captured goes once, as it is now
    rows += [r for r in again if r.id not in fresh and r.id <= last]  # (after `last`: a later round has it)
    return rows, last, declared


def deliver_one(
    db: Session, sub: EpcisSubscription, now: datetime, roles: int, post: Post = http_post, backoff_s: float = 1.0
) -> int:
    """One delivery for a due subscription whose owner holds `roles` on chain; the number of events
    delivered (-1 on failure). A subscriber no longer holding a role that reads events gets nothing."""
    query = db.get(EpcisNamedQuery, (sub.query_owner, sub.query_name))
    if query is None or not roles & READERS:
        return 0
    visible_to = None if roles & READ_ALL else sub.owner
    rows, last, declared = next_batch(db, query, visible_to, sub.cursor, sub.declared_cursor)
    scheduled = not sub.stream
    if not rows and not (scheduled and sub.report_if_empty):
        sub.cursor, sub.declared_cursor = last, declared  # nothing for this subscriber among the rows examined
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
        ok, why = 200 <= post(sub.dest, body, headers) < 300, webhook_dest.FAILED
    except webhook_dest.Refused as exc:
        ok, why = False, str(exc)[:300]
    except (OSError, ValueError, HTTPError, InvalidInput):
        ok, why = False, webhook_dest.FAILED
    if ok:
        sub.cursor, sub.failures, sub.retry_at, sub.last_error = last, 0, None, None
        sub.declared_cursor = declared
        sub.delivered += len(rows)
        if scheduled:
            sub.next_run_at = schedules.next_after(json.loads(sub.schedule), now)
    else:
        sub.failures += 1
        sub.last_error = why
        sub.retry_at = backoff(now, sub.failures, backoff_s)
        if sub.failures >= MAX_FAILURES:
            sub.paused_at = now
            log.warning("subscription %s paused after %d failed deliveries: %s", sub.id, sub.failures, why)
    db.commit()
    return len(rows) if ok else -1


class Deliverer:
    """Deliveries to due subscriptions on a pool of threads, each in a session of its own: a round
    starts a delivery for every due subscription without one in flight whose owner has fewer than
    PER_MEMBER in flight, and returns without waiting for them."""

    def __init__(self, sessions: sessionmaker, roles_of: Callable[[str], int], post: Post, backoff_s: float):
        self.sessions, self.roles_of, self.post, self.backoff_s = sessions, roles_of, post, backoff_s
        self.pool = ThreadPoolExecutor(WORKERS, thread_name_prefix="webhook")
        self.lock = threading.Lock()
        self.busy: set[str] = set()
        self.members: Counter[str] = Counter()

    def round(self, now: datetime) -> int:
        """Start the deliveries due at `now`; how many were started."""
        with self.sessions() as db:
            subs = [(s.id, s.owner) for s in due(db, as_utc(now))]
        started = 0
        for sub_id, owner in subs:
            with self.lock:
                if sub_id in self.busy or self.members[owner] >= PER_MEMBER:
                    continue
                self.busy.add(sub_id)
                self.members[owner] += 1
            self.pool.submit(self._deliver, sub_id, owner)
            started += 1
        return started

    def _deliver(self, sub_id: str, owner: str) -> None:
        try:
            for _ in range(RUN):  # a full batch delivered: more may be waiting, so the next one at once
                with self.sessions() as db:
                    sub = db.get(EpcisSubscription, sub_id)
                    if sub is None or sub.paused_at is not None:
                        return
                    n = deliver_one(db, sub, as_utc(utcnow()), self.roles_of(owner), self.post, self.backoff_s)
                    if n < BATCH or not sub.stream:
                        return
        except Exception:  # noqa: BLE001 - one delivery's failure (node, database) must not end the others
            log.warning("webhook delivery for %s failed; retried next round", sub_id, exc_info=True)
        finally:
            with self.lock:
                self.busy.discard(sub_id)
                self.members[owner] -= 1

    def close(self) -> None:
        self.pool.shutdown(wait=False, cancel_futures=True)


def resume(db: Session, sub: EpcisSubscription) -> None:
    sub.paused_at, sub.failures, sub.retry_at = None, 0, None
    db.commit()
