"""Probes of a carrier's delivery evidence (`ledger.money.orders.deliveries`) through the API on anvil:
the hash ID's spellings and captures carrying error declarations."""

from __future__ import annotations

import itertools
import time
from datetime import UTC, datetime, timedelta

import pytest
from eth_account import Account

from ledger.trace.epcis.samples import delivery_document

from .helpers import login, make_client, orders_client

_ids = itertools.count(1)


@pytest.fixture(scope="module")
def api(deployment, chain_node, tmp_path_factory, members):
    who = ("platform", "merchant_a", "producer", "logistics")
    return orders_client(deployment, chain_node, tmp_path_factory.mktemp("evidence"), members, who)


def escrow(c, h, members, carrier: str | None = "logistics") -> str:
    order_id = f"EV{int(time.time() * 1000)}{next(_ids)}"
    body = {"order_id": order_id, "merchant": members["merchant_a"].address, "amount_fen": 10_000, "referrers": []}
    if carrier:
        body["carrier"] = members[carrier].address
    r = c.post("/v1/orders", json=body, headers={**h["platform"], "Idempotency-Key": order_id})
    assert r.status_code == 201, r.text
    return order_id


def test_a_delivery_records_the_events_hash_id_however_the_carrier_spelled_it(api, members):
    """`0x` and upper-case hex name the same event: the order records its hash ID as stored, so the
    carrier's waiting list no longer offers the event and a cold-chain alarm on its lot finds the order."""
    c, h, _ = api
    order_id = escrow(c, h, members)
    doc = delivery_document([("desadv", "DESADV-SPELL")], "SPELL1")
    hid = c.post("/v1/epcis/capture", json=doc, headers=h["logistics"]).json()["events"][0]["hashId"]
    assert hid in [e["hash_id"] for e in c.get("/v1/deliveries/waiting", headers=h["logistics"]).json()]
    spelled = "0x" + hid.split(";")[1].split("?")[0].upper()
    r = c.post(
        "/v1/orders/deliveries",
        json={"deliveries": [{"order_id": order_id, "epcis_event": spelled}]},
        headers=h["logistics"],
    )
    assert r.status_code == 200, r.text
    assert r.json()[0]["delivery_event"] == hid
    assert c.get(f"/v1/orders/{order_id}", headers=h["logistics"]).json()["delivery_event"] == hid
    assert hid not in [e["hash_id"] for e in c.get("/v1/deliveries/waiting", headers=h["logistics"]).json()]


def test_a_capture_correcting_a_delivery_event_delivers_with_the_corrective_one(api, members):
    """EPCIS 2.0 7.4.1.2: a capture may carry an erroneous event's declaration and its corrective
    event together. The declared event is no delivery's evidence; the corrective one delivers."""
    c, h, _ = api
    order_id = escrow(c, h, members)
    doc = delivery_document([("po", order_id)], "WRONG2")
    wrong = doc["epcisBody"]["eventList"][0]
    wrong["errorDeclaration"] = {"declarationTime": "2026-12-01T11:00:00+08:00", "reason": "incorrect_data"}
    right = delivery_document([("po", order_id)], "RIGHT2")
    doc["epcisBody"]["eventList"].append(right["epcisBody"]["eventList"][0])
    r = c.post("/v1/epcis/capture", json=doc, headers=h["logistics"])
    assert r.status_code == 201, r.text
    corrective = r.json()["events"][1]["hashId"]
    assert r.json()["deliveries"] == [{"order_id": order_id, "hashId": corrective, "status": "delivered"}], r.text


def test_a_capture_naming_its_delivery_event_twice_delivers_the_order(api, members):
    """A document may list an event twice (it is stored once): the carrier's capture was a 500, its
    events stored and its order left undelivered."""
    c, h, _ = api
    order_id = escrow(c, h, members)
    doc = delivery_document([("desadv", "DESADV-TWICE")], "TWICE0")
    doc["epcisBody"]["eventList"].insert(
        0, delivery_document([("po", order_id)], "TWICE1")["epcisBody"]["eventList"][0]
    )
    doc["epcisBody"]["eventList"].append(doc["epcisBody"]["eventList"][0])
    r = c.post("/v1/epcis/capture", json=doc, headers=h["logistics"])
    assert r.status_code == 201, r.text
    hid = r.json()["events"][0]["hashId"]
    assert r.json()["deliveries"] == [{"order_id": order_id, "hashId": hid, "status": "delivered"}], r.text
    # the EPCIS 2.0 binding's door, the same: accepted, and the order it names delivered
    other = escrow(c, h, members)
    doc = delivery_document([("po", other)], "TWICE2")
    doc["epcisBody"]["eventList"].append(doc["epcisBody"]["eventList"][0])
    r = c.post("/epcis/capture", json=doc, headers=h["logistics"])
    assert r.status_code == 202, r.text
    assert c.get(f"/v1/orders/{other}", headers=h["logistics"]).json()["status"] == "delivered"


