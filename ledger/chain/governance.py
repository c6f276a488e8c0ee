"""Governance as its members run it: typed actions encoded as proposals to the `Governance`
contract, proposals read back from its events (never from a table only the API writes), and the
final approval simulated first, so a proposal that would fail says why before the last governor
signs.

An action is a dict with `type` and its fields, e.g. `{"type": "admit_member", "address": "0x..",
"roles": ["merchant"]}`. Amounts are integer fen, rates basis points, durations seconds.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from eth_utils import is_address, to_checksum_address
from web3.exceptions import ContractCustomError, ContractLogicError
from web3.logs import DISCARD

from ledger.access.roles import Role, role_names
from ledger.errors import LedgerError

from .client import Sender
from .deploy import Deployment


class InvalidAction(LedgerError):
    """A proposal's action is malformed; `field` names what is wrong."""

    def __init__(self, field: str, reason: str):
        self.field, self.reason = field, reason
        super().__init__(f"{field}: {reason}")


def _address(action: dict, name: str) -> str:
    value = action.get(name)
    if not isinstance(value, str) or not is_address(value):
        raise InvalidAction(f"action.{name}", "must be an Ethereum address")
    return to_checksum_address(value)


def _int(action: dict, name: str, low: int, high: int) -> int:
    value = action.get(name)
    if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
        raise InvalidAction(f"action.{name}", f"must be a whole number from {low} to {high}")
    return value


def _roles(action: dict) -> int:
    names = action.get("roles")
    if not isinstance(names, list) or not names:
        raise InvalidAction("action.roles", "must be a non-empty list of role names")
    flags = Role(0)
    for n in names:
        role = Role.__members__.get(str(n).upper())
        if role is None or role == Role.GOVERNOR:
            raise InvalidAction("action.roles", f"unknown role {n!r}")
        flags |= role
    return int(flags)


def _bps3(action: dict) -> list[int]:
    value = action.get("referral_bps")
    if not isinstance(value, list) or len(value) != 3:
        raise InvalidAction("action.referral_bps", "must be three basis-point caps, one per referral level")
    return [_int({"v": v}, "v", 0, 10_000) for v in value]


def _bytes32(action: dict, name: str) -> bytes:
    value = action.get(name)
    if not isinstance(value, str) or len(value.removeprefix("0x")) != 64:
        raise InvalidAction(f"action.{name}", "must be 32 bytes as 64 hex digits (0x...)")
    try:
        return bytes.fromhex(value.removeprefix("0x"))
    except ValueError:
        raise InvalidAction(f"action.{name}", "must be 32 bytes as 64 hex digits (0x...)") from None


def _text(action: dict, name: str, limit: int) -> str:
    value = action.get(name)
    if not isinstance(value, str) or not value.strip() or len(value) > limit:
        raise InvalidAction(f"action.{name}", f"must be a non-empty text of at most {limit} characters")
    return value


def _prefix(action: dict) -> str:
    value = action.get("prefix")
    if not isinstance(value, str) or not (6 <= len(value) <= 12 and value.isascii() and value.isdigit()):
        raise InvalidAction("action.prefix", "must be a GS1 company prefix: 6 to 12 digits, leading zeros included")
    return value


