"""Probes of a carrier's delivery evidence (`ledger.money.orders.deliveries`) through the API on anvil:
the hash ID's spellings and captures carrying error declarations."""

from __future__ import annotations

import itertools
import time

import pytest

from ledger.chain.client import Sender
from ledger.trace.epcis.samples import delivery_document

from .helpers import login, make_client

_ids = itertools.count(1)


@pytest.fixture(scope="module")
def api(deployment, chain_node, tmp_path_factory, members):
    dep, _ = deployment
    issuer = Sender(dep.w3, members["issuer"], dep.decoder())
    issuer.transact(dep.contract("SettlementToken").functions.mint(members["platform"].address, 10**10))
    c = make_client(deployment, chain_node, tmp_path_factory.mktemp("evidence"))
    who = ("platform", "merchant_a", "producer", "logistics")
    return c, {w: login(c, members[w]) for w in who}, dep


def escrow(c, h, members) -> str:
    order_id = f"EV{int(time.time() * 1000)}{next(_ids)}"
    body = {
        "order_id": order_id,
        "merchant": members["merchant_a"].address,
        "amount_fen": 10_000,
        "referrers": [],
        "carrier": members["logistics"].address,
    }
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