def test_the_waiting_list_offers_only_events_a_delivery_may_name(api, members):
    """The carrier's console picks a delivery's event from `GET /v1/deliveries/waiting`: an event
    its recorder declared erroneous, or one naming only orders of ours that are not the carrier's
    open orders, is refused as evidence (422), so it is not offered."""
    c, h, _ = api
    escrow(c, h, members)  # an open order of the carrier: it has a waiting list
    no_carrier = escrow(c, h, members, carrier=None)
    wrong = delivery_document([("desadv", "DESADV-DECL")], "DECL1")
    wrong["epcisBody"]["eventList"][0]["errorDeclaration"] = {
        "declarationTime": "2026-12-01T11:00:00+08:00",
        "reason": "incorrect_data",
    }
    declared = c.post("/v1/epcis/capture", json=wrong, headers=h["logistics"]).json()["events"][0]["hashId"]
    doc = delivery_document([("po", no_carrier)], "NOCAR1")
    not_mine = c.post("/v1/epcis/capture", json=doc, headers=h["logistics"]).json()["events"][0]["hashId"]
    usable = c.post(
        "/v1/epcis/capture", json=delivery_document([("desadv", "DESADV-OK")], "OK1"), headers=h["logistics"]
    ).json()["events"][0]["hashId"]
    offered = [e["hash_id"] for e in c.get("/v1/deliveries/waiting", headers=h["logistics"]).json()]
    assert usable in offered
    assert declared not in offered and not_mine not in offered


def test_an_order_id_holding_a_colon_is_named_by_its_business_transaction(api, members):
    """Order ids may hold `:`; a CBV business transaction URN `urn:epcglobal:cbv:bt:<party>:<id>` names
    the whole id after the party. Before, the id was cut at its last `:`: the carrier's capture never
    delivered such an order, and an event naming it counted as naming no order of ours (any order's)."""
    c, h, _ = api
    order_id = escrow(c, h, members).replace("EV", "EV:2026:", 1)
    body = {"order_id": order_id, "merchant": members["merchant_a"].address, "amount_fen": 10_000,
            "referrers": [], "carrier": members["logistics"].address}  # fmt: skip
    assert c.post("/v1/orders", json=body, headers={**h["platform"], "Idempotency-Key": order_id}).status_code == 201
    other = escrow(c, h, members)
    doc = delivery_document([("po", order_id)], "COLON1")
    r = c.post("/v1/epcis/capture", json=doc, headers=h["logistics"])
    assert r.status_code == 201 and r.json()["deliveries"][0]["order_id"] == order_id, r.text
    hid = r.json()["events"][0]["hashId"]
    r = c.post("/v1/orders/deliveries", json={"deliveries": [{"order_id": other, "epcis_event": hid}]},
               headers=h["logistics"])  # fmt: skip
    assert r.status_code == 422 and "names other orders" in r.text, r.text


def _deliver(c, h, order_ids: list[str], hid: str):
    deliveries = [{"order_id": o, "epcis_event": hid} for o in order_ids]
    return c.post("/v1/orders/deliveries", json={"deliveries": deliveries}, headers=h["logistics"])


def _captured(c, h, doc: dict) -> str:
    r = c.post("/v1/epcis/capture", json=doc, headers=h["logistics"])
    assert r.status_code == 201, r.text
    return r.json()["events"][0]["hashId"]


def test_an_event_older_than_the_order_is_no_evidence_of_its_delivery(api, members):
    """A receiving event from before the order was placed cannot show its delivery (a carrier could
    otherwise keep an old hand-over and name it for new orders): 422, nothing sent; an event a few
    minutes older than the escrow (a device's clock behind ours) still delivers."""
    c, h, _ = api
    order_id = escrow(c, h, members)
    an_hour_ago = (datetime.now(UTC) - timedelta(hours=1)).replace(microsecond=0).isoformat()
    old = _captured(c, h, delivery_document([("desadv", "DESADV-OLD")], "OLD1", when=an_hour_ago))
    r = _deliver(c, h, [order_id], old)
    assert r.status_code == 422 and "before the order was escrowed" in r.json()["detail"], r.text
    assert c.get(f"/v1/orders/{order_id}", headers=h["platform"]).json()["status"] == "escrowed"
    skewed = (datetime.now(UTC) - timedelta(minutes=5)).replace(microsecond=0).isoformat()
    behind = _captured(c, h, delivery_document([("desadv", "DESADV-SKEW")], "SKEW1", when=skewed))
    old_named = _captured(c, h, delivery_document([("po", order_id)], "OLD3", when=an_hour_ago))
    offered = [e["hash_id"] for e in c.get("/v1/deliveries/waiting", headers=h["logistics"]).json()]
    assert behind in offered and old not in offered and old_named not in offered, offered  # as a delivery takes them
    r = _deliver(c, h, [order_id], behind)
    assert r.status_code == 200 and r.json()[0]["delivery_event"] == behind, r.text


