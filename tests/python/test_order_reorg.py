"""An order's next step after its escrow's block was replaced (a reorg): on the consortium the
platform's own node often seals the block holding the platform's escrow out of turn, answers its
receipt at once, and then takes the in-turn block of another validator that lacks the escrow (it
had not reached that validator yet); geth puts the escrow back in its pool and seals it a block
later. A delivery asked in that second was refused with `TermsMismatch` (seen in the bench with two
lifecycle clients). Reproduced on anvil: the escrow's blocks are reverted and their transactions
sent back to the pool, as geth does, with 1 s blocks; the delivery now waits for the escrow to be
sealed again and succeeds once."""

from __future__ import annotations

import threading
import time

from ledger.chain.client import Sender, connect
from ledger.chain.deploy import deploy

from .helpers import captured_delivery, login, make_client


def _rpc(w3, method, *params):
    answer = w3.provider.make_request(method, list(params))
    assert "error" not in answer, answer
    return answer.get("result")


def test_a_delivery_waits_for_an_escrow_a_reorg_put_back_in_the_pool(anvil_factory, tmp_path, members):
    node = anvil_factory()
    path = tmp_path / "deployment.json"
    dep, _ = deploy(connect(node.url), path)
    w3 = dep.w3
    Sender(w3, members["issuer"], dep.decoder()).transact(
        dep.contract("SettlementToken").functions.mint(members["platform"].address, 10**10)
    )
    c = make_client((dep, path), node, tmp_path)
    h = {w: login(c, members[w]) for w in ("platform", "logistics")}

    def batch(tag: str) -> list[str]:
        orders = [
            {"order_id": f"{tag}-{i}", "merchant": members["merchant_a"].address, "amount_fen": 1_000 + i,
             "carrier": members["logistics"].address}
            for i in range(3)
        ]  # fmt: skip
        r = c.post("/v1/orders/batch", json={"orders": orders}, headers={**h["platform"], "Idempotency-Key": tag})
        assert r.status_code == 201, r.text
        return [o["order_id"] for o in orders]

    batch("warm")  # the platform's allowance, outside the reorged blocks
    ev = captured_delivery(c, h["logistics"])  # the carrier's delivery event (stored here, not on chain)
    before = _rpc(w3, "evm_snapshot")
    first = w3.eth.block_number
    ids = batch("reorged")
    replaced = [
        _rpc(w3, "eth_getRawTransactionByHash", "0x" + bytes(t).hex())
        for n in range(first + 1, w3.eth.block_number + 1)
        for t in w3.eth.get_block(n)["transactions"]
    ]
    # the escrow's block is replaced by one without it; geth puts its transactions back in the pool
    _rpc(w3, "evm_setAutomine", False)
    try:
        assert _rpc(w3, "evm_revert", before)
        for raw in replaced:
            _rpc(w3, "eth_sendRawTransaction", raw)
        answer = {}

        def deliver():
            body = {"deliveries": [{"order_id": i, "epcis_event": ev} for i in ids]}
            answer["r"] = c.post("/v1/orders/deliveries", json=body, headers=h["logistics"])

        asked = threading.Thread(target=deliver)
        asked.start()
        time.sleep(1.0)  # the delivery is asked while the escrow waits in the pool
        _rpc(w3, "evm_setIntervalMining", 1)
        asked.join(timeout=60)
        assert not asked.is_alive()
        r = answer["r"]
        assert r.status_code == 200, r.text  # it was 409 TermsMismatch
        assert {o["status"] for o in r.json()} == {"delivered"}
    finally:
        _rpc(w3, "evm_setIntervalMining", 0)
        _rpc(w3, "evm_setAutomine", True)
