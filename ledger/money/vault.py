"""Guarantee deposits and complaint cases on chain (`GuaranteeVault`): thin, typed wrappers shared
by the API and the CLI. Amounts are integer fen; every function takes the acting member's `Sender`
and the contract checks roles, so a wrong caller fails with its custom error (`TransactionFailed`).

Cases are decided as rulings on orders are, by the contract: a party to a case (its merchant or
claimant) never opens, decides or signs it; one arbiter releases or awards a case of up to the
case threshold (`close_case`); a larger case, released or paid out, needs the case quorum of
arbiters' EIP-712 signatures of CaseRuling(caseId, payOut), each made with the arbiter's own key
(`sign_case_ruling`, `rule_case`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from eth_account import Account
from eth_account.messages import encode_typed_data
from web3.logs import DISCARD

from ledger.access.roles import Role
from ledger.chain.client import Sender
from ledger.chain.deploy import Deployment
from ledger.errors import Conflict
from ledger.money.orders.settlement import ascending_by_signer

from .token import check_fen, ensure_allowance

CASE_RULING_TYPES = {"CaseRuling": [{"name": "caseId", "type": "uint256"}, {"name": "payOut", "type": "bool"}]}


def deposit(dep: Deployment, merchant: Sender, amount: int) -> Any:
    check_fen(amount)
    vault = dep.contract("GuaranteeVault")
    held = int(dep.contract("SettlementToken").functions.balanceOf(merchant.address).call())
    is_merchant = int(dep.contract("Membership").functions.rolesOf(merchant.address).call()) & Role.MERCHANT
    if held < amount and is_merchant:  # said before anything is signed: the chain's refusal came after two dialogs
        said = f"{merchant.address} holds {held} fen of settlement tokens, less than the {amount} fen to deposit"
        raise Conflict(said, code="insufficient_tokens")
    ensure_allowance(dep, merchant, vault.address, amount, exact=True)
    return merchant.transact(vault.functions.deposit(amount))


#: how long an unlocked withdrawal may be taken (the vault's WITHDRAWAL_WINDOW); then it lapses
WITHDRAWAL_WINDOW_S = 3 * 24 * 3600


def deposit_account(dep: Deployment, merchant: str) -> dict[str, int]:
    vault = dep.contract("GuaranteeVault")
    balance, frozen, minimum, pending, unlock_at = vault.functions.accountOf(merchant).call()
    return {
        "balance_fen": balance,
        "frozen_fen": frozen,
        "required_fen": minimum,
        "pending_withdrawal_fen": pending,
        "unlock_at": unlock_at,
        "lapses_at": unlock_at + WITHDRAWAL_WINDOW_S if pending else 0,
        "available_fen": vault.functions.available(merchant).call(),
    }


def request_withdrawal(dep: Deployment, merchant: Sender, amount: int) -> Any:
    check_fen(amount)
    return merchant.transact(dep.contract("GuaranteeVault").functions.requestWithdrawal(amount))


def withdraw_deposit(dep: Deployment, merchant: Sender) -> Any:
    return merchant.transact(dep.contract("GuaranteeVault").functions.withdraw())


def open_case(dep: Deployment, arbiter: Sender, merchant: str, claimant: str, amount: int) -> int:
    check_fen(amount)
    vault = dep.contract("GuaranteeVault")
    receipt = arbiter.transact(vault.functions.openCase(merchant, claimant, amount))
    return int(vault.events.CaseOpened().process_receipt(receipt, errors=DISCARD)[0]["args"]["caseId"])


def close_case(dep: Deployment, arbiter: Sender, case_id: int, pay_out: bool) -> Any:
    return arbiter.transact(dep.contract("GuaranteeVault").functions.closeCase(case_id, pay_out))


def case_ruling(dep: Deployment) -> dict[str, int]:
    """Cases above `case_threshold_fen` need `case_arbiter_quorum` arbiters (set by governance)."""
    threshold, quorum = dep.contract("GuaranteeVault").functions.caseRuling().call()
    return {"case_threshold_fen": int(threshold), "case_arbiter_quorum": int(quorum)}


def signatures_needed(dep: Deployment, amount_fen: int) -> int:
    """Arbiters' signatures a ruling on a case of `amount_fen` needs, released or paid out."""
    rule = case_ruling(dep)
    return rule["case_arbiter_quorum"] if amount_fen > rule["case_threshold_fen"] else 1


def case_ruling_typed_data(dep: Deployment, case_id: int, pay_out: bool) -> dict[str, Any]:
    """What an arbiter signs (EIP-712) to rule on a case, built here from the deployment."""
    return {
        "domain": {
            "name": "traceledger GuaranteeVault",
            "version": "1",
            "chainId": int(dep.w3.eth.chain_id),
            "verifyingContract": dep.contract("GuaranteeVault").address,
        },
        "types": CASE_RULING_TYPES,
        "primaryType": "CaseRuling",
        "message": {"caseId": case_id, "payOut": pay_out},
    }


def sign_case_ruling(dep: Deployment, private_key: bytes, case_id: int, pay_out: bool) -> bytes:
    """An arbiter's signature of a ruling on a case, made with its own key."""
    message = encode_typed_data(full_message=case_ruling_typed_data(dep, case_id, pay_out))
    return bytes(Account.sign_message(message, private_key).signature)


def rule_case(dep: Deployment, sender: Sender, case_id: int, pay_out: bool, signatures: Sequence[str | bytes]) -> Any:
    """Execute the arbiters' signed ruling (signatures in any order, bytes or hex; a malformed one
    is an `InvalidInput`); the contract checks who signed and how many must."""
    ordered = ascending_by_signer(case_ruling_typed_data(dep, case_id, pay_out), signatures)
    return sender.transact(dep.contract("GuaranteeVault").functions.ruleCase(case_id, pay_out, ordered))


def case(dep: Deployment, case_id: int) -> dict[str, Any]:
    merchant, amount, claimant, is_open = dep.contract("GuaranteeVault").functions.cases(case_id).call()
    return {"case_id": case_id, "merchant": merchant, "amount_fen": amount, "claimant": claimant, "open": is_open}


def cases_of(dep: Deployment, merchant: str) -> list[dict[str, Any]]:
    """Every case opened against `merchant`, newest first, each as the vault holds it now."""
    opened = dep.logs(dep.contract("GuaranteeVault").events.CaseOpened, merchant=merchant)
    ids = sorted({int(log["args"]["caseId"]) for log in opened}, reverse=True)
    return [case(dep, i) for i in ids]


def recent_cases(dep: Deployment, limit: int, only_open: bool = True) -> list[dict[str, Any]]:
    """The newest `limit` cases (open ones only, by default), newest first, as the vault holds them
    now: the arbiters' list of cases waiting for a ruling. Reads at most `limit` cases' state."""
    opened = dep.logs(dep.contract("GuaranteeVault").events.CaseOpened)
    ids = sorted({int(log["args"]["caseId"]) for log in opened}, reverse=True)
    out: list[dict[str, Any]] = []
    for i in ids:
        c = case(dep, i)
        if c["open"] or not only_open:
            out.append(c)
        if len(out) >= limit:
            break
    return out


def claim(dep: Deployment, claimant: Sender) -> Any:
    return claimant.transact(dep.contract("GuaranteeVault").functions.claim())
