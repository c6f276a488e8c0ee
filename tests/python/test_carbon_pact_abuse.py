"""What a PACT client may not make us do with RequestCreatedEvents: criteria past ListFootprints'
bounds (a list the database cannot take kept the request pending and retried every round, for
ever), requests piled up without end at one partner (each an outbound token fetch and answer),
one request answered twice because its source was written two ways, and a partner answering a byte
at a time holding every other member's answers."""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from types import SimpleNamespace

from ledger.trace.epcis.binding import webhooks

from .test_carbon_pact_replies import _register, _request, _state, _wait, partner, world

__all__ = ["world"]


def test_criteria_lists_and_values_are_bounded_as_list_footprints_bounds_them(world):
    with partner() as p:
        _register(world, p)
        many = [f"urn:pact:x:{i}" for i in range(101)]
        r = _request(world, p.url, "abuse-1", {"productId": many})
        assert r.status_code == 400 and r.json()["code"] == "BadRequest" and "100" in r.json()["message"], r.text
        r = _request(world, p.url, "abuse-2", {"geography": ["CN"] * 5 + ["x" * 1001]})
        assert r.status_code == 400 and r.json()["code"] == "BadRequest", r.text
        assert _state(world, "abuse-1") is None and _state(world, "abuse-2") is None
        # within the bounds: kept and answered
        assert _request(world, p.url, "abuse-3", {"productId": many[:100]}).status_code == 200
        _wait(lambda: (s := _state(world, "abuse-3")) and s["status"] == "rejected")


def test_requests_waiting_at_one_partner_are_bounded(world):
    with partner(started=False) as p:  # down: its requests wait
        _register(world, p)
        for i in range(100):
            r = _request(world, p.url, f"pile-{i}", {"productId": ["urn:pact:null"]})
            assert r.status_code == 200, (i, r.text)
        r = _request(world, p.url, "pile-100", {"productId": ["urn:pact:null"]})
        assert r.status_code == 429 and r.json()["code"] == "TooManyRequests", r.text
        assert "Retry-After" in r.headers
        assert _state(world, "pile-100") is None
        # a repeat of a kept request is still accepted (nothing new kept)
        assert _request(world, p.url, "pile-7", {"productId": ["urn:pact:null"]}).status_code == 200


def test_one_request_is_kept_once_whichever_way_its_source_is_written(world):
    with partner() as p:
        _register(world, p)
        assert _request(world, p.url, "twice-1", {"productId": ["urn:pact:null"]}).status_code == 200
        assert _request(world, p.url + "/", "twice-1", {"productId": ["urn:pact:null"]}).status_code == 200
        _wait(lambda: (s := _state(world, "twice-1")) and s["status"] == "rejected")
        time.sleep(0.5)  # ten rounds of the loop
        listed = world["c"].get("/v1/carbon/requests", headers=world["h"]).json()
        rows = [r for r in listed if r["eventId"] == "twice-1"]
        assert len(rows) == 1 and len(p.events) == 1, (rows, p.events)


class Trickler:
    """A partner that answers a byte at a time, each just within the timeout, for ever."""

    def __init__(self):
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}"
        self.stop = threading.Event()
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self):
        self.sock.settimeout(0.2)
        while not self.stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                continue
            threading.Thread(target=self._trickle, args=(conn,), daemon=True).start()

    def _trickle(self, conn):
        with contextlib.suppress(OSError), conn:
            conn.sendall(b"HTTP/1.1 200 OK\r\nX-Slow: ")
            while not self.stop.wait(0.5):
                conn.sendall(b"a")

    def close(self):
        self.stop.set()
        self.sock.close()


def test_a_partner_answering_a_byte_at_a_time_does_not_hold_the_others(world, monkeypatch):
    monkeypatch.setattr(webhooks, "TIMEOUT_S", 1.0)  # a byte every half second is within it
    slow = Trickler()
    try:
        with partner() as p:
            _register(world, slow)
            _register(world, p)
            assert _request(world, slow.url, "slow-1", {"productId": ["urn:pact:null"]}).status_code == 200
            time.sleep(0.3)  # the slow one's try has begun
            assert _request(world, p.url, "fast-1", {"productId": ["urn:pact:null"]}).status_code == 200
            _wait(lambda: (s := _state(world, "fast-1")) and s["status"] == "rejected", 20)
            state = _wait(lambda: (s := _state(world, "slow-1")) and s["attempts"] >= 1 and s, 20)
            assert state["status"] == "pending" and state["lastError"]
    finally:
        slow.close()


def test_a_partner_down_with_many_requests_does_not_starve_a_new_one(world):
    """Requests were tried oldest first, 50 a round: a hundred waiting at a partner that is down,
    coming due again one after another, kept a new request of another partner untried."""
    with partner(started=False) as down, partner() as p:
        _register(world, down)
        _register(world, p)
        for i in range(100):
            assert _request(world, down.url, f"starve-{i}", {"productId": ["urn:pact:null"]}).status_code == 200
        time.sleep(1)  # their tries under way, backing off
        assert _request(world, p.url, "starve-new", {"productId": ["urn:pact:null"]}).status_code == 200
        _wait(lambda: (s := _state(world, "starve-new")) and s["status"] == "rejected", 30)  # slack: a slow machine


def test_a_partner_that_swallows_connections_costs_one_try_a_round(world, monkeypatch):
    """A partner whose host takes connections and never answers: each try waited its whole timeout,
    and a round tried every request of it before anyone else's; now one failed try a round per partner."""
    monkeypatch.setattr(webhooks, "TIMEOUT_S", 1.0)
    silent = socket.create_server(("127.0.0.1", 0), backlog=64)  # listening, never accepting: no answer
    mute = f"http://127.0.0.1:{silent.getsockname()[1]}"
    try:
        with partner() as p:
            _register(world, SimpleNamespace(url=mute))
            _register(world, p)
            for i in range(20):
                assert _request(world, mute, f"mute-{i}", {"productId": ["urn:pact:null"]}).status_code == 200
            time.sleep(0.5)  # a round with them under way
            began = time.monotonic()
            assert _request(world, p.url, "heard-1", {"productId": ["urn:pact:null"]}).status_code == 200
            _wait(lambda: (s := _state(world, "heard-1")) and s["status"] == "rejected", 30)
            assert time.monotonic() - began < 15  # not 20 tries of a second or more before it
    finally:
        silent.close()
