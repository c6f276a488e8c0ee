"""Connections an anonymous client may hold: uvicorn's HTTP protocol with a deadline for a
request's headers and a cap on one client's open connections, per worker process.

uvicorn waits for a request's headers for ever: from outside, three addresses holding 43,500
connections that never finished a request (a slow loris) left no connection for anyone, `/livez`
included, for as long as they held them. Here a connection whose request headers are not complete
`LEDGER_HEADER_TIMEOUT_S` after it opened (or after its last answer) is closed (with a 408 if part of
a request came: a browser's idle connection, opened ahead of need, is closed silently, which the
browser takes as a reason to send its request on a new one, where a 408 would reach the page), and a
client (an IPv4 address, an IPv6 /64) past `LEDGER_MAX_CONNECTIONS_PER_CLIENT` open connections
gets a 503 and is closed at once; a proxy named in `LEDGER_TRUSTED_PROXIES` is not capped (it
speaks for many clients and limits them itself). A request being answered is never timed out
here, and a keep-alive connection idle after an answer is still closed by uvicorn's own timeout.
Served by `api.serve` (`--http api.middleware.connections:GuardedHttpProtocol` for a bare uvicorn).
"""

from __future__ import annotations

import functools
import ipaddress
from collections import Counter
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from ledger.config import env

_OPEN: Counter[str] = Counter()  # open connections per client, in this process


def client_key(host: str) -> str:
    """The unit a client is capped by: its IPv4 address, or its IPv6 /64 (one subscriber's)."""
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        return host  # a Unix socket's peer, say
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.ip_network(f"{host}/64", strict=False))
    return str(ip)


@functools.cache
def _limits() -> tuple[float, int, frozenset[str]]:
    """The header deadline, the cap and the trusted proxies: read once per process, not per connection."""
    s = env()
    return (
        s.header_timeout_s,
        s.max_connections_per_client,
        frozenset(filter(None, map(str.strip, s.trusted_proxies.split(",")))),
    )


def _answer(status: bytes) -> bytes:
    return b"HTTP/1.1 " + status + b"\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"


class GuardedHttpProtocol(HttpToolsProtocol):
    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self._deadline_s, self._cap, self._trusted = _limits()
        self._key: str | None = None
        self._header_timer: Any = None
        self._begun = False  # bytes of a request came since the timer was armed

    def connection_made(self, transport: Any) -> None:  # type: ignore[override]
        super().connection_made(transport)
        host = self.client[0] if self.client else ""
        if host not in self._trusted:
            key = client_key(host)
            if _OPEN[key] >= self._cap:
                transport.write(_answer(b"503 Service Unavailable"))
                transport.close()
                return
            self._key = key
            _OPEN[key] += 1
        self._arm()

    def connection_lost(self, exc: Exception | None) -> None:
        self._release()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        self._begun = True
        super().data_received(data)

    def on_headers_complete(self) -> None:
        self._disarm()
        super().on_headers_complete()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        if not self.transport.is_closing() and not self.pipeline:  # waiting for the next request's headers
            self._arm()

    def handle_websocket_upgrade(self) -> None:
        self._release()  # the WebSocket protocol takes the connection over; this one hears no more of it
        super().handle_websocket_upgrade()

    def _arm(self) -> None:
        self._disarm()
        self._begun = False
        if self._deadline_s > 0:
            self._header_timer = self.loop.call_later(self._deadline_s, self._headers_late)

    def _disarm(self) -> None:
        if self._header_timer is not None:
            self._header_timer.cancel()
            self._header_timer = None

    def _release(self) -> None:
        self._disarm()
        if self._key is not None:
            _OPEN[self._key] -= 1
            if _OPEN[self._key] <= 0:
                del _OPEN[self._key]
            self._key = None

    def _headers_late(self) -> None:
        self._header_timer = None
        if not self.transport.is_closing():
            if self._begun:
                self.transport.write(_answer(b"408 Request Timeout"))
            self.transport.close()
