"""The purchase proofs on chain: the Groth16 verifier snarkjs generated from this machine's key
(compiled here, for the consortium's EVM version: no PUSH0), `PurchaseProofs` behind it, both
added to the deployment manifest; and the calls that use them, each with an explicit gas limit.

Why explicit: the generated verifier answers false, not a revert, when the pairing precompile runs
out of gas, and a node's gas estimate for a call that reverts on a short verifier is no guide;
`PurchaseProofs` refuses a call that leaves the verifier less than VERIFY_GAS (VerifyGasTooLow),
and every call here sends PROOF_TX_GAS, simulated first with the same limit so that a refusal is
named (UnknownRoot, NullifierUsed, InvalidProof...) before anything is sent."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from web3.exceptions import ContractCustomError, ContractLogicError

from ledger.chain.client import Sender, TransactionFailed
from ledger.chain.compiler import load_artifacts
from ledger.chain.deploy import Deployment
from ledger.chain.revert_errors import error_text
from ledger.chain.toolchain import EVM_VERSION, ensure_solc
from ledger.errors import CompileFailed
from ledger.paths import manifest_path

from .build import BUILD, build

#: gas for a review, claim or dispute transaction: the verifier's 260,000 and the bookkeeping
PROOF_TX_GAS = 450_000
VERIFIER = "PurchaseVerifier"


def verifier_artifact() -> dict[str, Any]:
    """The generated verifier, compiled once per key (`build/zk/Groth16Verifier.json`)."""
    m = build()
    src = (BUILD / m["files"]["verifier"]).read_text()
    digest = hashlib.sha256((src + EVM_VERSION).encode()).hexdigest()
    out = BUILD / "Groth16Verifier.json"
    if out.exists() and (art := json.loads(out.read_text())).get("sha256") == digest:
        return art
    import solcx

    std = {
        "language": "Solidity",
        "sources": {"Groth16Verifier.sol": {"content": src}},
        "settings": {
            "evmVersion": EVM_VERSION,
            "optimizer": {"enabled": True, "runs": 200},
            "outputSelection": {"*": {"*": ["abi", "evm.bytecode.object"]}},
        },
    }
    res = solcx.compile_standard(std, solc_binary=ensure_solc())
    errors = [e["message"] for e in res.get("errors", []) if e.get("severity") == "error"]
    if errors:
        raise CompileFailed("; ".join(errors))
    c = res["contracts"]["Groth16Verifier.sol"]["Groth16Verifier"]
    art = {"abi": c["abi"], "bytecode": "0x" + c["evm"]["bytecode"]["object"], "sha256": digest, "evm": EVM_VERSION}
    out.write_text(json.dumps(art))
    return art


def deploy(dep: Deployment, deployer: Sender, path: Path | None = None) -> dict[str, str]:
    """Deploy the verifier and `PurchaseProofs` (unless the manifest has them, for this key) and
    record both in the deployment manifest."""
    vk_sha = build()["sha256"]["vkey"]
    proofs_art = load_artifacts()["PurchaseProofs"]
    code_sha = hashlib.sha256(proofs_art["bytecode"].encode()).hexdigest()  # a changed contract: again
    have = dep.manifest["contracts"].get("PurchaseProofs")
    if (
        have
        and (have.get("vkey_sha256"), have.get("code_sha256")) == (vk_sha, code_sha)
        and dep.w3.eth.get_code(have["address"]) not in (b"", b"\x00")
    ):
        return {n: dep.manifest["contracts"][n]["address"] for n in (VERIFIER, "PurchaseProofs")}
    varts = verifier_artifact()
    v = deployer.deploy(varts)["contractAddress"]
    membership, provenance = (dep.manifest["contracts"][n]["address"] for n in ("Membership", "Provenance"))
    p = deployer.deploy(proofs_art, membership, v, provenance)["contractAddress"]
    dep.manifest["contracts"][VERIFIER] = {"address": v, "abi": varts["abi"]}
    dep.manifest["contracts"]["PurchaseProofs"] = {
        "address": p, "abi": proofs_art["abi"], "vkey_sha256": vk_sha, "code_sha256": code_sha,
    }  # fmt: skip
    dep._contracts.pop("PurchaseProofs", None)
    dep._contracts.pop(VERIFIER, None)
    path = path or manifest_path()
    tmp = path.with_suffix(".zk.tmp")
    tmp.write_text(json.dumps(dep.manifest, indent=1))
    tmp.replace(path)
    return {VERIFIER: v, "PurchaseProofs": p}


def send(dep: Deployment, sender: Sender, fn: Any, gas: int = PROOF_TX_GAS) -> Any:
    """Simulate `fn` with `gas` (a refusal raises TransactionFailed naming the contract's error),
    then send it with that same explicit limit."""
    try:
        fn.call({"from": sender.address, "gas": gas})
    except (ContractCustomError, ContractLogicError) as exc:
        data = exc.data if isinstance(exc.data, str) else None
        decoded = dep.decoder().decode(data) if data else None
        if decoded:
            raise TransactionFailed(f"reverted: {error_text(*decoded)}", *decoded) from None
        raise TransactionFailed(f"reverted: {exc}") from None
    return sender.transact(fn, gas=gas)


_DOMAINS: dict[tuple[str, str], tuple[int, str]] = {}


def domain(dep: Deployment) -> tuple[int, str]:
    """What every proof's message binds (`fields.Domain`): this chain's id and PurchaseProofs'.
    Asked of the node once per node and contract (anyone may ask `GET /v1/purchases/domain`)."""
    address = dep.contract("PurchaseProofs").address
    key = (str(getattr(dep.w3.provider, "endpoint_uri", id(dep.w3))), address)
    if key not in _DOMAINS:
        _DOMAINS[key] = (int(dep.w3.eth.chain_id), address)
    return _DOMAINS[key]


def vouched(dep: Deployment, since: int = 0) -> list[dict[str, Any]]:
    """The Vouched logs (carriers' vouching calls) holding commitments from index `since` on, in
    order: {first, commitments, carrier, tx}."""
    c = dep.contract("PurchaseProofs")
    out = []
    for log in dep.logs(c.events.Vouched):
        a = log["args"]
        if int(a["first"]) + len(a["commitments"]) > since:
            out.append(
                {
                    "first": int(a["first"]),
                    "commitments": [int(x) for x in a["commitments"]],
                    "carrier": a["carrier"],
                    "tx": "0x" + bytes(log["transactionHash"]).hex(),
                }
            )
    return sorted(out, key=lambda x: x["first"])


def anchored(dep: Deployment) -> list[dict[str, Any]]:
    """Every RootAnchored log, in order: {seq, root, firstLeaf, leaves, zeroed, block}."""
    c = dep.contract("PurchaseProofs")
    out = []
    for log in dep.logs(c.events.RootAnchored):
        a = log["args"]
        out.append(
            {
                "seq": int(a["seq"]),
                "root": int(a["root"]),
                "firstLeaf": int(a["firstLeaf"]),
                "leaves": [int(x) for x in a["leaves"]],
                "zeroed": [int(x) for x in a["zeroed"]],
                "block": log["blockNumber"],
            }
        )
    return sorted(out, key=lambda x: x["seq"])


def verifier_gas(dep: Deployment, proof: list[int], public: list[int]) -> dict[str, int]:
    """What a proof's check costs, found by asking the verifier itself: the least gas for which it
    answers true (binary search over calls), less the transaction's intrinsic cost, beside the
    node's estimate, which stops at the least gas that does not revert: the verifier then answers
    false, so the estimate is far too low."""
    v = dep.contract(VERIFIER)
    fn = v.functions.verifyProof([proof[0], proof[1]], [[proof[2], proof[3]], [proof[4], proof[5]]], proof[6:8], public)
    data = bytes.fromhex(fn._encode_transaction_data()[2:])
    intrinsic = 21_000 + sum(16 if b else 4 for b in data)
    lo, hi = intrinsic, 2_000_000
    if not fn.call({"gas": hi}):
        raise ValueError("the verifier rejects this proof")
    while hi - lo > 100:
        mid = (lo + hi) // 2
        lo, hi = (lo, mid) if fn.call({"gas": mid}) else (mid, hi)
    return {"needed": hi, "verify": hi - intrinsic, "estimate": int(fn.estimate_gas())}


#: development default: a root pays claims a minute after it is anchored (production: hours, the
#: time members need to recompute a root from the logs and revoke it if wrong)
DEV_CLAIM_DELAY_S = 60


def wire_claims(dep: Deployment, governors: list[Sender], delay: int = DEV_CLAIM_DELAY_S) -> None:
    """Governance lets PurchaseProofs pay proven claims from GuaranteeVault's deposits: the vault
    names it its claims payer, it names the vault and a root's age before it pays. Proposed by the
    first governor, approved by the next until the threshold executes each (nothing if already so)."""
    from ledger.chain import governance

    proofs, vault = dep.contract("PurchaseProofs"), dep.contract("GuaranteeVault")
    actions = []
    if vault.functions.claimsPayer().call() != proofs.address:
        actions.append({"type": "set_claims_payer", "address": proofs.address})
    if proofs.functions.claimVault().call() != vault.address or proofs.functions.claimDelay().call() != delay:
        actions.append({"type": "set_claim_payout", "vault": vault.address, "delay_seconds": delay})
    threshold = int(dep.contract("Governance").functions.threshold().call())
    for action in actions:
        pid = governance.propose(dep, governors[0], action, "shoppers' proven claims paid from deposits")
        for g in governors[1:threshold]:
            governance.approve(dep, g, pid)
