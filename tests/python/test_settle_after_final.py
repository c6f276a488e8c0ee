"""What the platform answers for an order must stay true when a reorg replaces recent blocks: an
order is settled only once its delivery is final, a settled order's slot is reused only once its
settlement is final, and a refund or a dispute is answered only once final. (On the consortium in
`make bench` a reorg sealed a delivery again a block later, so its return window ended after the
settlement's block, where the contract skipped the order the API had answered settled; the next
escrow, already in the freed slot, then reverted. A refund sealed again after the window closed
is refused the same way.) Shown on anvil with `LEDGER_CONFIRMATIONS=3`, blocks mined on demand and
a reorg made with `anvil_reorg`."""

from __future__ import annotations

import sqlite3
import threading
import time
from types import SimpleNamespace

import pytest

from ledger.chain.client import Sender, connect
from ledger.chain.deploy import deploy

from .helpers import captured_delivery, govern, login, make_client, ruling_signature

DEPTH = 3


@pytest.fixture
def stage(anvil_factory, tmp_path, accounts, monkeypatch):
    """A deployment on a fresh anvil where a block is final 3 blocks deep, the API's client, the
    platform's and the carrier's headers, and `escrow`/`deliver` of orders by id."""
    monkeypatch.setenv("LEDGER_CONFIRMATIONS", str(DEPTH))
    node = anvil_factory()
    path = tmp_path / "deployment.json"
    dep, _ = deploy(connect(node.url), path)
    who = {label: accounts[m["account_index"]] for label, m in dep.manifest["members"].items()}
    Sender(dep.w3, who["issuer"], dep.decoder()).transact(
        dep.contract("SettlementToken").functions.mint(who["platform"].address, 10**8)
    )
    c = make_client((dep, path), node, tmp_path)
    h = {w: login(c, who[w]) for w in ("platform", "logistics")}

    def escrow(*ids: str) -> None:
        orders = [{"order_id": i, "merchant": who["merchant_a"].address, "amount_fen": 10_000,
                   "carrier": who["logistics"].address} for i in ids]  # fmt: skip
        r = c.post("/v1/orders/batch", json={"orders": orders}, headers={**h["platform"], "Idempotency-Key": ids[0]})
        assert r.status_code == 201, r.text

    def deliver(*ids: str) -> None:
        ev = captured_delivery(c, h["logistics"])
        deliveries = [{"order_id": i, "epcis_event": ev} for i in ids]
        r = c.post("/v1/orders/deliveries", json={"deliveries": deliveries}, headers=h["logistics"])
        assert r.status_code == 200, r.text

    return SimpleNamespace(dep=dep, w3=dep.w3, path=path, who=who, c=c, h=h, escrow=escrow, deliver=deliver)


def test_settled_once_the_delivery_is_final_and_slots_reused_once_the_settlement_is(stage, accounts, tmp_path):
    dep, w3, c, h, escrow = stage.dep, stage.w3, stage.c, stage.h, stage.escrow
    govern((dep, stage.path), accounts, dep.contract("OrderSettlement").functions.setReturnWindow(1))

    def slot(order_id: str) -> int:
        with sqlite3.connect(tmp_path / "api.sqlite3") as db:
            return db.execute("SELECT slot FROM orders WHERE order_id = ?", (order_id,)).fetchone()[0]

    def settle(*ids: str) -> dict:
        r = c.post("/v1/orders/settle", json={"order_ids": list(ids)}, headers=h["platform"])
        assert r.status_code == 200, r.text
        return r.json()

    escrow("FIN-1", "FIN-2")
    stage.deliver("FIN-1", "FIN-2")
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


def _in_background(call):  # type: ignore[no-untyped-def]
    """`call()` (a request answered only once final) on a thread; its answer in `out["r"]` once there."""
    out: dict = {}
    thread = threading.Thread(target=lambda: out.setdefault("r", call()), daemon=True)
    thread.start()
    return thread, out


