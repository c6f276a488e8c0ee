"""Guarantee deposits and complaint cases on chain (`GuaranteeVault`): thin, typed wrappers shared
by the API and the CLI. Amounts are integer fen; every function takes the acting member's `Sender`
and the contract checks roles, so a wrong caller fails with its custom error (`TransactionFailed`).
"""

from __future__ import annotations

from typing import Any

from web3.logs import DISCARD

from ledger.chain.client import Sender
from ledger.chain.deploy import Deployment

from .token import check_fen, ensure_allowance


def deposit(dep: Deployment, merchant: Sender, amount: int) -> Any:
    check_fen(amount)
    vault = dep.contract("GuaranteeVault")
    ensure_allowance(dep, merchant, vault.address, amount)
    return merchant.transact(vault.functions.deposit(amount))


def deposit_account(dep: Deployment, merchant: str) -> dict[str, int]:
    vault = dep.contract("GuaranteeVault")
    balance, frozen, minimum, pending, unlock_at = vault.functions.accountOf(merchant).call()
    return {
        "balance_fen": balance,
        "frozen_fen": frozen,
        "required_fen": minimum,
        "pending_withdrawal_fen": pending,
        "unlock_at": unlock_at,
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


def case(dep: Deployment, case_id: int) -> dict[str, Any]:
    merchant, amount, claimant, is_open = dep.contract("GuaranteeVault").functions.cases(case_id).call()
    return {"case_id": case_id, "merchant": merchant, "amount_fen": amount, "claimant": claimant, "open": is_open}


def cases_of(dep: Deployment, merchant: str) -> list[dict[str, Any]]:
    """Every case opened against `merchant`, newest first, each as the vault holds it now."""
    opened = dep.logs(dep.contract("GuaranteeVault").events.CaseOpened, merchant=merchant)
    ids = sorted({int(log["args"]["caseId"]) for log in opened}, reverse=True)
    return [case(dep, i) for i in ids]


def claim(dep: Deployment, claimant: Sender) -> Any:
    return claimant.transact(dep.contract("GuaranteeVault").functions.claim())
