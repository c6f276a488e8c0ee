"""What the platform answers for an order must stay true when a reorg replaces recent blocks: an
order is settled only once its delivery is final, and a settled order's slot is reused only once
its settlement is final. (On the consortium in `make bench` a reorg sealed a delivery again a block
later, so its return window ended after the settlement's block, where the contract skipped the
order the API had answered settled; the next escrow, already in the freed slot, then reverted.)
Shown on anvil with `LEDGER_CONFIRMATIONS=3` and blocks mined on demand."""

from __future__ import annotations

import sqlite3
import time

from ledger.chain.client import Sender, connect
from ledger.chain.deploy import deploy

from .helpers import govern, login, make_client

DEPTH = 3


def test_settled_once_the_delivery_is_final_and_slots_reused_once_the_settlement_is(
    anvil_factory, tmp_path, accounts, monkeypatch
):
    monkeypatch.setenv("LEDGER_CONFIRMATIONS", str(DEPTH))
    node = anvil_factory()
    path = tmp_path / "deployment.json"
    dep, _ = deploy(connect(node.url), path)
    w3 = dep.w3
    who = {label: accounts[m["account_index"]] for label, m in dep.manifest["members"].items()}
    Sender(w3, who["issuer"], dep.decoder()).transact(
        dep.contract("SettlementToken").functions.mint(who["platform"].address, 10**8)
    )
    govern((dep, path), accounts, dep.contract("OrderSettlement").functions.setReturnWindow(1))
    c = make_client((dep, path), node, tmp_path)
    h = {w: login(c, who[w]) for w in ("platform", "logistics")}

    def escrow(*ids: str) -> None:
        orders = [{"order_id": i, "merchant": who["merchant_a"].address, "amount_fen": 10_000,
                   "carrier": who["logistics"].address} for i in ids]  # fmt: skip
        r = c.post("/v1/orders/batch", json={"orders": orders}, headers={**h["platform"], "Idempotency-Key": ids[0]})
        assert r.status_code == 201, r.text

    def slot(order_id: str) -> int:
        with sqlite3.connect(tmp_path / "api.sqlite3") as db:
            return db.execute("SELECT slot FROM orders WHERE order_id = ?", (order_id,)).fetchone()[0]

    def settle(*ids: str) -> dict:
        r = c.post("/v1/orders/settle", json={"order_ids": list(ids)}, headers=h["platform"])
        assert r.status_code == 200, r.text
        return r.json()

    escrow("FIN-1", "FIN-2")
    deliveries = [{"order_id": i, "epcis_event": "0x" + "cd" * 32} for i in ("FIN-1", "FIN-2")]
    r = c.post("/v1/orders/deliveries", json={"deliveries": deliveries}, headers=h["logistics"])
    assert r.status_code == 200, r.text
    delivered = w3.eth.block_number
    time.sleep(1.5)  # the return window has closed by the clock: due, but the delivery is not final
    done = settle("FIN-1", "FIN-2")
    assert done["settled"] == []
    assert {s["order_id"]: s["final_at_block"] for s in done["skipped"]} == {
        "FIN-1": delivered + DEPTH,
        "FIN-2": delivered + DEPTH,
    }
    assert c.get("/v1/orders/FIN-1", headers=h["platform"]).json()["status"] == "delivered"

    w3.provider.make_request("anvil_mine", [DEPTH])
    done = settle("FIN-1", "FIN-2")
    assert sorted(s["order_id"] for s in done["settled"]) == ["FIN-1", "FIN-2"], done
    freed = {slot("FIN-1"), slot("FIN-2")}

    escrow("FIN-3")  # the settlement is not final yet: a slot of its own
    assert slot("FIN-3") not in freed
    w3.provider.make_request("anvil_mine", [DEPTH])
    escrow("FIN-4")  # now it is: a freed slot again
    assert slot("FIN-4") in freed
