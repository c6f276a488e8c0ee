"""Rate limits on public endpoints: a fixed window of requests per client.

With `LEDGER_REDIS_URL` the counts live in Redis, so the documented limit holds across every API
process and machine and `Retry-After` means the same everywhere; without it, each process counts
for itself (the embedded default, which then admits the limit once per process). If Redis stops
answering, the process falls back to counting alone rather than refusing or admitting everyone.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field

from .errors import ApiError

log = logging.getLogger(__name__)


def _refuse(limit: int, window_s: int, retry: int) -> ApiError:
    return ApiError(
        429,
        "rate_limited",
        f"more than {limit} requests in {window_s} s; retry after {retry} s",
        {"Retry-After": str(retry)},
    )


@dataclass
class MemoryRateLimiter:
    """Counts in this process."""

    limit: int
    window_s: int
    _counts: dict[tuple[str, int], int] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def hit(self, client: str) -> None:
        now = time.time()
        window = int(now // self.window_s)
        with self._lock:
            if len(self._counts) > 100_000:
                self._counts = {k: v for k, v in self._counts.items() if k[1] == window}
            n = self._counts.get((client, window), 0) + 1
            self._counts[(client, window)] = n
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
        key = f"traceledger:rate:{client}:{window}"
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


def rate_limiter(limit: int, window_s: int, redis_url: str | None) -> MemoryRateLimiter | RedisRateLimiter:
    return RedisRateLimiter(limit, window_s, redis_url) if redis_url else MemoryRateLimiter(limit, window_s)
