"""Governance's typed actions: each action type's contract, function and argument builders (which
check the fields a client sent and name the one that is wrong), and the fields `decode` gives back.

An action is a dict with `type` and its fields, e.g. `{"type": "admit_member", "address": "0x..",
"roles": ["merchant"]}`. Amounts are integer fen, rates basis points, durations seconds.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from eth_utils import is_address, to_checksum_address

from ledger.access.roles import Role
from ledger.errors import LedgerError


class InvalidAction(LedgerError):
    """A proposal's action is malformed; `field` names what is wrong."""

    def __init__(self, field: str, reason: str):
        self.field, self.reason = field, reason
        super().__init__(f"{field}: {reason}")


def _address(action: dict, name: str) -> str:
    value = action.get(name)
    if not isinstance(value, str) or not is_address(value):
        raise InvalidAction(f"action.{name}", "must be an Ethereum address")
    if int(value, 16) == 0:  # every contract refuses it: a proposal that could only ever revert
        raise InvalidAction(f"action.{name}", "must not be the zero address")
    return to_checksum_address(value)


def _int(action: dict, name: str, low: int, high: int) -> int:
    value = action.get(name)
    if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
        raise InvalidAction(f"action.{name}", f"must be a whole number from {low} to {high}")
    return value


#: fields that may exceed what a browser's numbers hold exactly (2^53): taken as a whole number or
#: its decimal digits, and given back as decimal digits (as the purchases API writes roots)
DECIMAL_TEXT = frozenset({"root", "batch"})


def _big(action: dict, name: str, low: int, high: int) -> int:
    value = action.get(name)
    if isinstance(value, str) and value.isascii() and value.isdigit() and len(value) <= 78:
        return _int({name: int(value)}, name, low, high)
    return _int(action, name, low, high)


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
    caps = [_int({"v": v}, "v", 0, 10_000) for v in value]
    fee = action.get("platform_fee_bps")
    total = sum(caps) + (fee if isinstance(fee, int) and not isinstance(fee, bool) else 0)
    if total > 10_000:  # the contract's CapsTooHigh: a proposal that could only ever revert
        raise InvalidAction("action.referral_bps", f"the caps together ({total} bps) may not exceed 10,000 bps")
    return caps


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
    "set_withdrawal_cooldown": ("GuaranteeVault", "setCooldown", [lambda a: _int(a, "seconds", 0, MAX_PERIOD)]),
    "set_settlement_timeout": ("OrderSettlement", "setTimeout", [lambda a: _int(a, "seconds", 0, MAX_PERIOD)]),
    "set_return_window": ("OrderSettlement", "setReturnWindow", [lambda a: _int(a, "seconds", 0, MAX_PERIOD)]),
    "set_ruling": (
        "OrderSettlement",
        "setRuling",
        [lambda a: _int(a, "threshold_fen", 0, 2**48 - 1), lambda a: _int(a, "quorum", 2, 255)],
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
        [lambda a: _address(a, "vault"), lambda a: _int(a, "delay_seconds", 0, MAX_PERIOD)],
    ),
    "set_claim_terms": (
        "PurchaseProofs",
        "imposeClaimTerms",
        [
            lambda a: _big(a, "batch", 0, 2**254),
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
    "reinstate_root": ("PurchaseProofs", "reinstateRoot", [lambda a: _big(a, "root", 1, 2**256 - 1)]),
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
