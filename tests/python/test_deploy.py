"""Deployment through `ledger` (web3, no brownie), the manifest, and its one-line errors."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from eth_utils import keccak

from ledger.access.roles import Role
from ledger.chain.client import TransactionFailed, connect
from ledger.chain.deploy import CONTRACTS, DEV_LAYOUT, attach, deploy
from ledger.errors import ManifestMismatch, NodeUnavailable
from ledger.trace.merkle import MerkleTree


def test_manifest_records_chain_addresses_and_abis(deployment, chain_node):
    _, path = deployment
    m = json.loads(path.read_text())
    assert m["chain_id"] == 31337 and m["evm_version"] == "paris" and m["solc"] == "0.8.28"
    # `ledger zk deploy` adds the purchase proofs to the same manifest later (test_zk_purchases does,
    # in this session's deployment, and may run first on another order of the modules)
    assert set(m["contracts"]) - {"PurchaseProofs", "PurchaseVerifier"} == set(CONTRACTS)
    w3 = connect(chain_node.url)
    for c in m["contracts"].values():
        assert len(w3.eth.get_code(c["address"])) > 100
        assert any(item.get("type") == "function" for item in c["abi"])


def test_members_admitted_through_governance(deployment):
    dep, _ = deployment
    membership = dep.contract("Membership")
    for label, (_, roles) in ((m["address"], (None, m["roles"])) for m in dep.manifest["members"].values()):
        assert membership.functions.rolesOf(label).call() == roles
    assert len(dep.manifest["members"]) == len(DEV_LAYOUT)
    gov = dep.contract("Governance")
    assert gov.functions.threshold().call() == 2
    assert membership.functions.governance().call() == gov.address


def test_second_deploy_reuses(deployment, chain_node):
    dep, path = deployment
    again, new = deploy(connect(chain_node.url), path)
    assert not new
    assert again.manifest["contracts"] == dep.manifest["contracts"]


def test_contracts_work_through_web3(deployment, accounts):
    """Mint, register, record into the hash chain, anchor a root and verify a proof, all via ledger."""
    dep, _ = deployment
    members = dep.manifest["members"]
    acct = {label: accounts[m["account_index"]] for label, m in members.items()}
    token, prov = dep.contract("SettlementToken"), dep.contract("Provenance")
    before = token.functions.balanceOf(acct["merchant_a"].address).call()  # other tests share the chain
    dep.sender(acct["issuer"]).transact(token.functions.mint(acct["merchant_a"].address, 500_00))
    assert token.functions.balanceOf(acct["merchant_a"].address).call() - before == 500_00

    merchant = dep.sender(acct["merchant_a"])
    merchant.transact(prov.functions.registerProduct(4006381333931))
    merchant.transact(prov.functions.registerBatch(4006381333931, "LOT-7"))
    batch = prov.functions.batchId(4006381333931, "LOT-7").call()
    event_hash = keccak(text="harvested")
    merchant.transact(prov.functions.setRecorder(4006381333931, acct["producer"].address, True))
    dep.sender(acct["producer"]).transact(prov.functions.recordEvent(batch, event_hash))
    _, count, head, _ = prov.functions.batch(batch).call()
    assert count == 1 and head == keccak(b"\x00" * 32 + event_hash)

    hashes = [keccak(text=f"e{i}") for i in range(10)]
    tree = MerkleTree(hashes)
    dep.sender(acct["logistics"]).transact(prov.functions.anchor(tree.root, 10, "file:///events.jsonl"))
    assert prov.functions.verifyEvent(tree.root, hashes[3], tree.proof(3)).call()


def test_revert_reports_custom_error_by_name(deployment, accounts):
    dep, _ = deployment
    auditor = accounts[dep.manifest["members"]["auditor"]["account_index"]]
    with pytest.raises(TransactionFailed) as exc:
        dep.sender(auditor).transact(dep.contract("Provenance").functions.registerProduct(6901234567892))
    assert exc.value.error == "MissingRole"
    assert str(exc.value) == f"reverted: MissingRole({auditor.address}, {int(Role.MERCHANT)})"


def test_manifest_from_another_chain_is_refused(deployment, anvil_factory, tmp_path):
    _, path = deployment
    other = anvil_factory(chain_id=4242)
    copy = tmp_path / "deployment.json"
    copy.write_text(path.read_text())
    w3 = connect(other.url)
    with pytest.raises(ManifestMismatch) as exc:
        attach(w3, copy)
    assert "chain id 31337 but the node answers chain id 4242" in str(exc.value)
    assert "\n" not in str(exc.value)


def test_reset_chain_is_detected(deployment, anvil_factory, tmp_path):
    _, path = deployment
    fresh = anvil_factory()  # same chain id, no contracts
    with pytest.raises(ManifestMismatch, match="has no code there"):
        attach(connect(fresh.url), path)


def test_node_down_is_one_clear_line():
    with pytest.raises(NodeUnavailable) as exc:
        connect("http://127.0.0.1:9", timeout=2)
    msg = str(exc.value)
    assert msg.startswith("EVM node at http://127.0.0.1:9 does not answer JSON-RPC") and "\n" not in msg


def test_cli_reports_node_down_in_one_line(tmp_path):
    env = {**os.environ, "LEDGER_RPC_URL": "http://127.0.0.1:9", "LEDGER_DATA_DIR": str(tmp_path)}
    out = subprocess.run(
        [sys.executable, "-m", "ledger", "deploy"], check=False, env=env, capture_output=True, text=True
    )
    assert out.returncode == 1
    assert out.stderr.strip().count("\n") == 0
    assert out.stderr.startswith("ledger: EVM node at http://127.0.0.1:9 does not answer JSON-RPC")
