"""Money on chain: guarantee deposits, complaint cases, order escrow and settlement, payouts.

Thin, typed wrappers over the contracts, shared by the API and the CLI. Amounts are integer fen
(`int`), never floats. Every function takes the acting member's `Sender`; the contracts check
roles, so a wrong caller fails with the contract's custom error (`TransactionFailed`).
"""

from __future__ import annotations

from typing import Any

from eth_utils import keccak
from web3.logs import DISCARD

from .chain import Sender
from .deploy import Deployment

MAX_UINT = 2**256 - 1


def order_key(order_id: str) -> bytes:
    """The on-chain id of a platform order: keccak256 of its UTF-8 id."""
    return keccak(text=order_id)


def _check_fen(amount: int) -> None:
    if not isinstance(amount, int) or isinstance(amount, bool) or amount <= 0:
        raise ValueError(f"amount must be a positive integer number of fen, not {amount!r}")


def ensure_allowance(dep: Deployment, sender: Sender, spender: str, amount: int) -> None:
    token = dep.contract("SettlementToken")
    if token.functions.allowance(sender.address, spender).call() < amount:
        sender.transact(token.functions.approve(spender, MAX_UINT))


# -- guarantee deposits ---------------------------------------------------------------------


def deposit(dep: Deployment, merchant: Sender, amount: int) -> Any:
    _check_fen(amount)
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
    _check_fen(amount)
    return merchant.transact(dep.contract("GuaranteeVault").functions.requestWithdrawal(amount))


def withdraw_deposit(dep: Deployment, merchant: Sender) -> Any:
    return merchant.transact(dep.contract("GuaranteeVault").functions.withdraw())


def open_case(dep: Deployment, arbiter: Sender, merchant: str, claimant: str, amount: int) -> int:
    _check_fen(amount)
    vault = dep.contract("GuaranteeVault")
    receipt = arbiter.transact(vault.functions.openCase(merchant, claimant, amount))
    return int(vault.events.CaseOpened().process_receipt(receipt, errors=DISCARD)[0]["args"]["caseId"])


def close_case(dep: Deployment, arbiter: Sender, case_id: int, pay_out: bool) -> Any:
    return arbiter.transact(dep.contract("GuaranteeVault").functions.closeCase(case_id, pay_out))


def case(dep: Deployment, case_id: int) -> dict[str, Any]:
    merchant, amount, claimant, is_open = dep.contract("GuaranteeVault").functions.cases(case_id).call()
    return {"case_id": case_id, "merchant": merchant, "amount_fen": amount, "claimant": claimant, "open": is_open}


def claim(dep: Deployment, claimant: Sender) -> Any:
    return claimant.transact(dep.contract("GuaranteeVault").functions.claim())


# -- orders ---------------------------------------------------------------------------------


def caps(dep: Deployment) -> tuple[int, list[int]]:
    """(platform fee cap, [level 1, 2, 3 caps]) in basis points, as governance set them."""
    s = dep.contract("OrderSettlement")
    return int(s.functions.platformFeeCapBps().call()), [int(x) for x in s.functions.referralCapBps().call()]


def escrow(
    dep: Deployment,
    platform: Sender,
    order_id: str,
    merchant: str,
    payer: str,
    amount: int,
    referrers: list[str],
    referral_bps: list[int],
    platform_fee_bps: int,
) -> Any:
    _check_fen(amount)
    s = dep.contract("OrderSettlement")
    ensure_allowance(dep, platform, s.address, amount)
    return platform.transact(
        s.functions.escrow(order_key(order_id), merchant, payer, amount, referrers, referral_bps, platform_fee_bps)
    )


def confirm(dep: Deployment, platform: Sender, order_id: str) -> Any:
    return platform.transact(dep.contract("OrderSettlement").functions.confirm(order_key(order_id)))


def refund(dep: Deployment, platform: Sender, order_id: str) -> Any:
    return platform.transact(dep.contract("OrderSettlement").functions.refund(order_key(order_id)))


def settle_on_timeout(dep: Deployment, anyone: Sender, order_id: str) -> Any:
    return anyone.transact(dep.contract("OrderSettlement").functions.settleOnTimeout(order_key(order_id)))


def settlement_of(dep: Deployment, receipt: Any) -> dict[str, Any] | None:
    """The split recorded by an `OrderSettled` event in `receipt`, if any."""
    events = dep.contract("OrderSettlement").events.OrderSettled().process_receipt(receipt, errors=DISCARD)
    if not events:
        return None
    a = events[0]["args"]
    return {
        "merchant_fen": a["merchantShare"],
        "referral_fen": list(a["referralShares"]),
        "platform_fee_fen": a["platformFee"],
        "by_timeout": a["byTimeout"],
    }


def owed(dep: Deployment, account: str) -> dict[str, int]:
    return {
        "settlement_fen": int(dep.contract("OrderSettlement").functions.owed(account).call()),
        "vault_claims_fen": int(dep.contract("GuaranteeVault").functions.claimable(account).call()),
    }


def withdraw_payouts(dep: Deployment, member: Sender) -> Any:
    return member.transact(dep.contract("OrderSettlement").functions.withdraw())
