"""Answering PACT requests (PACT 3.0 Action Events, "asynchronous request"): a RequestCreatedEvent a
member's partner sent (`api/carbon/pact_events.py` keeps it as a pending `CarbonRequest`) is
answered at the partner's own `{base}/3/events` with a RequestFulfilledEvent naming the member's
footprints its criteria select (`pact_filters`, as ListFootprints does; at most MAX_PFS, newest
first) and the request's id, or a RequestRejectedEvent (`NotFound`) when none does; after an access
token from the partner's `{base}/auth/token` (OAuth 2 client credentials in HTTP Basic, the
credentials agreed with the partner, its secret sealed at rest).

Sending goes the webhooks' way (`ledger.trace.epcis.binding.webhook_dest`): the host checked at
each try and called at the very address checked, no redirects followed, private addresses only
where LEDGER_WEBHOOK_ALLOW_PRIVATE says so, one generic text for a failure. A failure waits
1, 2, 4, ... times LEDGER_WEBHOOK_BACKOFF_S (at most an hour, `webhooks.backoff`); after
MAX_ATTEMPTS tries (about 13 hours with the default 1 s base), or 72 hours after the request came
(PACT: abandon then), the request is `failed`. Every try of one request sends the same CloudEvent
id, so a partner that got an answer whose acknowledgement was lost can drop the repeat."""

from __future__ import annotations

import base64
import json
import logging
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from urllib.parse import quote

from sqlalchemy import or_, select
from sqlalchemy.orm import Session, sessionmaker
from urllib3.exceptions import HTTPError

from ledger.access.sealed import unseal
from ledger.clock import as_utc
from ledger.errors import InvalidInput
from ledger.store.carbon_tables import CarbonPartner, CarbonRequest
from ledger.trace.epcis.binding import webhook_dest, webhooks

from . import pact_filters

log = logging.getLogger(__name__)
PREFIX = "org.wbcsd.pact.ProductFootprint."
MAX_PFS = 100  # footprints one answer carries (PACT: all in a single event; ours are a few kB each)
GIVE_UP_AFTER = timedelta(hours=72)
MAX_ATTEMPTS = 24
BACKOFF_CAP_S = 3600.0
BATCH = 50  # requests of one partner one run answers
WORKERS = 8  # partners answered at once
TOKEN_ANSWER_MAX = 64 << 10  # bytes of a token endpoint's answer read at most
NO_MATCH = {"code": "NotFound", "message": "No footprint of ours matches the request's criteria."}

#: POST `body` with `headers` to a URL; the status and at most `read` bytes of the answer
Exchange = Callable[[str, bytes, dict[str, str], int], tuple[int, bytes]]


class NoToken(Exception):
    """The partner's token endpoint gave no access token."""


def http_exchange(allow_private: bool) -> Exchange:
    def send(url: str, body: bytes, headers: dict[str, str], read: int) -> tuple[int, bytes]:
        return webhook_dest.exchange(url, body, headers, allow_private, webhooks.TIMEOUT_S, read)

    return send


def _iso(t: datetime) -> str:
    return t.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def reply(req: CarbonRequest, pfs: list[dict], source: str, now: datetime) -> dict:
    """The CloudEvent answering `req`: fulfilled with `pfs`, or rejected when there are none."""
    data: dict = {"requestEventId": req.event_id}
    data |= {"pfs": pfs} if pfs else {"error": NO_MATCH}
    kind = "RequestFulfilledEvent" if pfs else "RequestRejectedEvent"
    return {"specversion": "1.0", "id": req.reply_id, "source": source, "time": _iso(now),
            "type": f"{PREFIX}{kind}.3", "data": data}  # fmt: skip


def token(send: Exchange, partner: CarbonPartner) -> str:
    """An access token from `{base}/auth/token` (RFC 6749 §4.4, credentials in Basic, §2.3.1)."""
    secret = unseal(partner.secret_sealed).decode()
    basic = base64.b64encode(f"{quote(partner.client_id, safe='')}:{quote(secret, safe='')}".encode()).decode()
    headers = {"Content-Type": "application/x-www-form-urlencoded", "Accept": "application/json",
               "Authorization": f"Basic {basic}"}  # fmt: skip
    status, answer = send(partner.base_url + "/auth/token", b"grant_type=client_credentials", headers, TOKEN_ANSWER_MAX)
    if status in (400, 401):
        raise NoToken("the partner's token endpoint refused our client credentials")
    if not 200 <= status < 300:
        raise NoToken(webhook_dest.FAILED)
    try:
        value = json.loads(answer)["access_token"]
    except (ValueError, KeyError, TypeError, RecursionError):
        value = None
    if not isinstance(value, str) or not value.strip() or any(ord(c) < 33 or ord(c) > 126 for c in value):
        raise NoToken("the partner's token endpoint answered no usable access_token")
    return value


