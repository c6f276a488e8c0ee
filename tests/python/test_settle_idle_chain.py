"""A node that mines only when a transaction comes (anvil with `LEDGER_BLOCK_TIME=0`) keeps its
newest block's time while nobody transacts. An order whose return window has closed by the clock
settles at the first try all the same: the block its settlement goes into carries the clock's time.
(It was skipped at every try, for as long as nobody else moved the chain: the settlement was
judged by the newest block's time, which stayed before the window's end.)"""

from __future__ import annotations

import time

from ledger.chain.client import Sender, connect
from ledger.chain.deploy import deploy

from .conftest import Anvil
from .helpers import captured_delivery, govern, login, make_client


def test_an_order_due_by_the_clock_settles_at_once_on_a_chain_nobody_moved(tmp_path, accounts):
    node = Anvil()
    try:
        path = tmp_path / "deployment.json"
        dep, _ = deploy(connect(node.url), path)
        who = {label: accounts[m["account_index"]] for label, m in dep.manifest["members"].items()}
        Sender(dep.w3, who["issuer"], dep.decoder()).transact(
            dep.contract("SettlementToken").functions.mint(who["platform"].address, 10**8)
        )
        govern((dep, path), accounts, dep.contract("OrderSettlement").functions.setReturnWindow(1))
        c = make_client((dep, path), node, tmp_path)
        h = {w: login(c, who[w]) for w in ("platform", "logistics")}
        order = {"order_id": "IDLE-1", "merchant": who["merchant_a"].address, "amount_fen": 10_000,
                 "referrers": [], "carrier": who["logistics"].address}  # fmt: skip
        r = c.post("/v1/orders", json=order, headers={**h["platform"], "Idempotency-Key": "IDLE-1"})
        assert r.status_code == 201, r.text
        delivery = {"order_id": "IDLE-1", "epcis_event": captured_delivery(c, h["logistics"])}
        r = c.post("/v1/orders/deliveries", json={"deliveries": [delivery]}, headers=h["logistics"])
        assert r.status_code == 200, r.text
        delivered_block = dep.w3.eth.block_number
        time.sleep(2.5)  # the window (1 s) has closed by the clock; nobody transacted meanwhile
        assert dep.w3.eth.block_number == delivered_block
        r = c.post("/v1/orders/settle", json={"order_ids": ["IDLE-1"]}, headers=h["platform"])
        assert r.status_code == 200, r.text
        assert [s["order_id"] for s in r.json()["settled"]] == ["IDLE-1"], r.json()
        assert c.get("/v1/orders/IDLE-1", headers=h["platform"]).json()["status"] == "settled"
    finally:
        node.stop()
