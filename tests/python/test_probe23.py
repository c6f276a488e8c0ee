"""Outside probes of a carrier's delivery evidence (`ledger.money.orders.delivery_evidence`) through
the API on anvil: the one-confirmation rule under concurrent confirmations, and the time rule
against an event dated after it was captured."""

from __future__ import annotations

import itertools
import threading
import time
from datetime import UTC, datetime, timedelta, timezone

import pytest

from ledger.money.orders import settlement
from ledger.trace.epcis.samples import delivery_document

from .helpers import orders_client

_ids = itertools.count(1)


@pytest.fixture(scope="module")
def api(deployment, chain_node, tmp_path_factory, members):
    who = ("platform", "merchant_a", "logistics")
    return orders_client(deployment, chain_node, tmp_path_factory.mktemp("probe23"), members, who)


def escrow(c, h, members) -> str:
    order_id = f"PB{int(time.time() * 1000)}{next(_ids)}"
    body = {"order_id": order_id, "merchant": members["merchant_a"].address, "amount_fen": 10_000, "referrers": [],
            "carrier": members["logistics"].address}  # fmt: skip
    r = c.post("/v1/orders", json=body, headers={**h["platform"], "Idempotency-Key": order_id})
    assert r.status_code == 201, r.text
    return order_id


def _captured(c, h, doc: dict) -> str:
    r = c.post("/v1/epcis/capture", json=doc, headers=h["logistics"])
    assert r.status_code == 201, r.text
    return r.json()["events"][0]["hashId"]


def _deliver(c, h, order_ids: list[str], hid: str):
    deliveries = [{"order_id": o, "epcis_event": hid} for o in order_ids]
    return c.post("/v1/orders/deliveries", json={"deliveries": deliveries}, headers=h["logistics"])


def _status(c, h, order_id: str) -> str:
    return c.get(f"/v1/orders/{order_id}", headers=h["platform"]).json()["status"]


def test_two_confirmations_at_once_naming_one_unnamed_event_deliver_one_order(api, members, monkeypatch):
    """An event naming no order backs the orders of one confirmation only. Two confirmations of
    different orders naming it at once both passed the check (neither had written its delivery
    yet) and both were sent: the one hand-over delivered both orders. The second waits for the
    first and is a 409, nothing sent."""
    c, h, _ = api
    first, second = escrow(c, h, members), escrow(c, h, members)
    hid = _captured(c, h, delivery_document([("desadv", "DESADV-RACE")], "RACE1"))
    sending, sent = threading.Event(), []
    send = settlement.confirm_deliveries

    def slow(dep, carrier, terms, hashes):
        sent.append([t.key for t in terms])
        sending.set()
        time.sleep(2)  # the first confirmation's transaction on its way: the second arrives meanwhile
        return send(dep, carrier, terms, hashes)

    monkeypatch.setattr(settlement, "confirm_deliveries", slow)
    answers = {}
    t = threading.Thread(target=lambda: answers.update(first=_deliver(c, h, [first], hid)))
    t.start()
    assert sending.wait(60)
    answers["second"] = _deliver(c, h, [second], hid)
    t.join(120)
    assert answers["first"].status_code == 200, answers["first"].text
    assert answers["second"].status_code == 409, answers["second"].text
    assert "already backs the delivery" in answers["second"].json()["detail"]
    assert len(sent) == 1, "the refused confirmation sent a transaction"
    assert (_status(c, h, first), _status(c, h, second)) == ("delivered", "escrowed")


