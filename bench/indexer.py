"""Indexer throughput: decode and store real contract logs into SQLite.

Real logs come from a fresh deployment on anvil (recorded events, escrows, settlements, mints);
they are repeated under distinct transaction hashes until there are enough to time. Ours is the
indexer's own path (`Indexer.ingest`: ABI decoding with faster-eth-abi, batched inserts,
checkpoint in the same transaction). The baseline decodes each log with web3.py's
`ContractEvent.process_log` and stores the same rows the same way, measured in the same run.
"""

from __future__ import annotations

import json
import tempfile
import time
from pathlib import Path
from typing import Any

from eth_utils import keccak
from hexbytes import HexBytes
from web3.datastructures import AttributeDict

from ledger.chain.client import connect
from ledger.chain.deploy import deploy
from ledger.chain.indexer import Indexer
from ledger.money.orders.terms import Batch, OrderTerms
from ledger.store.db import make_engine, migrate

TARGETS = {"indexer.logs_per_s": 20_000}  # information: the reference machine's figure
RATIO_TARGETS = {"ratio.indexer_vs_web3_process_log": 5}
REPEATS = 40
BASELINE_LOGS = 10_000


def _activity(dep: Any) -> None:
    """Real transactions from anvil's unlocked accounts, without waiting on each receipt."""
    m = {label: v["address"] for label, v in dep.manifest["members"].items()}
    prov, token, s = dep.contract("Provenance"), dep.contract("SettlementToken"), dep.contract("OrderSettlement")
    gtin = 6901234567892
    prov.functions.registerProduct(gtin).transact({"from": m["merchant_a"]})
    prov.functions.registerBatch(gtin, "BENCH").transact({"from": m["merchant_a"]})
    batch = prov.functions.batchId(gtin, "BENCH").call()
    prov.functions.setRecorder(gtin, m["producer"], True).transact({"from": m["merchant_a"]})
    token.functions.mint(m["platform"], 10**12).transact({"from": m["issuer"]})
    token.functions.approve(s.address, 2**256 - 1).transact({"from": m["platform"]})
    for i in range(600):
        prov.functions.recordEvent(batch, keccak(text=f"e{i}")).transact({"from": m["producer"], "gas": 200_000})
    refs = (m["producer"], m["logistics"], m["inspector"])
    for i in range(150):  # one order per transaction: the indexer's load is the events, not the batching
        t = OrderTerms(
            keccak(text=f"bench-{i}"), 10_000 + i, m["merchant_a"], m["platform"], i + 1, refs, (500, 200, 100), 300
        )
        b = Batch.of([t])
        s.functions.escrow(b.accounts, b.words).transact({"from": m["platform"], "gas": 400_000})
        s.functions.confirmByPlatform(b.accounts, b.words, [b"\0" * 32]).transact(
            {"from": m["platform"], "gas": 300_000}
        )


def _repeat(logs: list[Any], times: int) -> list[AttributeDict]:
    out = []
    for k in range(times):
        for log in logs:
            d = dict(log)
            d["transactionHash"] = HexBytes(keccak(bytes(log["transactionHash"]) + k.to_bytes(4, "big")))
            out.append(AttributeDict(d))
    return out


def _baseline_rows(dep: Any, idx: Indexer, logs: list[Any]) -> list[dict[str, Any]]:
    """web3.py's per-log decoding, into the same rows."""
    by_address = {c["address"].lower(): dep.contract(n) for n, c in dep.manifest["contracts"].items()}
    topic_to_event: dict[tuple[str, bytes], Any] = {}
    for addr, contract in by_address.items():
        for ev in contract.events:
            topic_to_event[(addr, keccak(text=ev.signature))] = ev()
    rows = []
    for log in logs:
        ev = topic_to_event.get((log["address"].lower(), bytes(log["topics"][0])))
        if ev is None:
            continue
        decoded = ev.process_log(log)
        args = {k: ("0x" + v.hex() if isinstance(v, bytes) else v) for k, v in decoded["args"].items()}
        rows.append(
            {
                "tx_hash": "0x" + bytes(log["transactionHash"]).hex(),
                "log_index": int(log["logIndex"]),
                "block_number": int(log["blockNumber"]),
                "block_hash": "0x" + bytes(log["blockHash"]).hex(),
                "contract": idx.decoder.by_address[log["address"].lower()],
                "event": decoded["event"],
                "key": None,
                "args": json.dumps(args, default=str),
                "final": False,
            }
        )
    return rows


def measure(url: str, manifest: Path) -> dict[str, float]:
    w3 = connect(url)
    dep, _ = deploy(w3, manifest)
    _activity(dep)
    addresses = [c["address"] for c in dep.manifest["contracts"].values()]
    real = w3.eth.get_logs({"fromBlock": dep.manifest["deployed_at_block"], "toBlock": "latest", "address": addresses})
    logs = _repeat(real, REPEATS)
    head = w3.eth.block_number
    with tempfile.TemporaryDirectory() as tmp:
        engine = make_engine(f"sqlite:///{Path(tmp) / 'ours.sqlite3'}")
        migrate(engine)
        idx = Indexer(dep, engine)
        t = time.perf_counter()
        n = idx.ingest(logs, head, "0x" + "00" * 32)
        ours = n / (time.perf_counter() - t)

        base_engine = make_engine(f"sqlite:///{Path(tmp) / 'base.sqlite3'}")
        migrate(base_engine)
        base_idx = Indexer(dep, base_engine)
        sample = logs[:BASELINE_LOGS]
        t = time.perf_counter()
        rows = _baseline_rows(dep, base_idx, sample)
        base_idx.store(rows, {}, head)
        base = len(rows) / (time.perf_counter() - t)
    return {
        "indexer.logs_per_s": round(ours),
        "indexer.logs_timed": n,
        "indexer.real_logs": len(real),
        "baseline.indexer.web3_process_log_logs_per_s": round(base),
        "ratio.indexer_vs_web3_process_log": ours / base,
    }
