"""Where a webhook may go, and sending to it there.

A destination is parsed once, by the parser of the HTTP client that connects (urllib3's
`parse_url`), so the host that is checked is the host that is called. It is refused when it
carries user information or a backslash (read differently by different parsers), when its port
or host does not parse, and, unless the deployment allows private receivers
(LEDGER_WEBHOOK_ALLOW_PRIVATE, for development and tests only), when any address its host
resolves to is not a public unicast address: private, loopback, link-local, unspecified,
multicast, reserved, shared (100.64.0.0/10) and every IPv6 form that embeds an IPv4 address
(IPv4-mapped and -compatible, NAT64, 6to4, Teredo). The check is made again at each delivery,
and the delivery connects to the very address checked (a name that resolved to a public address
at registration and to a private one later is not called)."""

from __future__ import annotations

import contextlib
import http.client
import ipaddress
import socket
import threading
from typing import Any

import certifi
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.exceptions import LocationParseError, NewConnectionError, ProtocolError
from urllib3.util import Url, parse_url

from ledger.errors import InvalidInput

EMBEDDING = [ipaddress.ip_network(n) for n in (
    "100.64.0.0/10",  # shared address space (carrier-grade NAT)
    "::/96",  # IPv4-compatible
    "::ffff:0:0/96",  # IPv4-mapped
    "::ffff:0:0:0/96",  # IPv4-translated (SIIT)
    "64:ff9b::/96",  # NAT64
    "64:ff9b:1::/48",  # local-use NAT64
    "2002::/16",  # 6to4
    "2001::/32",  # Teredo
)]  # fmt: skip
DEADLINES = 3  # an exchange is over within this many timeouts (connect, send, the answer's head and body)
FAILED = "no 2xx answer from the destination"  # one text for every failure: it reveals no port's state
# one text whether the host does not resolve or resolves to an address we do not call, naming no
# address: the API is no oracle of the DNS it sees (an attacker's name may alias an internal one)
NOT_PUBLIC = "its host does not resolve to public addresses only; webhooks go to public hosts"


class Refused(Exception):
    """The destination's host resolves to an address webhooks may not call."""


def public(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    """A public unicast address, not one embedding another."""
    if not ip.is_global or ip.is_multicast or ip.is_reserved or ip.is_link_local or ip.is_unspecified:
        return False
    if ip.is_loopback or ip.is_private or getattr(ip, "is_site_local", False):
        return False
    return not any(ip.version == n.version and ip in n for n in EMBEDDING)


def parse(dest: Any) -> Url:
    """The destination as the connecting client reads it; InvalidInput if it is not one we call."""
    if not isinstance(dest, str) or len(dest) > 2000:
        raise InvalidInput("dest: an http or https URL of at most 2000 characters")
    if "\\" in dest or any(c.isspace() or ord(c) < 32 for c in dest):
        raise InvalidInput("dest: no backslashes, spaces or control characters")
    try:
        url = parse_url(dest)
    except (LocationParseError, ValueError):
        raise InvalidInput("dest: not a URL (its host or port does not parse)") from None
    if url.scheme not in ("http", "https") or not url.host:
        raise InvalidInput("dest: an http or https URL with a host")
    if url.auth is not None:
        raise InvalidInput("dest: no user information in the URL (deliveries are signed with the secret)")
    if url.port is not None and not 0 < url.port < 65536:
        raise InvalidInput("dest: a port from 1 to 65535")
    return url


def port_of(url: Url) -> int:
    return url.port or (443 if url.scheme == "https" else 80)


def addresses(url: Url, allow_private: bool) -> list[str]:
    """Every address the host resolves to, each checked; Refused (one text, NOT_PUBLIC) if one may
    not be called or the host does not resolve."""
    host = url.host.strip("[]")
    try:
        found = [a[4][0] for a in socket.getaddrinfo(host, port_of(url), type=socket.SOCK_STREAM)]
    except (OSError, UnicodeError):  # (a host IDNA cannot encode is a UnicodeError)
        found = []
    if not found:
        raise Refused(NOT_PUBLIC)
    if not allow_private:
        for a in found:
            if not public(ipaddress.ip_address(a.split("%")[0])):
                raise Refused(NOT_PUBLIC)
    return found


def check(dest: Any, allow_private: bool) -> str:
    """A webhook URL we may call (at registration; where private receivers are allowed, its host
    is not looked up until a delivery)."""
    url = parse(dest)
    if allow_private:
        return dest
    try:
        addresses(url, allow_private)
    except Refused:
        raise InvalidInput(f"dest: {NOT_PUBLIC}") from None
    return dest


def post(dest: str, body: bytes, headers: dict[str, str], allow_private: bool, timeout_s: float) -> int:
    """POST to a checked address of `dest` (the next one if one refuses the connection; no redirects
    followed: a redirect is not a delivery); the answer's status. Refused (the host resolves to no
    address we call), OSError or urllib3's HTTPError otherwise."""
    return exchange(dest, body, headers, allow_private, timeout_s)[0]


def exchange(
    dest: str, body: bytes, headers: dict[str, str], allow_private: bool, timeout_s: float, read: int = 0
) -> tuple[int, bytes]:
    """`post`, keeping the first `read` bytes of the answer's body too (a token endpoint's answer)."""
    url = parse(dest)
    refused: Exception = OSError(f"{url.host}: no address answered")
    for ip in addresses(url, allow_private):
        try:
            return _post_to(ip.split("%")[0], url, body, headers, timeout_s, read)
        except NewConnectionError as exc:
            refused = exc
    raise refused


def _post_to(ip: str, url: Url, body: bytes, headers: dict[str, str], timeout_s: float, read: int) -> tuple[int, bytes]:
    """One exchange with `ip`, over within DEADLINES times `timeout_s` whatever the other side does: the
    timeout bounds each wait for a byte, so an answer trickled a byte at a time held the loop (every
    member's deliveries) for hours; at the deadline the socket is shut and the try fails."""
    name = url.host.strip("[]")
    if url.scheme == "https":
        conn: HTTPConnection = HTTPSConnection(
            ip, port_of(url), timeout=timeout_s, server_hostname=name, assert_hostname=name,
            cert_reqs="CERT_REQUIRED", ca_certs=certifi.where(),
        )  # fmt: skip
    else:
        conn = HTTPConnection(ip, port_of(url), timeout=timeout_s)
    host = url.host if url.port is None else f"{url.host}:{url.port}"
    cut = threading.Timer(DEADLINES * timeout_s, _cut, (conn,))
    cut.daemon = True
    cut.start()
    try:  # no redirect is followed: a connection answers once, and its Location is not read
        conn.request("POST", url.request_uri, body=body, headers=headers | {"Host": host}, preload_content=False)
        answer = conn.getresponse()
        data = answer.read(read) if read else b""  # at most `read` bytes: an answer cannot flood us
        return answer.status, data
    except http.client.HTTPException as exc:  # a malformed or cut answer, as urllib3's pool reports it
        raise ProtocolError(type(exc).__name__) from None
    finally:
        cut.cancel()
        conn.close()


def _cut(conn: HTTPConnection) -> None:
    sock = conn.sock
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)
