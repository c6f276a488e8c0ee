"""The public rate limit counts clients an attacker cannot mint in bulk: an IPv6 client is its /64
(one subscriber's allocation: 2^64 addresses are one budget, not 2^64), and the count of
distinct clients held in a window is bounded, the newcomers beyond it sharing one budget."""

from __future__ import annotations

import time

from fastapi.testclient import TestClient

from api.core.errors import ApiError
from api.core.limits import MemoryRateLimiter

from .helpers import make_client


def _status(app, host: str) -> int:
    return TestClient(app, client=(host, 40_000)).get("/v1/auth/nonce").status_code


def test_an_ipv6_subnet_is_one_client_and_ipv4_addresses_stay_apart(deployment, chain_node, tmp_path):
    app = make_client(deployment, chain_node, tmp_path, public_rate=3, public_window_s=3600).app
    # five addresses of one /64 (a subscriber rotating its interface id): one budget of three
    assert [_status(app, f"2001:db8:7:1::{i:x}") for i in range(1, 6)] == [200, 200, 200, 429, 429]
    assert _status(app, "2001:db8:7:1:ffff:ffff:ffff:ffff") == 429
    assert _status(app, "2001:db8:7:2::1") == 200  # the next /64 is someone else
    assert _status(app, "::ffff:198.51.100.7") == 200  # an IPv4-mapped address is its IPv4 address
    assert [_status(app, "198.51.100.7") for _ in range(3)] == [200, 200, 429]
    assert _status(app, "198.51.100.8") == 200


def _hit(limiter: MemoryRateLimiter, client: str) -> int:
    try:
        limiter.hit(client)
        return 200
    except ApiError as exc:
        return exc.status


def test_a_flood_of_new_clients_shares_one_budget_and_holds_no_more(monkeypatch):
    limiter = MemoryRateLimiter(limit=2, window_s=3600)
    monkeypatch.setattr(limiter, "max_clients", 50)
    assert [_hit(limiter, f"10.0.{i // 256}.{i % 256}") for i in range(50)] == [200] * 50
    # the table is full: every newcomer counts in one shared budget of two, whatever its address
    assert [_hit(limiter, f"10.1.{i // 256}.{i % 256}") for i in range(1_000)] == [200, 200] + [429] * 998
    assert [_hit(limiter, "10.0.0.7") for _ in range(2)] == [200, 429]  # known clients keep their own
    started = time.perf_counter()
    for i in range(20_000):  # each hit is constant work, however many clients were refused
        _hit(limiter, f"10.2.{i // 256}.{i % 256}")
    assert time.perf_counter() - started < 5.0
