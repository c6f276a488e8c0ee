"""Our transaction defaults (public web3 API only) fill what web3's own private helper fills,
against the real development node."""

from __future__ import annotations

from eth_account import Account
from web3._utils.transactions import fill_transaction_defaults  # the reference, in a test only

from ledger.chain.client import Sender, connect, dev_accounts
from ledger.chain.tx_defaults import build_transaction, fill_defaults


def test_defaults_are_web3s(chain_node):
    w3 = connect(chain_node.url)
    a, b = (x.address for x in dev_accounts(2))
    for tx in (
        {"from": a, "to": b, "value": 1},  # EIP-1559 fees filled
        {"from": a, "to": b, "data": b"\x01", "gasPrice": 2 * 10**9},  # legacy: only gas and chain id
        {"from": a, "to": b, "maxPriorityFeePerGas": 5, "gas": 30_000},  # the tip given, the cap filled
    ):
        for _ in range(5):  # a block sealed between the two reads moves the base fee: read again
            block = w3.eth.block_number
            ours, theirs = fill_defaults(w3, dict(tx)), fill_transaction_defaults(w3, dict(tx))
            if w3.eth.block_number == block:
                break
        assert ours == theirs


def test_a_contract_calls_transaction_is_web3s(chain_node, deployment):
    """`build_transaction` (its node's answers asked at once) builds what the contract function's
    own `build_transaction` builds: to, data, gas, fees, chain id."""
    w3, (deployment, _) = connect(chain_node.url), deployment
    platform = dev_accounts(20)[deployment.manifest["members"]["platform"]["account_index"]]
    fn = deployment.contract("Provenance").functions.anchor(b"\x07" * 32, 1, "defaults")
    for params in ({"from": platform.address}, {"from": platform.address, "gas": 90_000, "maxPriorityFeePerGas": 3}):
        for _ in range(5):
            block = w3.eth.block_number
            ours, theirs = build_transaction(w3, fn, dict(params)), fn.build_transaction(dict(params))
            if w3.eth.block_number == block:
                break
        assert ours == theirs
        assert ours["gas"] > 21_000 and ours["chainId"] == w3.eth.chain_id


def test_a_write_whose_storage_moves_before_it_is_mined_still_goes_through(deployment, members):
    """A transfer estimated while its recipient holds tokens, mined just after the recipient sent
    them all away (its balance written from zero again: 17,100 gas more than estimated), succeeds:
    the gas limit has headroom over the estimate, up to the block's limit."""
    dep, _ = deployment
    w3, token = dep.w3, dep.contract("SettlementToken")
    issuer = Sender(w3, members["issuer"], dep.decoder())
    x, y = Account.create(), Account.create()
    w3.eth.send_transaction({"from": dev_accounts(1)[0].address, "to": x.address, "value": 10**18})
    issuer.transact(token.functions.mint(x.address, 5))
    issuer.transact(token.functions.mint(issuer.address, 5))
    estimate = token.functions.transfer(x.address, 1).estimate_gas({"from": issuer.address})
    w3.provider.make_request("evm_setAutomine", [False])
    try:
        emptied = Sender(w3, x, dep.decoder()).submit(token.functions.transfer(y.address, 5))
        pending = issuer.submit(token.functions.transfer(x.address, 1))
        w3.provider.make_request("evm_mine", [])
    finally:
        w3.provider.make_request("evm_setAutomine", [True])
    assert w3.eth.get_transaction_receipt(emptied)["status"] == 1
    sent = w3.eth.get_transaction(pending)
    receipt = w3.eth.get_transaction_receipt(pending)
    assert receipt["blockNumber"] == w3.eth.get_transaction_receipt(emptied)["blockNumber"]
    assert receipt["gasUsed"] > estimate + 15_000, (receipt["gasUsed"], estimate)  # the estimate fell short
    assert receipt["status"] == 1 and sent["gas"] <= w3.eth.get_block("latest")["gasLimit"]
    assert token.functions.balanceOf(x.address).call() == 1


def test_the_chain_id_is_asked_once_per_connection_not_around_every_call(chain_node, deployment):
    """web3's validation middleware asked `eth_chainId` before and after every call and estimate;
    a connection asks it once (`ChainIdOnce`), and calls still answer as before."""
    import json
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
    from threading import Thread
    from urllib.request import Request, urlopen

    asked: list[str] = []

    class Relay(BaseHTTPRequestHandler):  # counts the methods on their way to the real node
        def do_POST(self):
            body = self.rfile.read(int(self.headers["Content-Length"]))
            asked.append(json.loads(body)["method"])
            answer = urlopen(Request(chain_node.url, body, {"Content-Type": "application/json"})).read()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Relay)
    Thread(target=server.serve_forever, daemon=True).start()
    try:
        w3 = connect(f"http://127.0.0.1:{server.server_port}")
        dep, _ = deployment
        membership = w3.eth.contract(dep.contract("Membership").address, abi=dep.contract("Membership").abi)
        platform = dev_accounts(20)[dep.manifest["members"]["platform"]["account_index"]]
        roles = [membership.functions.rolesOf(platform.address).call() for _ in range(10)]
        assert roles == [dep.contract("Membership").functions.rolesOf(platform.address).call()] * 10 and roles[0] > 0
        assert asked.count("eth_call") == 10 and asked.count("eth_chainId") == 1, asked
    finally:
        server.shutdown()
