"""Refused anonymous writes cannot fill the append-only audit log: 300 of them from one client make
a row for the first of each window and one counting the rest, not 300 rows; members' refused
writes are each recorded."""

from __future__ import annotations

import math
import re
import time

from .helpers import login, make_client

WINDOW_S = 3


def _anonymous(c, auditor) -> list[dict]:
    rows = c.get("/v1/audit/log", params={"outcome": "denied", "limit": 1000}, headers=auditor).json()
    return [r for r in rows if r["actor"] is None]


def _counted(rows: list[dict]) -> int:
    more = [re.match(r"(\d+) more refused anonymous writes from testclient", r["detail"] or "") for r in rows]
    return sum(int(m.group(1)) if m else 1 for m in more)


def test_refused_anonymous_writes_are_counted_not_each_written(deployment, chain_node, tmp_path, members):
    c = make_client(deployment, chain_node, tmp_path, audit_denied_window_s=WINDOW_S)
    auditor = login(c, members["auditor"])
    started = time.monotonic()
    for _ in range(300):
        assert c.post("/v1/products", json={"gtin": "1", "name": "x"}).status_code == 401
    took = time.monotonic() - started
    windows = math.ceil(took / WINDOW_S) + 1
    assert 1 <= len(_anonymous(c, auditor)) <= 2 * windows
    time.sleep(WINDOW_S + 0.5)  # every window has ended: the next audited write writes their counts
    r = c.post("/v1/audit/verify/code", json={"uri": "not a code uri"}, headers=auditor)
    assert r.status_code in (200, 422) and r.headers["x-request-id"]
    rows = _anonymous(c, auditor)
    assert len(rows) <= 2 * windows and _counted(rows) == 300, (took, [r["detail"] for r in rows])
    summary = next(r for r in rows if "more refused" in (r["detail"] or ""))
    assert summary["status"] == 401 and summary["path"] == "/v1/products" and "x 401" in summary["detail"]
    # a member's refused write is its own row
    merchant = login(c, members["merchant_a"])
    for _ in range(3):
        assert c.post("/v1/audit/verify/code", json={"uri": "x" * 20}, headers=merchant).status_code == 403
    mine = c.get("/v1/audit/log", params={"actor": members["merchant_a"].address, "outcome": "denied"},
                 headers=auditor).json()  # fmt: skip
    assert len(mine) == 3


def test_what_the_tally_keeps_per_client_is_bounded():
    """1,000 clients told apart, each with a request line of kilobytes: what is kept of each is cut."""
    from datetime import UTC, datetime, timedelta

    from api.access.audit_tally import MAX_CLIENTS, MAX_PATH, DeniedTally

    tally, now = DeniedTally(window_s=60), datetime.now(UTC)
    for i in range(MAX_CLIENTS + 5):
        for _ in range(2):  # the first opens the window, the second is counted in it
            tally.note(f"10.0.{i // 256}.{i % 256}", now, "r" * 500, "POST", "/v1/" + "p" * 8000, 401)
    rows = tally.ended(now + timedelta(seconds=61))
    assert len(rows) == MAX_CLIENTS + 1  # the clients after the first 1,000 count together as one
    assert all(len(r.path) <= MAX_PATH and len(r.request_id) <= 64 for r in rows)


def test_strangers_signing_in_are_counted_as_anonymous_not_each_written(deployment, chain_node, tmp_path, members):
    """Anyone can make a key and sign a valid sign-in message with it: a non-member's refused sign-in
    named its address as the actor, so each was a row of its own and a caller grew the append-only
    log by one row per request with a fresh key (outside probe)."""
    from eth_account import Account

    from .helpers import sign_in_message

    c = make_client(deployment, chain_node, tmp_path, audit_denied_window_s=60)
    auditor = login(c, members["auditor"])
    strangers = [Account.create() for _ in range(5)]
    for stranger in strangers:
        message, signature = sign_in_message(c, stranger)
        r = c.post("/v1/auth/login", json={"message": message, "signature": signature})
        assert r.status_code == 403 and "not a member" in r.json()["detail"]
    rows = c.get("/v1/audit/log", params={"outcome": "denied", "limit": 1000}, headers=auditor).json()
    named = [r for r in rows if r["actor"] in {s.address for s in strangers}]
    assert not named, [(r["actor"], r["path"]) for r in named]
    assert len([r for r in rows if r["path"] == "/v1/auth/login"]) == 1


def test_one_ipv6_network_is_one_client_of_the_tally(deployment, chain_node, tmp_path, members):
    """The rate limits count an IPv6 client by its /64 (its 2^64 addresses are one subscriber); the
    tally told each address apart, so one subscriber wrote a row per address it sent from, up to
    1,000 a window, into the append-only log (outside probe)."""
    from fastapi.testclient import TestClient

    c = make_client(deployment, chain_node, tmp_path, audit_denied_window_s=60)
    auditor = login(c, members["auditor"])
    for i in range(1, 21):
        other = TestClient(c.app, client=(f"2001:db8:1:2::{i:x}", 50000))
        assert other.post("/v1/products", json={"gtin": "1", "name": "x"}).status_code == 401
    assert len(_anonymous(c, auditor)) == 1


def test_a_body_cut_short_is_no_server_error_and_is_counted(deployment, chain_node, tmp_path, members):
    """A client gone before its whole body came is answered by nobody: the audit layer recorded it
    as a 500 (`error`), a row of its own for each, so anyone grew the log by a connection each and
    made it tell of server errors there were not (outside probe)."""
    import socket

    import httpx

    from .helpers import login_over_http, served_on_chain

    with served_on_chain(deployment, chain_node, tmp_path) as url:
        port = int(url.rsplit(":", 1)[1])
        for _ in range(10):
            with socket.create_connection(("127.0.0.1", port)) as s:
                s.sendall(b"POST /v1/auth/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                          b"Content-Length: 200\r\n\r\n{\"mes")  # fmt: skip
                time.sleep(0.05)
        time.sleep(0.5)
        auditor = login_over_http(url, members["auditor"])
        rows = httpx.get(url + "/v1/audit/log", params={"limit": 1000}, headers=auditor).json()
    cut = [r for r in rows if r["actor"] is None and r["path"] == "/v1/auth/login"]
    assert len(cut) == 1 and cut[0]["status"] == 499 and cut[0]["outcome"] == "rejected", cut
