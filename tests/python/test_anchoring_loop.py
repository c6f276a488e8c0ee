"""The API's background anchorer when anchoring keeps failing: one traceback, then quiet, with
the waits between tries growing; a round with nothing due asks the node nothing; the key's other
writes, always pending under load, do not keep it from anchoring; on a real node and database."""

from __future__ import annotations

import logging
import random
import threading
import time
from datetime import UTC, datetime, timedelta

from fastapi.testclient import TestClient

from ledger.chain.client import connect
from ledger.chain.deploy import deploy
from ledger.trace.epcis.samples import document

from .helpers import login, make_client


def test_an_anchorer_without_a_signing_key_logs_once_and_backs_off(deployment, chain_node, tmp_path, members, caplog):
    # a gateway that signs for nobody: every try to anchor the captured event fails the same way
    c = make_client(deployment, chain_node, tmp_path, anchor_interval_s=0.05, anchor_max_age_s=0, custodial=False)
    producer = login(c, members["producer"])
    with caplog.at_level(logging.INFO, logger="ledger.trace.epcis.anchoring"), TestClient(c.app) as live:
        r = live.post("/v1/epcis/capture", json=document(random.Random(33)), headers=producer)
        assert r.status_code == 201, r.text
        time.sleep(4)  # 80 tries at the configured 0.05 s; with back-off from 0.05 s, six
    failed = [x for x in caplog.records if x.levelno >= logging.WARNING]
    assert len(failed) == 1, [x.getMessage() for x in failed]
    assert failed[0].exc_info is not None and "signs for nobody" in failed[0].getMessage()


def test_a_round_with_nothing_due_asks_the_node_nothing(deployment, chain_node, tmp_path, members):
    c = make_client(deployment, chain_node, tmp_path, anchor_interval_s=0, anchor_max_events=4, anchor_max_age_s=60)
    producer = login(c, members["producer"])
    anchorer = c.app.state.services.anchorer
    asked: list[int] = []
    real = anchorer.deployment
    anchorer.deployment = lambda: asked.append(1) or real()  # the real deployment, its uses counted
    assert anchorer.anchor_once() is None and asked == []  # nothing pending
    assert c.post("/v1/epcis/capture", json=document(random.Random(41), 3), headers=producer).status_code == 201
    assert anchorer.anchor_once() is None and asked == []  # 3 < 4 and young: not due
    assert anchorer.anchor_once(now=datetime.now(UTC) + timedelta(seconds=59)) is None and asked == []
    aged = anchorer.anchor_once(now=datetime.now(UTC) + timedelta(seconds=61))  # the first waited 60 s
    assert aged is not None and aged.leaf_count == 3 and asked
    assert c.post("/v1/epcis/capture", json=document(random.Random(42), 4), headers=producer).status_code == 201
    counted = anchorer.anchor_once()  # 4 pending, young: due by count
    assert counted is not None and counted.leaf_count == 4 and anchorer.pending() == 0


def test_the_anchoring_keys_other_writes_always_pending_do_not_starve_the_anchorer(
    anvil_factory, tmp_path, accounts, members
):
    # the anchoring key is the platform's, which also escrows and settles orders: under load one of
    # its writes is always in the pool (bench consortium, eight lifecycle clients: 84-92 % of the
    # time), yet its earlier writes keep being mined, and the anchorer must still anchor
    node = anvil_factory()
    manifest = tmp_path / "deployment.json"
    dep, _ = deploy(connect(node.url), manifest)
    c = make_client((dep, manifest), node, tmp_path, anchor_interval_s=0, anchor_max_age_s=0, anchor_one_by_one_max=0)
    producer = login(c, members["producer"])
    assert c.post("/v1/epcis/capture", json=document(random.Random(7), 5), headers=producer).status_code == 201
    w3, platform = connect(node.url), dep.sender(members["platform"])
    w3.provider.make_request("evm_setAutomine", [False])
    w3.provider.make_request("evm_setBlockGasLimit", [hex(100_000)])  # one of the key's writes a block
    stop, prov = threading.Event(), dep.contract("Provenance")

    def load() -> None:  # two of the key's writes in the pool at all times; a block every 0.2 s
        n = 0
        while not stop.is_set():
            address = platform.address
            while w3.eth.get_transaction_count(address, "pending") - w3.eth.get_transaction_count(address) < 2:
                n += 1
                platform.submit(prov.functions.anchor(n.to_bytes(32, "big"), 1, "load"))
            w3.provider.make_request("evm_mine", [])
            time.sleep(0.2)

    loader = threading.Thread(target=load, daemon=True)
    loader.start()
    try:
        anchorer, made, deadline = c.app.state.services.anchorer, None, time.monotonic() + 10
        while made is None and time.monotonic() < deadline:
            made = anchorer.anchor_once()
            time.sleep(0.05)
        assert made is not None and made.leaf_count == 5 and anchorer.pending() == 0
    finally:
        stop.set()
        loader.join(timeout=10)