def test_an_event_dated_after_it_was_captured_is_no_evidence(api, members):
    """The time rule keeps an event from before the order from showing its delivery; an event
    captured before the order but dated in the future (a year ahead) passed it: a carrier could keep
    such 'hand-overs' captured in advance and name one for each order it is later given. An event
    dated more than the clock skew after it was captured records no delivery that had happened: 422."""
    c, h, _ = api
    ahead = (datetime.now(UTC) + timedelta(days=365)).replace(microsecond=0).isoformat()
    early = _captured(c, h, delivery_document([("desadv", "DESADV-AHEAD")], "AHEAD1", when=ahead))
    order_id = escrow(c, h, members)  # placed after the event was captured
    offered = [e["hash_id"] for e in c.get("/v1/deliveries/waiting", headers=h["logistics"]).json()]
    assert early not in offered, offered
    r = _deliver(c, h, [order_id], early)
    assert r.status_code == 422 and "after it was captured" in r.json()["detail"], r.text
    assert _status(c, h, order_id) == "escrowed"
    # a device clock a few minutes ahead of ours still delivers
    soon = (datetime.now(UTC) + timedelta(minutes=5)).replace(microsecond=0).isoformat()
    fine = _captured(c, h, delivery_document([("desadv", "DESADV-SOON")], "SOON1", when=soon))
    assert fine in [e["hash_id"] for e in c.get("/v1/deliveries/waiting", headers=h["logistics"]).json()]
    r = _deliver(c, h, [order_id], fine)
    assert r.status_code == 200, r.text


def test_odd_offsets_name_the_same_moment(api, members):
    """An event's time is compared in UTC whatever offset it was written with: an hour ago written
    at +14:00 (its digits ahead of now) is older than the order; now written at -12:00 (its digits
    half a day behind) delivers."""
    c, h, _ = api
    order_id = escrow(c, h, members)
    now = datetime.now(UTC).replace(microsecond=0)
    east = (now - timedelta(hours=1)).astimezone(timezone(timedelta(hours=14))).isoformat()
    old = _captured(c, h, delivery_document([("desadv", "DESADV-EAST")], "EAST1", when=east))
    assert _deliver(c, h, [order_id], old).status_code == 422
    west = now.astimezone(timezone(timedelta(hours=-12))).isoformat()
    ok = _captured(c, h, delivery_document([("desadv", "DESADV-WEST")], "WEST1", when=west))
    r = _deliver(c, h, [order_id], ok)
    assert r.status_code == 200, r.text


def test_a_capture_delivers_an_order_with_the_event_that_shows_it(api, members):
    """A carrier's capture may carry two delivery events naming one order: a receiving event from
    an hour before the order (an earlier hand-over), then this delivery's accepting event. The
    order was paired with the first event only, reported failed and left escrowed, though the
    capture holds the event that shows its delivery."""
    c, h, _ = api
    order_id = escrow(c, h, members)
    an_hour_ago = (datetime.now(UTC) - timedelta(hours=1)).replace(microsecond=0).isoformat()
    doc = delivery_document([("po", order_id)], "PAIR1", when=an_hour_ago)
    doc["epcisBody"]["eventList"].append(
        delivery_document([("po", order_id)], "PAIR2", "accepting")["epcisBody"]["eventList"][0]
    )
    r = c.post("/v1/epcis/capture", json=doc, headers=h["logistics"])
    assert r.status_code == 201, r.text
    shows = r.json()["events"][1]["hashId"]
    assert r.json()["deliveries"] == [{"order_id": order_id, "hashId": shows, "status": "delivered"}], r.text
    assert _status(c, h, order_id) == "delivered"


def test_an_event_backing_an_order_it_does_not_name_backs_no_order_it_names_later(api, members):
    """An event naming an order id that is not ours yet names no order: it backed the delivery of
    the carrier's order. Once an order of that id was placed, the event named it, and delivered it
    too: one event backed two confirmations (a carrier guessing the platform's next order ids could
    name them in advance). An event already backing the delivery of an order it does not name is a
    409 for any other order, named or not."""
    c, h, _ = api
    held_now = escrow(c, h, members)
    guessed = held_now + "-NEXT"
    hid = _captured(c, h, delivery_document([("po", guessed)], "GUESS1"))
    assert _deliver(c, h, [held_now], hid).status_code == 200
    body = {"order_id": guessed, "merchant": members["merchant_a"].address, "amount_fen": 10_000, "referrers": [],
            "carrier": members["logistics"].address}  # fmt: skip
    assert c.post("/v1/orders", json=body, headers={**h["platform"], "Idempotency-Key": guessed}).status_code == 201
    r = _deliver(c, h, [guessed], hid)
    assert r.status_code == 409 and "already backs the delivery" in r.json()["detail"], r.text
    assert _status(c, h, guessed) == "escrowed"
