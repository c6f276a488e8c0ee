"""Rate limits on public endpoints: a fixed window of requests per client.

With `LEDGER_REDIS_URL` the counts live in Redis, so the documented limit holds across every API
process and machine and `Retry-After` means the same everywhere; without it, on PostgreSQL, they
live in the database (`rate_counts`: one upsert per request), so API hosts sharing it count
together; on SQLite each process counts for itself (the embedded default, which then admits the
limit once per process). If Redis or the database stops answering, the process falls back to
counting alone rather than refusing or admitting everyone.

A client is its IPv4 address, or its IPv6 address's /64 network (a subscriber's allocation: its
2^64 addresses are one budget, not 2^64), so an anonymous caller cannot mint identities in bulk.
"""

from __future__ import annotations

import functools
import ipaddress
import logging
import threading
import time
from dataclasses import dataclass, field

from sqlalchemy import Engine, text
from sqlalchemy.exc import SQLAlchemyError

from .errors import ApiError

log = logging.getLogger(__name__)


#: the budget that clients beyond a window's `max_clients` share
OVERFLOW = "*"


@functools.lru_cache(maxsize=4096)  # parsing the address was ~4 % of a scan's time on the event loop (py-spy)
def client_key(host: str) -> str:
    """Whom a request from `host` counts for: an IPv4 address (an IPv4-mapped IPv6 one too), or an
    IPv6 address's /64 network; anything else (a test client's name) as it is, cut to 64."""
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        return host[:64]
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.IPv6Network((ip, 64), strict=False))
    return str(ip)


def _refuse(limit: int, window_s: int, retry: int) -> ApiError:
    return ApiError(
        429,
        "rate_limited",
        f"more than {limit} requests in {window_s} s; retry after {retry} s",
        {"Retry-After": str(retry)},
    )


@dataclass
class MemoryRateLimiter:
    """Counts in this process, the current window only: at most `max_clients` clients, and the
    ones that come after them share one budget (memory and each hit's work stay bounded however
    many identities a flood brings; clients already counted keep their own)."""

    limit: int
    window_s: int
    max_clients: int = 100_000
    _window: int = -1
    _counts: dict[str, int] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def hit(self, client: str) -> None:
        now = time.time()
        window = int(now // self.window_s)
        who = client_key(client)
        with self._lock:
            if window != self._window:
                self._window, self._counts = window, {}
            if who not in self._counts and len(self._counts) >= self.max_clients:
                who = OVERFLOW
            n = self._counts.get(who, 0) + 1
            self._counts[who] = n
        if n > self.limit:
            raise _refuse(self.limit, self.window_s, int((window + 1) * self.window_s - now) + 1)


class RedisRateLimiter:
    """Counts in Redis: one key per client and window, expiring with the window."""

    def __init__(self, limit: int, window_s: int, url: str):
        import redis

        self.limit, self.window_s = limit, window_s
        self.redis = redis.Redis.from_url(url, socket_timeout=0.5, socket_connect_timeout=0.5)
        self.fallback = MemoryRateLimiter(limit, window_s)
        self._errors = (redis.RedisError, OSError)

    def hit(self, client: str) -> None:
        now = time.time()
        window = int(now // self.window_s)
        key = f"traceledger:rate:{client_key(client)}:{window}"
        try:
            pipe = self.redis.pipeline()
            pipe.incr(key)
            pipe.expire(key, self.window_s * 2, nx=True)
            n = int(pipe.execute()[0])
        except self._errors as exc:
            log.warning("rate limit store unavailable (%s); counting in this process", exc)
            self.fallback.hit(client)
            return
        if n > self.limit:
            raise _refuse(self.limit, self.window_s, int((window + 1) * self.window_s - now) + 1)


class DatabaseRateLimiter:
    """Counts in PostgreSQL without waiting for it: a hit counts in this process at once (scans
    answer on the event loop), and a thread adds this process's new counts to the database's
    every SYNC_S, learning the count of all hosts back. A hit is refused when that count plus
    this process's since is over the limit: hosts together admit at most what they admit in one
    SYNC_S beyond it."""

    SYNC_S = 0.25
    HIT = text(
        "INSERT INTO rate_counts (who, bucket, n) VALUES (:who, :bucket, :d) "
        "ON CONFLICT (who, bucket) DO UPDATE SET n = rate_counts.n + :d RETURNING n"
    )

    def __init__(self, limit: int, window_s: int, engine: Engine):
        self.limit, self.window_s, self.engine = limit, window_s, engine
        self._new: dict[tuple[str, int], int] = {}  # counted here, not yet in the database
        self._known: dict[tuple[str, int], int] = {}  # the database's count when last told
        self._lock = threading.Lock()
        self._syncer: threading.Thread | None = None
        self._failing = False

    def hit(self, client: str) -> None:
        now = time.time()
        key = (client_key(client), int(now // self.window_s))
        with self._lock:
            if self._syncer is None:
                self._syncer = threading.Thread(target=self._sync_forever, name="rate-counts", daemon=True)
                self._syncer.start()
            if len(self._known) > 100_000:  # bounded: what the database said is asked again at the next sync
                self._known = {}
            self._new[key] = self._new.get(key, 0) + 1
            n = self._known.get(key, 0) + self._new[key]
        if n > self.limit:
            raise _refuse(self.limit, self.window_s, int((key[1] + 1) * self.window_s - now) + 1)

    def _sync_forever(self) -> None:
        while True:
            time.sleep(self.SYNC_S)
            self.sync()

    def sync(self) -> None:
        """Add this process's new counts to the database's; learn the totals."""
        with self._lock:
            new, self._new = self._new, {}
        if not new:
            return
        window = int(time.time() // self.window_s)
        try:
            with self.engine.begin() as conn:
                totals = {k: int(conn.execute(self.HIT, {"who": k[0], "bucket": k[1], "d": d}).scalar_one())
                          for k, d in new.items()}  # fmt: skip
                conn.execute(text("DELETE FROM rate_counts WHERE bucket < :b"), {"b": window - 1})
        except SQLAlchemyError as exc:  # counted here only until the database answers again
            if not self._failing:  # once per outage, not every SYNC_S
                log.warning("rate limit store unavailable (%s); counting in this process", str(exc).splitlines()[0])
            self._failing = True
            with self._lock:
                for k, d in new.items():
                    if k[1] >= window:  # ended windows are dropped: what is kept stays bounded
                        self._new[k] = self._new.get(k, 0) + d
            return
        if self._failing:
            log.warning("rate limit store answers again")
            self._failing = False
        with self._lock:
            self._known = {k: v for k, v in self._known.items() if k[1] >= window} | totals


def rate_limiter(
    limit: int, window_s: int, redis_url: str | None, engine: Engine | None = None
) -> MemoryRateLimiter | RedisRateLimiter | DatabaseRateLimiter:
    if redis_url:
        return RedisRateLimiter(limit, window_s, redis_url)
    if engine is not None and engine.dialect.name == "postgresql":
        return DatabaseRateLimiter(limit, window_s, engine)
    return MemoryRateLimiter(limit, window_s)
