"""What a PACT client may not make us do with RequestCreatedEvents: criteria past ListFootprints'
bounds (a list the database cannot take kept the request pending and retried every round, for
ever), requests piled up without end at one partner (each an outbound token fetch and answer),
and one request answered twice because its source was written two ways."""

from __future__ import annotations

import time

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
