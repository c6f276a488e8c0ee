"""The consortium network against single-node anvil, in the same run.

- `consortium.final_p50_s` / `_p99_s`: from sending a write (an EPCIS root anchored by one of six
  members, through the same `Sender` the API uses) to its block being final with 3 confirmations,
  over 54 writes from six members at once; the target is p99 within 10 s. Baseline: the same on
  anvil, where a mined block is final (one node, no forks: 0 confirmations).
- `consortium.tx_per_s`: 300 signed transactions sent at once from six accounts, until all are mined.
- `consortium.node_rss_mb`: resident memory of each validator afterwards (the largest).
The network seals a block every 2 s, as `make consortium` runs it.
"""

from __future__ import annotations

import statistics
import threading
import time
from pathlib import Path

from web3 import Web3

from ledger.chain.client import Sender, connect, dev_accounts, wait_for_receipt
from ledger.chain.deploy import deploy
from ledger.devnet.network import Network

# the confirmation time shoppers and merchants are promised: set by the block period (2 s) and the
# confirmations (3), not by this machine's speed, so judged as it is
BUDGETS = {"consortium.final_p99_s": 10}
CONFIRMATIONS = 3
WRITERS = ("platform", "merchant_a", "merchant_b", "producer", "logistics", "inspector")


def _latencies(url: str, manifest: Path, confirmations: int, per_writer: int = 9) -> list[float]:
    w3 = connect(url)
    dep, _ = deploy(w3, manifest)
    accounts = dev_accounts(20)
    prov = dep.contract("Provenance")
    out: list[float] = []
    lock = threading.Lock()

    def write(label: str) -> None:
        sender = Sender(connect(url), accounts[dep.manifest["members"][label]["account_index"]], dep.decoder())
        for i in range(per_writer):
            root = Web3.keccak(text=f"{label}-{i}-{time.time_ns()}")
            started = time.perf_counter()
            receipt = sender.transact(prov.functions.anchor(root, 1, f"bench:{label}/{i}"))
            while sender.w3.eth.block_number < receipt["blockNumber"] + confirmations:
                time.sleep(0.05)
            with lock:
                out.append(time.perf_counter() - started)

    threads = [threading.Thread(target=write, args=(label,)) for label in WRITERS]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return sorted(out)


def _throughput(url: str, count: int = 300) -> float:
    w3 = connect(url)
    senders = dev_accounts(20)[12:18]
    to = dev_accounts(20)[19].address
    nonces = {a.address: w3.eth.get_transaction_count(a.address, "pending") for a in senders}
    fees = {"maxFeePerGas": 2 * w3.eth.gas_price + 10**9, "maxPriorityFeePerGas": 10**9}
    raw = []
    for i in range(count):
        a = senders[i % len(senders)]
        tx = {"to": to, "value": 1, "gas": 21_000, "nonce": nonces[a.address], "chainId": w3.eth.chain_id, **fees}
        nonces[a.address] += 1
        raw.append(a.sign_transaction(tx).raw_transaction)
    started = time.perf_counter()
    hashes = [w3.eth.send_raw_transaction(r) for r in raw]
    for h in hashes[-len(senders) :]:  # each sender's last: mined only after all its others
        wait_for_receipt(w3, h, timeout=300)
    return count / (time.perf_counter() - started)


def _rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def measure(url: str, workdir: Path) -> dict[str, float]:
    anvil = _latencies(url, workdir.with_suffix(".anvil.json"), 0)
    anvil_tps = _throughput(url)
    net = Network(workdir.parent / "consortium-network", period_s=2)
    net.init(base_port=None)
    net.start(wait_s=120)
    try:
        urls = ",".join(net.urls)
        lat = _latencies(urls, workdir.with_suffix(".consortium.json"), CONFIRMATIONS)
        tps = _throughput(urls)
        rss = max(_rss_mb(int((net.root / org / "node.pid").read_text())) for org in net.nodes)
    finally:
        net.stop()
    p99 = lat[min(len(lat) - 1, int(len(lat) * 0.99))]
    return {
        "consortium.final_p50_s": round(statistics.median(lat), 2),
        "consortium.final_p99_s": round(p99, 2),
        "consortium.writes": len(lat),
        "consortium.tx_per_s": round(tps, 1),
        "consortium.node_rss_mb": round(rss, 1),
        "baseline.anvil.final_p50_s": round(statistics.median(anvil), 3),
        "baseline.anvil.final_p99_s": round(anvil[min(len(anvil) - 1, int(len(anvil) * 0.99))], 3),
        "baseline.anvil.tx_per_s": round(anvil_tps, 1),
    }
