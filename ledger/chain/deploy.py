"""Deploy the contract set through web3 (no brownie at run time) and keep a deployment manifest.

The manifest (JSON: chain id, deployment block, addresses, ABIs, governance and the members
admitted at bootstrap) is what the API, the indexer and the CLI read. Deploying again with a
manifest for the same chain reuses it, provided the contracts are still there; a manifest from
another chain id is refused in one clear line.

The development bootstrap uses anvil's mnemonic accounts (see `DEV_LAYOUT`): three governors
with a threshold of two, and one member per role, each admitted through governance proposals.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from eth_account.signers.local import LocalAccount
from web3 import Web3
from web3.contract import Contract
from web3.logs import DISCARD

from ledger.access.roles import Role
from ledger.chain.client import ErrorDecoder, Sender, dev_accounts
from ledger.chain.compiler import load_artifacts
from ledger.chain.toolchain import EVM_VERSION, SOLC_VERSION
from ledger.errors import ManifestMismatch, ManifestMissing
from ledger.paths import manifest_path

#: dev account index => (label, roles); indexes 0-2 are the governors
DEV_LAYOUT: dict[int, tuple[str, Role]] = {
    3: ("platform", Role.OPERATOR),
    4: ("issuer", Role.ISSUER),
    5: ("merchant_a", Role.MERCHANT),
    6: ("merchant_b", Role.MERCHANT),
    7: ("producer", Role.PRODUCER),
    8: ("logistics", Role.LOGISTICS),
    9: ("inspector", Role.INSPECTOR),
    10: ("auditor", Role.AUDITOR),
    11: ("arbiter", Role.ARBITER),
}
GOVERNOR_INDEXES = (0, 1, 2)
THRESHOLD = 2
WITHDRAW_COOLDOWN_S = 7 * 24 * 3600
SETTLEMENT_TIMEOUT_S = 14 * 24 * 3600
PLATFORM_FEE_CAP_BPS = 1000
REFERRAL_CAPS_BPS = (1000, 500, 300)
#: a case award above this many fen needs CASE_QUORUM arbiters' signatures
CASE_THRESHOLD_FEN = 100_000
CASE_QUORUM = 2
CONTRACTS = ("Governance", "Membership", "SettlementToken", "Provenance", "GuaranteeVault", "OrderSettlement")
CONTRACTS += ("DeviceRegistry",)


@dataclass
class Deployment:
    """A loaded manifest bound to a node."""

    w3: Web3
    manifest: dict[str, Any]
    _contracts: dict[str, Contract] = field(default_factory=dict, repr=False, compare=False)

    def contract(self, name: str) -> Contract:
        """The bound contract (built once: building one parses its ABI, ~1 ms)."""
        if name not in self._contracts:
            c = self.manifest["contracts"][name]
            self._contracts[name] = self.w3.eth.contract(address=c["address"], abi=c["abi"])
        return self._contracts[name]

    def decoder(self) -> ErrorDecoder:
        return ErrorDecoder([c["abi"] for c in self.manifest["contracts"].values()])

    def logs(self, event: Any, **filters: Any) -> list[Any]:
        """Every log of `event` (e.g. `contract.events.X`) since the deployment, matching `filters`
        on its indexed arguments."""
        start = int(self.manifest["deployed_at_block"])
        return list(event().get_logs(from_block=start, argument_filters=filters or None))

    def sender(self, account: LocalAccount) -> Sender:
        return Sender(self.w3, account, self.decoder())


def load_manifest(path: Path | None = None) -> dict[str, Any]:
    path = path or manifest_path()
    if not path.exists():
        raise ManifestMissing(f"no deployment manifest at {path}: run `make run` or `python -m ledger deploy`")
    return json.loads(path.read_text())


def attach(w3: Web3, path: Path | None = None) -> Deployment:
    """Bind the manifest at `path` to node `w3`, checking chain id and code presence."""
    path = path or manifest_path()
    manifest = load_manifest(path)
    chain_id = w3.eth.chain_id
    if manifest["chain_id"] != chain_id:
        raise ManifestMismatch(
            f"manifest {path} is for chain id {manifest['chain_id']} but the node answers chain id {chain_id}; "
            "point LEDGER_RPC_URL at the right node or deploy anew with --fresh"
        )
    for name, c in manifest["contracts"].items():
        if w3.eth.get_code(c["address"]) in (b"", b"\x00"):
            raise ManifestMismatch(
                f"manifest {path} names {name} at {c['address']} but chain {chain_id} has no code there "
                "(was the chain reset?); deploy anew with --fresh"
            )
    return Deployment(w3, manifest)


def _govern(gov: Contract, senders: list[Sender], calls: list[tuple[str, str]]) -> None:
    """Propose each (target, calldata) and approve it until the threshold executes it. The calls
    are independent, so each round goes out at once and shares blocks: on a chain sealing every
    few seconds, bootstrap takes a few blocks rather than one per transaction."""
    proposer, *others = senders
    sent = [proposer.submit(gov.functions.propose(target, data)) for target, data in calls]
    receipts = [proposer.wait(h) for h in sent]
    pids = [gov.events.ProposalCreated().process_receipt(r, errors=DISCARD)[0]["args"]["id"] for r in receipts]
    for s in others[: THRESHOLD - 1]:
        for h in [s.submit(gov.functions.approve(pid)) for pid in pids]:
            s.wait(h)


def deploy(
    w3: Web3, path: Path | None = None, *, fresh: bool = False, accounts: list[LocalAccount] | None = None
) -> tuple[Deployment, bool]:
    """Deploy (or reuse) the contract set; return the deployment and whether it was new."""
    path = path or manifest_path()
    if path.exists() and not fresh:
        return attach(w3, path), False
    artifacts = load_artifacts()
    accounts = accounts or dev_accounts()
    decoder = ErrorDecoder([artifacts[n]["abi"] for n in CONTRACTS])
    governors = [Sender(w3, accounts[i], decoder) for i in GOVERNOR_INDEXES]
    deployer = governors[0]
    start_block = w3.eth.block_number + 1

    addresses: dict[str, str] = {}

    def _deploy(name: str, *args: Any) -> Contract:
        receipt = deployer.deploy(artifacts[name], *args)
        addresses[name] = receipt["contractAddress"]
        return w3.eth.contract(address=receipt["contractAddress"], abi=artifacts[name]["abi"])

    platform = accounts[3].address
    gov = _deploy("Governance", [g.address for g in governors], THRESHOLD)
    membership = _deploy("Membership", gov.address)
    token = _deploy("SettlementToken", membership.address)
    provenance = _deploy("Provenance", membership.address)
    vault = _deploy("GuaranteeVault", membership.address, token.address, WITHDRAW_COOLDOWN_S)
    settlement = _deploy("OrderSettlement", membership.address, token.address, platform, SETTLEMENT_TIMEOUT_S)
    _deploy("DeviceRegistry", membership.address, provenance.address)  # GIAIs under assigned prefixes

    members: dict[str, dict[str, Any]] = {}
    calls = []
    for index, (label, roles) in DEV_LAYOUT.items():
        addr = accounts[index].address
        calls.append((membership.address, membership.encode_abi("admit", [addr, int(roles)])))
        members[label] = {"address": addr, "roles": int(roles), "account_index": index}
    calls.append(
        (settlement.address, settlement.encode_abi("setCaps", [PLATFORM_FEE_CAP_BPS, list(REFERRAL_CAPS_BPS)]))
    )
    calls.append((vault.address, vault.encode_abi("setCaseRuling", [CASE_THRESHOLD_FEN, CASE_QUORUM])))
    _govern(gov, governors, calls)
    # the development merchants agree, each with its own key, to pay referrers up to the caps
    merchants = [Sender(w3, accounts[i], decoder) for i, (_, roles) in DEV_LAYOUT.items() if roles & Role.MERCHANT]
    terms = settlement.functions.setReferralTerms(list(REFERRAL_CAPS_BPS))
    for m, h in [(m, m.submit(terms)) for m in merchants]:
        m.wait(h)

    manifest = {
        "chain_id": w3.eth.chain_id,
        "deployed_at_block": start_block,
        "deployed_at": int(time.time()),
        "solc": SOLC_VERSION,
        "evm_version": EVM_VERSION,
        "governance": {"governors": [g.address for g in governors], "threshold": THRESHOLD},
        "members": members,
        "contracts": {n: {"address": addresses[n], "abi": artifacts[n]["abi"]} for n in CONTRACTS},
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(manifest, indent=1))
    tmp.replace(path)
    return Deployment(w3, manifest), True