def _sealed_after(w3, head: int, to: str) -> str:  # type: ignore[no-untyped-def]
    """The first transaction to `to` sealed after block `head` (0x hex), once it is sealed (another
    sender's, a background loop's, may come first on a loaded machine)."""
    deadline, seen = time.monotonic() + 30, head
    while True:
        assert time.monotonic() < deadline, "the step was not sealed"
        while seen < w3.eth.block_number:
            seen += 1
            for t in w3.eth.get_block(seen, full_transactions=True)["transactions"]:
                if (t["to"] or "").lower() == to.lower():
                    return "0x" + bytes(t["hash"]).hex()
        time.sleep(0.02)


def test_refunds_and_disputes_are_answered_once_final_and_one_sealed_again_too_late_is_refused(stage, accounts):
    dep, w3, c, h = stage.dep, stage.w3, stage.c, stage.h
    govern((dep, stage.path), accounts, dep.contract("OrderSettlement").functions.setReturnWindow(600))
    stage.escrow("RF-1", "RF-2", "RF-3")
    stage.deliver("RF-1", "RF-2", "RF-3")

    def order(order_id: str) -> dict:
        return c.get(f"/v1/orders/{order_id}", headers=h["platform"]).json()

    def answered_once_final(path: str, body: dict):  # type: ignore[no-untyped-def]
        """POST `path` with `body`: sealed at once, but answered only with 3 blocks on top."""
        head = w3.eth.block_number
        thread, out = _in_background(lambda: c.post(f"/v1/orders/{path}", json=body, headers=h["platform"]))
        _sealed_after(w3, head, dep.contract("OrderSettlement").address)
        time.sleep(0.5)
        assert "r" not in out, f"{path} answered before it was final: {out['r'].text}"
        w3.provider.make_request("anvil_mine", [DEPTH])
        thread.join(30)
        assert out["r"].status_code == 200, out["r"].text
        return out["r"].json()

    assert answered_once_final("RF-1/refund", {"amount_fen": 2_500})["refunded_fen"] == 2_500
    assert answered_once_final("RF-3/dispute", {"reason": "damaged"})["status"] == "disputed"
    sig = ruling_signature(c, dep, stage.who["arbiter"], order("RF-3"), 4_000)
    ruled = answered_once_final("RF-3/ruling", {"refund_fen": 4_000, "signatures": [sig]})
    assert (ruled["status"], ruled["refunded_fen"]) == ("settled", 4_000)

    # a refund sealed, then dropped by a reorg and sealed again once the window has closed: the
    # contract refuses it there, and so does the answer; the order is as it was
    window_ends = int(dep.contract("OrderSettlement").functions.returnWindow().call()) + int(
        w3.eth.get_block(w3.eth.get_transaction_receipt(order("RF-2")["history"][-1]["tx"])["blockNumber"])["timestamp"]
    )
    head = w3.eth.block_number
    thread, out = _in_background(
        lambda: c.post("/v1/orders/RF-2/refund", json={"amount_fen": 10_000}, headers=h["platform"])
    )
    tx = _sealed_after(w3, head, dep.contract("OrderSettlement").address)
    time.sleep(1)  # its receipt read: the API waits for it to be final
    raw = w3.provider.make_request("eth_getRawTransactionByHash", [tx])["result"]
    w3.provider.make_request("anvil_reorg", [1, []])
    w3.provider.make_request("evm_setNextBlockTimestamp", [window_ends + 1])
    sent = w3.provider.make_request("eth_sendRawTransaction", [raw])  # as geth puts a dropped one back in its pool
    assert "error" not in sent, sent
    # (mined at once, but a loaded machine (a CI run) read no receipt at once: wait for it)
    assert w3.eth.wait_for_transaction_receipt(tx, timeout=30)["status"] == 0
    w3.provider.make_request("anvil_mine", [DEPTH])
    thread.join(30)
    assert out["r"].status_code == 409, out["r"].text
    assert "sealed again after a reorg" in out["r"].text
    assert (order("RF-2")["status"], order("RF-2")["refunded_fen"]) == ("delivered", 0)
