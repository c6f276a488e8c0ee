"""Refused anonymous writes are audited by client, not one row each: an anonymous caller could
otherwise add a row to the append-only audit log with every request it sends.

The first refused (4xx) anonymous write of a client opens a window of `window_s` seconds and is
recorded in full; the ones after it in that window are counted, and when the window has ended one
row says how many there were, with their statuses, the first and last time and the last request
id. Windows that ended are written on the next audited write of anyone, and at shutdown. Memory
is bounded: at most MAX_CLIENTS clients are told apart per worker, the rest count together as
`other clients`. Members' writes (an actor known) are each recorded, whatever their outcome.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from datetime import datetime, timedelta

MAX_CLIENTS = 1_000
#: a path is kept to this many characters (a request line may be kilobytes long: 1,000 clients' full
#: paths would hold megabytes per worker)
MAX_PATH = 200
OTHERS = "other clients"


@dataclass
class _Window:
    opened: datetime
    last: datetime
    request_id: str = ""
    method: str = "POST"
    path: str = ""
    statuses: dict[int, int] = field(default_factory=dict)

    @property
    def more(self) -> int:
        return sum(self.statuses.values())


@dataclass
class Summary:
    """One row standing for `count` refused anonymous writes of `client` after the first."""

    client: str
    count: int
    at: datetime
    request_id: str
    method: str
    path: str
    status: int
    detail: str


class DeniedTally:
    def __init__(self, window_s: float):
        self.window = timedelta(seconds=window_s)
        self._lock = threading.Lock()
        self._open: dict[str, _Window] = {}  # in the order opened: the oldest first
        self._ended: list[Summary] = []

    def note(self, client: str, now: datetime, request_id: str, method: str, path: str, status: int) -> bool:
        """Count a refused anonymous write; True when it opens its client's window (record it)."""
        with self._lock:
            if client not in self._open and len(self._open) >= MAX_CLIENTS:
                client = OTHERS
            w = self._open.get(client)
            if w is None or now - w.opened >= self.window:
                if w is not None:
                    del self._open[client]  # reopened: to the end of the order
                    if w.more:
                        self._ended.append(self._summary(client, w))
                self._open[client] = _Window(now, now)
                return True
            w.last, w.request_id, w.method, w.path = now, request_id[:64], method[:16], path[:MAX_PATH]
            w.statuses[status] = w.statuses.get(status, 0) + 1
            return False

    def ended(self, now: datetime | None) -> list[Summary]:
        """Rows for the windows that have ended by `now` (all of them when None), forgotten here."""
        with self._lock:
            out, self._ended = self._ended, []
            while self._open:  # the oldest first: stop at the first window still open
                client, w = next(iter(self._open.items()))
                if now is not None and now - w.opened < self.window:
                    break
                del self._open[client]
                if w.more:
                    out.append(self._summary(client, w))
            return out

    @staticmethod
    def _summary(client: str, w: _Window) -> Summary:
        statuses = ", ".join(f"{n} x {s}" for s, n in sorted(w.statuses.items()))
        detail = (
            f"{w.more} more refused anonymous writes from {client} between {w.opened.isoformat()} and "
            f"{w.last.isoformat()} ({statuses}); the last: {w.method} {w.path}"
        )
        status = max(w.statuses, key=lambda s: w.statuses[s])
        return Summary(client, w.more, w.last, w.request_id, w.method, w.path, status, detail)
