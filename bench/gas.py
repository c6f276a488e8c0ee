"""Gas of the contracts, measured from the receipts of real transactions on anvil.

Each figure is the `gasUsed` of a real transaction. The baseline is the naive design that stores
every event as a struct in storage (`contracts/bench/NaiveEventStore.sol`), measured in the same
run; ratios say how many times cheaper traceledger's way is. Budgets from the issue are checked
and the command exits 1 if one is exceeded.

"""

from __future__ import annotations

from pathlib import Path

from eth_utils import keccak

from ledger.chain.client import Sender
from ledger.chain.compiler import load_artifacts
from ledger.trace.merkle import MerkleTree

from .fresh import fresh_deployment

BUDGETS = {"gas.record_event": 60_000, "gas.anchor_root": 60_000}
GTIN = 6901234567892


def measure(url: str, manifest: Path) -> dict[str, float]:
    w3, dep, accounts, who = fresh_deployment(url, manifest)
    prov, token = dep.contract("Provenance"), dep.contract("SettlementToken")
    vault = dep.contract("GuaranteeVault")
    metrics: dict[str, float] = {}

    # provenance: a warm batch (the first event already recorded)
    who["merchant_a"].transact(prov.functions.registerProduct(GTIN))
    who["merchant_a"].transact(prov.functions.registerBatch(GTIN, "BENCH-1"))
    batch = prov.functions.batchId(GTIN, "BENCH-1").call()
    who["merchant_a"].transact(prov.functions.setRecorder(GTIN, who["producer"].address, True))
    who["producer"].transact(prov.functions.recordEvent(batch, keccak(text="e0")))
    gas = [
        who["producer"].transact(prov.functions.recordEvent(batch, keccak(text=f"e{i}")))["gasUsed"]
        for i in range(1, 11)
    ]
    metrics["gas.record_event"] = max(gas)

    # anchoring: one root, whatever the leaf count
    for n in (1_000, 10_000):
        tree = MerkleTree([keccak(text=f"leaf-{n}-{i}") for i in range(n)])
        uri = f"https://resolver.example/anchors/{tree.root.hex()[:16]}.jsonl"
        metrics[f"gas.anchor_root_{n}"] = who["logistics"].transact(prov.functions.anchor(tree.root, n, uri))["gasUsed"]
    metrics["gas.anchor_root"] = metrics["gas.anchor_root_10000"]
    metrics["gas.per_event_anchored_1k"] = metrics["gas.anchor_root_1000"] / 1_000
    metrics["gas.per_event_anchored_10k"] = metrics["gas.anchor_root_10000"] / 10_000
    # baseline: one event per transaction (each into the batch's hash chain), same run
    metrics["baseline.gas.per_event_one_per_tx"] = metrics["gas.record_event"]
    for k in ("1k", "10k"):
        metrics[f"ratio.one_per_tx_vs_anchored_{k}"] = (
            metrics["baseline.gas.per_event_one_per_tx"] / metrics[f"gas.per_event_anchored_{k}"]
        )

    # baseline: every event a struct in storage
    naive_art = load_artifacts()["NaiveEventStore"]
    deployer = Sender(w3, accounts[0])
    naive = w3.eth.contract(address=deployer.deploy(naive_art)["contractAddress"], abi=naive_art["abi"])
    deployer.transact(naive.functions.store(batch, keccak(text="n0"), "urn:epcglobal:cbv:bizstep:shipping"))
    gas = [
        deployer.transact(naive.functions.store(batch, keccak(text=f"n{i}"), "urn:epcglobal:cbv:bizstep:shipping"))[
            "gasUsed"
        ]
        for i in range(1, 11)
    ]
    metrics["baseline.gas.naive_store_event"] = max(gas)
    metrics["ratio.naive_vs_record_event"] = metrics["baseline.gas.naive_store_event"] / metrics["gas.record_event"]
    metrics["ratio.naive_vs_anchor_per_event_10k"] = (
        metrics["baseline.gas.naive_store_event"] / metrics["gas.per_event_anchored_10k"]
    )

    # money
    merchant = who["merchant_a"]
    who["issuer"].transact(token.functions.mint(merchant.address, 10**9))
    merchant.transact(token.functions.approve(vault.address, 2**256 - 1))
    metrics["gas.deposit"] = merchant.transact(vault.functions.deposit(5_000_000))["gasUsed"]
    metrics["gas.deposit_warm"] = merchant.transact(vault.functions.deposit(1_000))["gasUsed"]
    return metrics
