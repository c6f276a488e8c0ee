"""Governance as its members run it: typed actions encoded as proposals to the `Governance`
contract, proposals read back from its events (never from a table only the API writes), and the
final approval simulated first, so a proposal that would fail says why before the last governor
signs.

An action is a dict with `type` and its fields, e.g. `{"type": "admit_member", "address": "0x..",
"roles": ["merchant"]}`. Amounts are integer fen, rates basis points, durations seconds.
"""

from __future__ import annotations

from typing import Any

from web3.exceptions import ContractCustomError, ContractLogicError
from web3.logs import DISCARD

from ledger.access.roles import role_names

from .client import Sender
from .deploy import Deployment
from .governance_actions import ACTIONS, DECIMAL_TEXT, FIELDS, InvalidAction
from .revert_errors import error_text

__all__ = ["ACTIONS", "FIELDS", "InvalidAction", "approve", "council", "decode", "encode", "propose"]


def encode(dep: Deployment, action: Any) -> tuple[str, str]:
    """(target address, calldata) of an action, or InvalidAction naming the field."""
    if not isinstance(action, dict):
        raise InvalidAction("action", "must be an object with a type")
    kind = action.get("type")
    if not isinstance(kind, str) or kind not in ACTIONS:  # (a list as the type was a TypeError, a 500)
        raise InvalidAction("action.type", f"unknown action {kind!r}; one of {', '.join(ACTIONS)}")
    contract_name, fn, builders = ACTIONS[kind]
    if contract_name not in dep.manifest["contracts"]:
        raise InvalidAction("action.type", f"{contract_name} is not deployed on this chain")
    contract = dep.contract(contract_name)
    return contract.address, contract.encode_abi(fn, [b(action) for b in builders])


def decode(dep: Deployment, target: str, data: bytes) -> dict[str, Any]:
    """The action a proposal's call is, or `{"type": "call", ...}` for a call we do not type."""
    for kind, (contract_name, fn, _) in ACTIONS.items():
        if contract_name not in dep.manifest["contracts"]:
            continue  # PurchaseProofs: deployed by `ledger zk deploy`, not with the rest
        contract = dep.contract(contract_name)
        if contract.address.lower() != target.lower():
            continue
        try:
            func, args = contract.decode_function_input(data)
        except ValueError:
            continue
        if func.fn_name != fn or args.get("authorized", kind == "add_validator") != (kind == "add_validator"):
            continue
        out: dict[str, Any] = {"type": kind}
        for name, value in zip(FIELDS[kind], args.values(), strict=True):
            out[name] = role_names(value) if name == "roles" else str(value) if name in DECIMAL_TEXT else value
            if isinstance(value, bytes):
                out[name] = "0x" + value.hex()
            if isinstance(value, (list, tuple)):
                out[name] = list(value)
        return out
    return {"type": "call", "target": target, "data": "0x" + bytes(data).hex()}


def council(dep: Deployment) -> dict[str, Any]:
    gov = dep.contract("Governance")
    logs = dep.logs(gov.events.GovernorAdded) + dep.logs(gov.events.GovernorRemoved)
    governors = sorted(
        {log["args"]["governor"] for log in logs if gov.functions.isGovernor(log["args"]["governor"]).call()}
    )
    return {
        "address": gov.address,
        "governors": governors,
        "threshold": int(gov.functions.threshold().call()),
        "proposal_count": int(gov.functions.proposalCount().call()),
    }


def proposals(dep: Deployment, proposal_id: int | None = None) -> list[dict[str, Any]]:
    """Proposals as the chain's events tell them, newest first, each with its decoded action, its
    reason, approvals and status: `open`, `executed`, or `expired` (not executed within the
    contract's `PROPOSAL_LIFETIME` of being proposed: the chain refuses further approvals).
    `approvals` are those that count now, by current governors; `void_approvals` those by
    governors removed since, which the contract no longer counts."""
    gov = dep.contract("Governance")
    filters = {"id": proposal_id} if proposal_id is not None else {}
    created = dep.logs(gov.events.ProposalCreated, **filters)
    reasons = {log["args"]["id"]: log["args"]["reason"] for log in dep.logs(gov.events.ProposalReason, **filters)}
    approvals: dict[int, list[str]] = {}
    for log in dep.logs(gov.events.ProposalApproved, **filters):
        approvals.setdefault(log["args"]["id"], []).append(log["args"]["governor"])
    current = {g: bool(gov.functions.isGovernor(g).call()) for g in {g for a in approvals.values() for g in a}}
    executed = {log["args"]["id"]: log for log in dep.logs(gov.events.ProposalExecuted, **filters)}
    lifetime = int(gov.functions.PROPOSAL_LIFETIME().call())
    now = int(dep.w3.eth.get_block("latest")["timestamp"])
    out = []
    for log in sorted(created, key=lambda x: -x["args"]["id"]):
        pid, a = log["args"]["id"], log["args"]
        done = executed.get(pid)
        expires_at = int(dep.w3.eth.get_block(log["blockNumber"])["timestamp"]) + lifetime
        status = "executed" if done else "expired" if now > expires_at else "open"
        out.append(
            {
                "id": pid,
                "proposer": a["proposer"],
                "action": decode(dep, a["target"], a["data"]),
                "reason": reasons.get(pid),
                "approvals": [g for g in approvals.get(pid, []) if current[g]],
                "void_approvals": [g for g in approvals.get(pid, []) if not current[g]],
                "status": status,
                "expires_at": expires_at,
                "proposed_in": {"tx": "0x" + bytes(log["transactionHash"]).hex(), "block": log["blockNumber"]},
                "executed_in": (
                    {"tx": "0x" + bytes(done["transactionHash"]).hex(), "block": done["blockNumber"]} if done else None
                ),
            }
        )
    return out


def simulate_approval(dep: Deployment, proposal_id: int, governor: str) -> dict[str, Any]:
    """What `governor`'s approval would do now, without sending it: `{"ok": true}`, or the error
    the chain would answer (the target's custom error when the approval would execute it)."""
    try:
        dep.contract("Governance").functions.approve(proposal_id).call({"from": governor})
    except (ContractCustomError, ContractLogicError) as exc:
        data = exc.data if isinstance(exc.data, str) else None
        decoded = dep.decoder().decode(data) if data else None
        error = error_text(*decoded) if decoded else str(exc)
        return {"ok": False, "error": error}
    return {"ok": True}


def propose(dep: Deployment, governor: Sender, action: dict, reason: str) -> int:
    target, data = encode(dep, action)
    gov = dep.contract("Governance")
    receipt = governor.transact(gov.functions.proposeWithReason(target, data, reason))
    return int(gov.events.ProposalCreated().process_receipt(receipt, errors=DISCARD)[0]["args"]["id"])


def approve(dep: Deployment, governor: Sender, proposal_id: int) -> Any:
    return governor.transact(dep.contract("Governance").functions.approve(proposal_id))
