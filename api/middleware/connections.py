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

A request's head (request line and headers) is bounded too: uvicorn set no limit, and one request of
100 MiB of tiny headers held a worker for 5 s and 1.6 GB (13 million header objects). Past
`MAX_HEAD_BYTES` of head, or `MAX_HEADERS` headers, the request is answered 431 and the connection
closed. A WebSocket keeps its client's slot for as long as it is open (it used to give it back at
the upgrade: one client held 4,207 sockets in one worker against a cap of 256).
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
MAX_HEAD_BYTES = 64 * 1024  # nginx's default is 4 x 8 KiB; a browser's head is 1-2 KiB
MAX_HEADERS = 100


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


def _drop(key: str) -> None:
    _OPEN[key] -= 1
    if _OPEN[key] <= 0:
        del _OPEN[key]


class _HeadTooLarge(Exception):
    """Raised from the parser's header callback: the parser stops, uvicorn answers 400 (made a 431)."""


class GuardedHttpProtocol(HttpToolsProtocol):
    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self._deadline_s, self._cap, self._trusted = _limits()
        self._key: str | None = None
        self._header_timer: Any = None
        self._begun = False  # bytes of a request came since the timer was armed
        self._in_head = True  # between requests, or inside one's request line and headers
        self._head_bytes = 0  # bytes received while in a head (chunks: a head arriving in pieces)
        self._parsed = 0  # the head's size as parsed (a head that came whole in one chunk)
        self._headers = 0
        self._too_large = False

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
        counting = self._in_head  # a chunk that began in a body is not counted (at most one chunk less)
        super().data_received(data)
        if counting and self._in_head and not self.transport.is_closing():
            self._head_bytes += len(data)
            if self._head_bytes > MAX_HEAD_BYTES:
                self._too_large = True
                self.send_400_response("")

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._in_head, self._headers, self._parsed = True, 0, 0

    def on_url(self, url: bytes) -> None:
        self._parsed += len(url)
        super().on_url(url)

    def on_header(self, name: bytes, value: bytes) -> None:
        self._headers += 1
        self._parsed += len(name) + len(value) + 4
        if self._headers > MAX_HEADERS or self._parsed > MAX_HEAD_BYTES:
            self._too_large = True
            raise _HeadTooLarge
        super().on_header(name, value)

    def on_headers_complete(self) -> None:
        if self._parsed > MAX_HEAD_BYTES:  # a long URL alone: refused before the request begins
            self._too_large = True
            raise _HeadTooLarge
        self._disarm()
        self._in_head, self._head_bytes = False, 0
        super().on_headers_complete()

    def send_400_response(self, msg: str) -> None:
        if not self._too_large:
            super().send_400_response(msg)
            return
        self.transport.write(_answer(b"431 Request Header Fields Too Large"))
        self.transport.close()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        if not self.transport.is_closing() and not self.pipeline:  # waiting for the next request's headers
            self._arm()

    def handle_websocket_upgrade(self) -> None:
        # the WebSocket protocol takes the connection over (this one hears no more of it), and the
        # client's slot with it, given back when the socket closes (`hold_slot`)
        key, self._key = self._key, None
        self._disarm()
        super().handle_websocket_upgrade()
        if key is not None:
            hold = getattr(self.transport.get_protocol(), "hold_slot", None)
            if hold is None:
                _drop(key)
            else:
                hold(lambda: _drop(key))

    def _arm(self) -> None:
        self._disarm()
        self._begun, self._in_head, self._head_bytes = False, True, 0
        if self._deadline_s > 0:
            self._header_timer = self.loop.call_later(self._deadline_s, self._headers_late)

    def _disarm(self) -> None:
        if self._header_timer is not None:
            self._header_timer.cancel()
            self._header_timer = None

    def _release(self) -> None:
        self._disarm()
        if self._key is not None:
            _drop(self._key)
            self._key = None

    def _headers_late(self) -> None:
        self._header_timer = None
        if not self.transport.is_closing():
            if self._begun:
                self.transport.write(_answer(b"408 Request Timeout"))
            self.transport.close()