U64 = 2**64 - 1
#: OrderSettlement.MAX_PERIOD: an order's deadline has 40 bits in its record
MAX_PERIOD = 2**32
#: action type -> (contract, function, argument builders), in the function's argument order
ACTIONS: dict[str, tuple[str, str, list[Callable[[dict], Any]]]] = {
    "admit_member": ("Membership", "admit", [lambda a: _address(a, "address"), _roles]),
    "set_roles": ("Membership", "setRoles", [lambda a: _address(a, "address"), _roles]),
    "remove_member": ("Membership", "remove", [lambda a: _address(a, "address")]),
    "set_caps": (
        "OrderSettlement",
        "setCaps",
        [lambda a: _int(a, "platform_fee_bps", 0, 10_000), _bps3],
    ),
    "set_minimum_deposit": (
        "GuaranteeVault",
        "setMinimum",
        [lambda a: _address(a, "merchant"), lambda a: _int(a, "minimum_fen", 0, 2**96 - 1)],
    ),
    "set_withdrawal_cooldown": ("GuaranteeVault", "setCooldown", [lambda a: _int(a, "seconds", 0, U64)]),
    "set_settlement_timeout": ("OrderSettlement", "setTimeout", [lambda a: _int(a, "seconds", 0, MAX_PERIOD)]),
    "set_return_window": ("OrderSettlement", "setReturnWindow", [lambda a: _int(a, "seconds", 0, MAX_PERIOD)]),
    "set_ruling": (
        "OrderSettlement",
        "setRuling",
        [lambda a: _int(a, "threshold_fen", 0, 2**48 - 1), lambda a: _int(a, "quorum", 1, 255)],
    ),
    "set_case_ruling": (
        "GuaranteeVault",
        "setCaseRuling",
        [lambda a: _int(a, "threshold_fen", 0, 2**96 - 1), lambda a: _int(a, "quorum", 2, 255)],
    ),
    "add_governor": ("Governance", "addGovernor", [lambda a: _address(a, "address")]),
    "remove_governor": ("Governance", "removeGovernor", [lambda a: _address(a, "address")]),
    "set_threshold": ("Governance", "setThreshold", [lambda a: _int(a, "threshold", 1, 1000)]),
    # a recall by the council (Provenance lets inspectors and operators recall: the council holds the
    # inspector role once a proposal has admitted the Governance contract with it)
    "recall_batch": ("Provenance", "recall", [lambda a: _bytes32(a, "batch_id"), lambda a: _text(a, "reason", 500)]),
    # shoppers' proven claims paid from deposits (docs/zk.md): the vault names its payer, the
    # proofs contract its vault and a root's age before it pays; terms per batch (e.g. a recall)
    "set_claims_payer": ("GuaranteeVault", "setClaimsPayer", [lambda a: _address(a, "address")]),
    "set_claim_payout": (
        "PurchaseProofs",
        "setClaimPayout",
        [lambda a: _address(a, "vault"), lambda a: _int(a, "delay_seconds", 0, U64)],
    ),
    "set_claim_terms": (
        "PurchaseProofs",
        "imposeClaimTerms",
        [
            lambda a: _int(a, "batch", 0, 2**254),
            lambda a: _address(a, "merchant"),
            lambda a: _int(a, "amount_fen", 0, 2**96 - 1),
            lambda a: _int(a, "until", 0, U64),
            lambda a: _int(a, "count", 0, 2**32 - 1),
        ],
    ),
    # a GS1 company prefix to its licensee, a merchant member (the zero address: unassigned): GTINs
    # under it are the holder's to register or take back (Provenance.reclaimProduct)
    "assign_prefix": ("Provenance", "assignPrefix", [_prefix, lambda a: _address(a, "holder")]),
    # a purchase root one auditor's or operator's key voided, found right by the council (docs/zk.md)
    "reinstate_root": ("PurchaseProofs", "reinstateRoot", [lambda a: _int(a, "root", 1, 2**256 - 1)]),
    # a block sealer of the consortium (ledger.devnet.validators: each node votes as decided)
    "add_validator": ("Governance", "setValidator", [lambda a: _address(a, "address"), lambda a: True]),
    "remove_validator": ("Governance", "setValidator", [lambda a: _address(a, "address"), lambda a: False]),
}
#: the fields of each action, in argument order, as `decode` names them
FIELDS = {
    "admit_member": ["address", "roles"],
    "set_roles": ["address", "roles"],
    "remove_member": ["address"],
    "set_caps": ["platform_fee_bps", "referral_bps"],
    "set_minimum_deposit": ["merchant", "minimum_fen"],
    "set_withdrawal_cooldown": ["seconds"],
    "set_settlement_timeout": ["seconds"],
    "set_return_window": ["seconds"],
    "set_ruling": ["threshold_fen", "quorum"],
    "set_case_ruling": ["threshold_fen", "quorum"],
    "add_governor": ["address"],
    "remove_governor": ["address"],
    "set_threshold": ["threshold"],
    "recall_batch": ["batch_id", "reason"],
    "set_claims_payer": ["address"],
    "set_claim_payout": ["vault", "delay_seconds"],
    "set_claim_terms": ["batch", "merchant", "amount_fen", "until", "count"],
    "assign_prefix": ["prefix", "holder"],
    "reinstate_root": ["root"],
    "add_validator": ["address", "authorized"],
    "remove_validator": ["address", "authorized"],
}


def encode(dep: Deployment, action: Any) -> tuple[str, str]:
    """(target address, calldata) of an action, or InvalidAction naming the field."""
    if not isinstance(action, dict):
        raise InvalidAction("action", "must be an object with a type")
    kind = action.get("type")
    if kind not in ACTIONS:
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
            out[name] = role_names(value) if name == "roles" else value
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
        error = f"{decoded[0]}({', '.join(map(str, decoded[1]))})" if decoded else str(exc)
        return {"ok": False, "error": error}
    return {"ok": True}


def propose(dep: Deployment, governor: Sender, action: dict, reason: str) -> int:
    target, data = encode(dep, action)
    gov = dep.contract("Governance")
    receipt = governor.transact(gov.functions.proposeWithReason(target, data, reason))
    return int(gov.events.ProposalCreated().process_receipt(receipt, errors=DISCARD)[0]["args"]["id"])


def approve(dep: Deployment, governor: Sender, proposal_id: int) -> Any:
    return governor.transact(dep.contract("Governance").functions.approve(proposal_id))
