"""The failover provider over several nodes: a node that comes back behind is not asked until it
has caught up with what we have seen (else our own writes look undone), and a lagging answer is
still better than none. Nodes here are small JSON-RPC servers whose head the test moves."""

from __future__ import annotations

import json
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from ledger.chain.client import TransactionFailed, connect, dev_accounts
from ledger.chain.deploy import deploy
from ledger.chain.failover import FailoverProvider

from .helpers import new_gtin


class _Node:
    def __init__(self, name: str, head: int):
        self.name, self.head, self.asked = name, head, []
        node = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 - http.server's name
                req = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                node.asked.append(req["method"])
                result = {"eth_blockNumber": hex(node.head), "net_version": node.name}.get(req["method"])
                if req["method"] == "eth_getTransactionReceipt":
                    result = {"blockNumber": hex(node.head), "status": "0x1"}
                body = json.dumps({"jsonrpc": "2.0", "id": req["id"], "result": result}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def nodes():
    made = [_Node("first", 10), _Node("second", 10)]
    yield made
    for n in made:
        n.close()


def _answerer(p: FailoverProvider) -> str:
    return p.make_request("net_version", [])["result"]


def test_a_node_back_behind_our_writes_is_not_asked_until_it_catches_up(nodes):
    first, second = nodes
    p = FailoverProvider([first.url, second.url], timeout=2, retry_first_s=60)
    assert _answerer(p) == "first"
    p._down_since[0] = time.monotonic()  # as if the first had just been unreachable: on to the second
    second.head = 15
    assert p.make_request("eth_getTransactionReceipt", ["0xab"])["result"]["blockNumber"] == hex(15)
    assert p.seen_block == 15
    first.head = 12  # back, but behind the receipt we just read
    p.retry_first_s = 0.0
    assert _answerer(p) == "second"
    first.head = 15  # caught up: traffic moves back to the first
    assert _answerer(p) == "first"


def test_when_every_node_is_behind_a_lagging_answer_beats_none(nodes):
    first, second = nodes
    p = FailoverProvider([first.url, second.url], timeout=2, retry_first_s=0.0)
    p.seen_block = 99  # e.g. the heads went back in a reorg
    p._down_since.update({0: 0.0, 1: 0.0})
    assert _answerer(p) == "first"


def test_an_unreachable_node_is_skipped_and_retried(nodes):
    first, second = nodes
    url = first.url
    first.close()
    p = FailoverProvider([url, second.url], timeout=2, retry_first_s=60)
    assert _answerer(p) == "second"
    assert 0 in p._down_since
    assert _answerer(p) == "second"


def test_a_write_simulated_before_the_keys_earlier_write_is_mined_waits_for_it(anvil_factory, tmp_path):
    """A reorg sends a just-answered write back to the pool; the member's next write, simulated on
    a head without it, must wait for it rather than fail (a batch whose product is "unknown")."""
    node = anvil_factory()
    w3 = connect(node.url)
    dep, _ = deploy(w3, tmp_path / "deployment.json")
    merchant = dev_accounts(20)[dep.manifest["members"]["merchant_a"]["account_index"]]
    sender = dep.sender(merchant)
    prov = dep.contract("Provenance")
    gtin = int(new_gtin())
    w3.provider.make_request("evm_setAutomine", [False])
    first = sender.submit(prov.functions.registerProduct(gtin))  # in the pool, not on the head
    timer = threading.Timer(0.5, lambda: w3.provider.make_request("evm_mine", []))
    timer.start()
    started = time.monotonic()
    try:
        second = sender.submit(prov.functions.registerBatch(gtin, "L1"))
    finally:
        timer.join()
    assert time.monotonic() - started >= 0.4  # it waited for the block holding the product
    w3.provider.make_request("evm_mine", [])
    assert sender.wait(first)["status"] == sender.wait(second)["status"] == 1
    with pytest.raises(TransactionFailed) as refused:  # a revert with nothing pending is answered at once
        sender.submit(prov.functions.registerBatch(int(new_gtin()), "L2"))
    assert refused.value.error == "UnknownProduct"


def test_a_signed_write_is_handed_to_every_node_at_once_and_a_hung_one_holds_up_nothing(anvil_factory):
    """The write goes to its own node and, in the background, to the others (so the validator in
    turn has it without the nodes' gossip): a node that accepts connections and never answers
    does not delay the answer nor the handover to the nodes after it."""
    own, other = anvil_factory(), anvil_factory()
    for node in (own, other):
        connect(node.url).provider.make_request("evm_setAutomine", [False])
    hung = socket.socket()
    hung.bind(("127.0.0.1", 0))
    hung.listen(8)  # accepts, never reads nor answers
    try:
        p = FailoverProvider([own.url, f"http://127.0.0.1:{hung.getsockname()[1]}", other.url], timeout=5)
        w3 = connect(own.url)
        a, b = dev_accounts(2)
        fees = {"maxFeePerGas": 10**11, "maxPriorityFeePerGas": 10**9, "gas": 21_000, "chainId": w3.eth.chain_id}
        raw = a.sign_transaction({"to": b.address, "value": 1, "nonce": 0, **fees}).raw_transaction
        started = time.monotonic()
        tx = p.make_request("eth_sendRawTransaction", ["0x" + raw.hex()])["result"]
        assert time.monotonic() - started < 2.5  # not the hung node's 5 s
        in_pool = connect(other.url)
        deadline = time.monotonic() + 4
        while in_pool.provider.make_request("eth_getTransactionByHash", [tx]).get("result") is None:
            assert time.monotonic() < deadline, "the other node was not handed the write"
            time.sleep(0.05)
        assert w3.provider.make_request("eth_getTransactionByHash", [tx])["result"]["hash"] == tx
    finally:
        hung.close()
