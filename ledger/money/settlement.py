"""Order escrow, settlement and payouts on chain (`OrderSettlement`): thin, typed wrappers shared
by the API and the CLI. Amounts are integer fen; the contract splits each order exactly.
"""

from __future__ import annotations

from typing import Any

from eth_utils import keccak
from web3.logs import DISCARD

from ledger.chain.client import Sender
from ledger.chain.deploy import Deployment

from .token import check_fen, ensure_allowance


def order_key(order_id: str) -> bytes:
    """The on-chain id of a platform order: keccak256 of its UTF-8 id."""
    return keccak(text=order_id)


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
    check_fen(amount)
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