def test_an_event_naming_no_order_backs_one_confirmation_only(api, members):
    """An event naming none of our orders (a despatch advice) delivers the orders of the confirmation
    that first names it, however many; another order's later delivery naming it is a 409 and sends
    nothing, or one hand-over would deliver every order the carrier ever holds."""
    c, h, _ = api
    first, second, third = (escrow(c, h, members) for _ in range(3))
    hid = _captured(c, h, delivery_document([("desadv", "DESADV-ONCE")], "ONCE1"))
    assert _deliver(c, h, [first, second], hid).status_code == 200
    r = _deliver(c, h, [third], hid)
    assert r.status_code == 409 and "already backs the delivery" in r.json()["detail"], r.text
    assert c.get(f"/v1/orders/{third}", headers=h["platform"]).json()["status"] == "escrowed"
    own = _captured(c, h, delivery_document([("desadv", "DESADV-ONCE-3")], "ONCE3"))
    assert _deliver(c, h, [third], own).status_code == 200


def test_a_capture_confirms_the_orders_its_events_show_and_reports_the_others(api, members):
    """A carrier's capture may carry an exact copy of an event another member stored first (stored
    once, the other member's), or an event older than its order: those orders are reported failed,
    each with its reason, and the capture's other deliveries are confirmed. Before, one refusal
    failed every delivery of the capture, and did again on every retry."""
    c, h, _ = api
    copied, old, fine = (escrow(c, h, members) for _ in range(3))
    theirs = delivery_document([("po", copied)], "COPY1")
    assert c.post("/v1/epcis/capture", json=theirs, headers=h["producer"]).status_code == 201
    an_hour_ago = (datetime.now(UTC) - timedelta(hours=1)).replace(microsecond=0).isoformat()
    doc = delivery_document([("po", fine)], "FINE1")
    doc["epcisBody"]["eventList"] += [
        theirs["epcisBody"]["eventList"][0],
        delivery_document([("po", old)], "OLD2", when=an_hour_ago)["epcisBody"]["eventList"][0],
    ]
    r = c.post("/v1/epcis/capture", json=doc, headers=h["logistics"])
    assert r.status_code == 201, r.text
    got = {d["order_id"]: d for d in r.json()["deliveries"]}
    assert got[fine]["status"] == "delivered", got
    assert got[copied]["status"] == "failed" and "another member" in got[copied]["detail"], got
    assert got[old]["status"] == "failed" and "before the order was escrowed" in got[old]["detail"], got
    states = {o: c.get(f"/v1/orders/{o}", headers=h["platform"]).json()["status"] for o in (copied, old, fine)}
    assert states == {copied: "escrowed", old: "escrowed", fine: "delivered"}, states


def test_a_capture_on_a_gateway_holding_no_key_stands_and_says_what_to_do(deployment, chain_node, tmp_path, members):
    """Members holding their own keys (custodial signing off): a carrier's plain capture naming its
    open order was a 409 `no_signing_key` although its events were stored, and every retry again.
    Now it is stored and answered (201) with the delivery failed and what to do; the carrier then
    confirms it signed with its own key, naming the captured event."""
    c, h, _ = orders_client(deployment, chain_node, tmp_path, members, ("platform",))
    carrier = members["logistics"]
    body = {"order_id": "NOKEY-1", "merchant": members["merchant_a"].address, "amount_fen": 1_000,
            "referrers": [], "carrier": carrier.address}  # fmt: skip
    assert c.post("/v1/orders", json=body, headers={**h["platform"], "Idempotency-Key": "NOKEY-1"}).status_code == 201
    own = make_client(deployment, chain_node, tmp_path, custodial=False, anchor_interval_s=0)
    hc = login(own, carrier)
    doc = delivery_document([("po", "NOKEY-1")], "NOKEY1")
    for _ in range(2):  # the first capture and its retry
        r = own.post("/v1/epcis/capture", json=doc, headers=hc)
        assert r.status_code in (200, 201), r.text
        (d,) = r.json()["deliveries"]
        assert d["status"] == "failed" and "POST /v1/orders/deliveries" in d["detail"], d
    hid = r.json()["events"][0]["hashId"]
    r = own.post("/v1/orders/deliveries", json={"deliveries": [{"order_id": "NOKEY-1", "epcis_event": hid}]},
                 headers=hc | {"X-Ledger-Sign": "self"})  # fmt: skip
    assert r.status_code == 202, r.text
    signed = Account.sign_transaction(dict(r.json()["transaction"]), carrier.key).raw_transaction
    r = own.post(r.json()["submit"], json={"raw_transaction": "0x" + bytes(signed).hex()}, headers=hc)
    assert r.status_code == 200 and r.json()[0]["delivery_event"] == hid, r.text