#: due requests a round looks over (it tries at most BATCH): a partner's skipped ones stay due
SCAN = 10 * BATCH


def due(db: Session, now: datetime, limit: int = SCAN) -> list[tuple[int, int]]:
    """(request id, partner id) of the requests due, the least tried first: retries of a partner that
    is down must not keep new requests waiting."""
    q = select(CarbonRequest.id, CarbonRequest.partner_id).where(
        CarbonRequest.status == "pending", or_(CarbonRequest.retry_at.is_(None), CarbonRequest.retry_at <= now)
    )
    order = (CarbonRequest.attempts, CarbonRequest.received_at, CarbonRequest.id)
    return [(i, p) for i, p in db.execute(q.order_by(*order).limit(limit))]


def answer_one(
    db: Session, req: CarbonRequest, now: datetime, send: Exchange, source: str, backoff_s: float, max_attempts: int
) -> bool:
    """One try at answering `req`; whether the partner accepted the answer (2xx)."""
    partner = db.get(CarbonPartner, req.partner_id)
    if partner is None:
        req.status, req.last_error, req.retry_at = "failed", "the partner was removed", None
        db.commit()
        return False
    pfs = pact_filters.requested(db, json.loads(req.criteria), req.member, MAX_PFS)
    body = json.dumps(reply(req, pfs, source, now), ensure_ascii=False, separators=(",", ":")).encode()
    req.attempts += 1
    try:
        headers = {"Content-Type": "application/cloudevents+json; charset=UTF-8",
                   "Authorization": f"Bearer {token(send, partner)}"}  # fmt: skip
        ok, why = 200 <= send(partner.base_url + "/3/events", body, headers, 0)[0] < 300, webhook_dest.FAILED
    except NoToken as exc:
        ok, why = False, str(exc)
    except webhook_dest.Refused as exc:
        ok, why = False, str(exc)[:300]
    except (OSError, ValueError, HTTPError, InvalidInput):
        ok, why = False, webhook_dest.FAILED
    if ok:
        req.status, req.footprints, req.answered_at = ("fulfilled" if pfs else "rejected"), len(pfs), now
        req.retry_at, req.last_error = None, None
    else:
        req.last_error = why
        req.retry_at = webhooks.backoff(now, req.attempts, backoff_s, BACKOFF_CAP_S)
        if req.attempts >= max_attempts or now - as_utc(req.received_at) >= GIVE_UP_AFTER:
            req.status, req.retry_at = "failed", None
            log.warning("PACT request %s from %s: gave up after %d tries: %s", req.id, req.source, req.attempts, why)
    db.commit()
    return ok


class Replier:
    """Answers the due requests on a pool of threads, each in a session of its own: a round starts,
    for every partner with requests due and none being answered, a run through that partner's
    requests (at most BATCH), and returns without waiting. A partner slow to answer (each try may
    take its full timeout) keeps only its own requests waiting, never another partner's."""

    def __init__(
        self, sessions: sessionmaker, send: Exchange, source: str, backoff_s: float, max_attempts: int = MAX_ATTEMPTS
    ):
        self.sessions, self.send, self.source = sessions, send, source
        self.backoff_s, self.max_attempts = backoff_s, max_attempts
        self.pool = ThreadPoolExecutor(WORKERS, thread_name_prefix="pact-replies")
        self.lock = threading.Lock()
        self.busy: set[int] = set()  # partners being answered

    def round(self, now: datetime) -> int:
        """Start answering the requests due at `now`; how many partners' runs were started."""
        with self.sessions() as db:
            ids = due(db, as_utc(now))
        queues: dict[int, list[int]] = {}
        for request_id, partner_id in ids:
            queues.setdefault(partner_id, []).append(request_id)
        started = 0
        for partner_id, queue in queues.items():
            with self.lock:
                if partner_id in self.busy:
                    continue
                self.busy.add(partner_id)
            self.pool.submit(self._partner, partner_id, queue[:BATCH], as_utc(now))
            started += 1
        return started

    def _partner(self, partner_id: int, request_ids: list[int], now: datetime) -> int:
        """One partner's due requests in order, until one is not accepted (a partner that swallows
        connections gets one failed try a round); how many it accepted."""
        accepted = 0
        try:
            for request_id in request_ids:
                try:
                    with self.sessions() as db:
                        req = db.get(CarbonRequest, request_id)
                        if req is None or req.status != "pending":
                            continue
                        if not answer_one(db, req, now, self.send, self.source, self.backoff_s, self.max_attempts):
                            break
                        accepted += 1
                except Exception:  # noqa: BLE001 - one request's failure (database, a document) must not stop the rest
                    log.warning("answering PACT request %s failed; retried next round", request_id, exc_info=True)
        finally:
            with self.lock:
                self.busy.discard(partner_id)
        return accepted

    def close(self) -> None:
        self.pool.shutdown(wait=False, cancel_futures=True)
