"""`python -m bench.consortium_submit_ab [SECONDS]` (root, for the namespaces): how a write is
handed to the consortium, before and after, measured in one run on the four hosts (1 s blocks,
`confirmations(4)`), six writers and 30 plain transfers a second of load. Each write picks its way
at random, so both see the same machine:

- `A`: web3's own `build_transaction` (estimate, fees, chain id one after another), the nonce, sent
  to the writer's own node only (the nodes' gossip takes it to the others);
- `B`: `Sender.submit` over all four nodes, own first (`tx_defaults.build_transaction`: the node's
  answers asked at once; `FailoverProvider`: handed to every node at the same time).

Prints, per way, submit / included / final p50, p90, p99 (docs/consortium.md has a run)."""

from __future__ import annotations

import random
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

from web3 import Web3

from ledger.chain.client import Sender, connect, dev_accounts
from ledger.chain.deploy import deploy
from ledger.chain.finality import confirmations, wait_final
from ledger.chain.submission import send_raw
from ledger.devnet.hosts import Hosts
from ledger.devnet.hosts_network import HostsNetwork

ORGS = ("platform", "brand", "carrier", "regulator")
WRITERS = ("platform", "merchant_a", "merchant_b", "producer", "logistics", "inspector")


def _q(xs: list[float], p: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(len(xs) * p))]


class _Run:
    def __init__(self, urls: list[str], dep, depth: int):  # type: ignore[no-untyped-def]
        self.urls, self.dep, self.depth = urls, dep, depth
        self.accounts = dev_accounts(20)
        self.rows: dict[str, list[tuple[float, float, float]]] = {"A": [], "B": []}
        self.stop, self.errors = threading.Event(), []

    def writer(self, i: int) -> None:
        rng, own = random.Random(i), self.urls[i % len(self.urls)]
        single, everyone = connect(own), connect(",".join([own, *(u for u in self.urls if u != own)]))
        acct = self.accounts[self.dep.manifest["members"][WRITERS[i]]["account_index"]]
        sender, prov = Sender(everyone, acct, self.dep.decoder()), self.dep.contract("Provenance")
        try:
            while not self.stop.is_set():
                way = rng.choice("AB")
                fn = prov.functions.anchor(Web3.keccak(text=f"ab{i}-{time.time_ns()}"), 1, "ab")
                started = time.perf_counter()
                if way == "A":
                    tx = fn.build_transaction({"from": acct.address})
                    tx["nonce"] = single.eth.get_transaction_count(acct.address, "pending")
                    tx_hash = send_raw(single, acct.sign_transaction(tx).raw_transaction)
                else:
                    tx_hash = sender.submit(fn)
                sent = time.perf_counter()
                while not single.provider.make_request("eth_getTransactionReceipt", ["0x" + tx_hash.hex()])["result"]:
                    time.sleep(0.02)
                included = time.perf_counter()
                wait_final(single, tx_hash, self.depth, timeout=120)
                self.rows[way].append((sent - started, included - sent, time.perf_counter() - started))
                time.sleep(rng.random())  # writes come when they come, not in step with blocks
        except Exception as exc:  # noqa: BLE001 - reported at the end
            self.errors.append(exc)

    def load(self) -> None:
        w3, a = connect(self.urls[0]), self.accounts[19]
        nonce, chain = w3.eth.get_transaction_count(a.address, "pending"), w3.eth.chain_id
        fees = {"maxFeePerGas": 2 * w3.eth.gas_price + 10**9, "maxPriorityFeePerGas": 10**9}
        while not self.stop.is_set():
            for _ in range(3):
                tx = {"to": self.accounts[18].address, "value": 1, "gas": 21_000, "nonce": nonce, "chainId": chain}
                w3.eth.send_raw_transaction(a.sign_transaction({**tx, **fees}).raw_transaction)
                nonce += 1
            time.sleep(0.1)


def main(seconds: float) -> None:
    hosts = Hosts()
    try:
        with tempfile.TemporaryDirectory(prefix="netns-ab-") as tmp:
            net = HostsNetwork(Path(tmp) / "network", hosts, period_s=1)
            try:
                net.init(ORGS)
                net.start(wait_s=120)
                urls = [net.nodes[o].url for o in ORGS]
                dep, _ = deploy(connect(urls[0]), Path(tmp) / "deployment.json")
                run = _Run(urls, dep, confirmations(len(ORGS)))
                threads = [threading.Thread(target=run.writer, args=(i,)) for i in range(len(WRITERS))]
                threads.append(threading.Thread(target=run.load))
                for t in threads:
                    t.start()
                time.sleep(seconds)
                run.stop.set()
                for t in threads:
                    t.join(timeout=180)
            finally:
                net.stop()
    finally:
        hosts.close()
    if run.errors:
        raise run.errors[0]
    for way, rows in run.rows.items():
        parts = zip(("submit", "included", "final"), zip(*rows, strict=True), strict=True)
        shown = (f"{n} {statistics.median(c):.3f}/{_q(c, 0.9):.3f}/{_q(c, 0.99):.3f}" for n, c in parts)
        print(f"{way}: {len(rows)} writes, p50/p90/p99 s: " + ", ".join(shown))


if __name__ == "__main__":
    main(float(sys.argv[1]) if len(sys.argv) > 1 else 120)
