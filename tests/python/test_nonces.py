"""One member's concurrent writes never collide on a nonce, through two API processes' worth of
services on one machine; a transaction the node dropped is sent again, not forgotten."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

from ledger.chain import client as chain_client
from ledger.chain.client import connect, dev_accounts, wait_for_receipt

from .helpers import login, make_client, new_gtin


def test_fifty_concurrent_writes_by_one_member_through_two_workers(deployment, chain_node, tmp_path, members):
    workers = []
    for i in range(2):
        (tmp_path / f"w{i}").mkdir()
        workers.append(make_client(deployment, chain_node, tmp_path / f"w{i}", anchor_interval_s=0))
    heads = [login(w, members["merchant_a"]) for w in workers]
    gtins = [new_gtin() for _ in range(50)]

    def register(i: int) -> int:
        w = workers[i % 2]
        return w.post("/v1/products", json={"gtin": gtins[i], "name": f"tea {i}"}, headers=heads[i % 2]).status_code

    with ThreadPoolExecutor(max_workers=16) as pool:
        statuses = list(pool.map(register, range(50)))
    assert statuses == [201] * 50, [s for s in statuses if s != 201]
    dep, _ = deployment
    prov = dep.contract("Provenance")
    assert all(prov.functions.productOwner(int(g)).call() == members["merchant_a"].address for g in gtins)


def test_a_dropped_transaction_is_sent_again(anvil_factory, monkeypatch):
    monkeypatch.setattr(chain_client, "RESEND_AFTER_S", 0.3)
    node = anvil_factory()
    w3 = connect(node.url)
    w3.provider.make_request("evm_setAutomine", [False])
    sender, to = dev_accounts(3)[1], dev_accounts(3)[2].address
    tx = {
        "to": to, "value": 1, "gas": 21_000, "nonce": w3.eth.get_transaction_count(sender.address),
        "chainId": w3.eth.chain_id, "maxFeePerGas": 10**10, "maxPriorityFeePerGas": 10**9,
    }  # fmt: skip
    raw = sender.sign_transaction(tx).raw_transaction
    tx_hash = w3.eth.send_raw_transaction(raw)
    w3.provider.make_request("anvil_dropTransaction", [tx_hash.hex()])
    stop = threading.Event()

    def mine() -> None:
        while not stop.is_set():
            w3.provider.make_request("evm_mine", [])
            time.sleep(0.2)

    miner = threading.Thread(target=mine, daemon=True)
    miner.start()
    try:
        receipt = wait_for_receipt(w3, tx_hash, timeout=20, resend=raw)
    finally:
        stop.set()
        miner.join()
    assert receipt["status"] == 1 and w3.eth.get_balance(to) > 0


def test_a_write_the_node_already_holds_is_not_sent_again_as_a_nonce_clash(deployment, members, monkeypatch):
    """Handed to several nodes, a write whose first node timed out while taking it was asked of the
    next, which had it mined already: "nonce too low". That clash is with the write itself: sent
    again with a fresh nonce it would happen twice (a mint), or revert on its own effect (seen in
    CI: a governance approval, AlreadyExecuted)."""
    dep, _ = deployment
    real = chain_client.send_raw

    def answer_lost(w3, raw):
        real(w3, raw)  # the node takes it (and mines it: anvil)
        monkeypatch.setattr(chain_client, "send_raw", real)
        raise chain_client.NonceTaken("the node refused the transaction: nonce too low")

    monkeypatch.setattr(chain_client, "send_raw", answer_lost)
    token, to = dep.contract("SettlementToken"), members["merchant_b"].address
    before = token.functions.balanceOf(to).call()
    chain_client.Sender(dep.w3, members["issuer"], dep.decoder()).transact(token.functions.mint(to, 123))
    assert token.functions.balanceOf(to).call() == before + 123
