"""The settlement token as the other money modules use it: amounts checked as integer fen and
allowances granted before a contract pulls tokens."""

from __future__ import annotations

from ledger.chain.client import Sender
from ledger.chain.deploy import Deployment

MAX_UINT = 2**256 - 1


def check_fen(amount: int) -> None:
    if not isinstance(amount, int) or isinstance(amount, bool) or amount <= 0:
        raise ValueError(f"amount must be a positive integer number of fen, not {amount!r}")


def ensure_allowance(dep: Deployment, sender: Sender, spender: str, amount: int, exact: bool = False) -> None:
    """Let `spender` pull `amount`: an allowance of any amount (the platform's escrows, one approval
    for all), or `exact`ly this one (a merchant's deposit: it approves what it deposits, and its
    signing dialog says that amount, not 2^256 fen)."""
    token = dep.contract("SettlementToken")
    if token.functions.allowance(sender.address, spender).call() < amount:
        sender.transact(token.functions.approve(spender, amount if exact else MAX_UINT))
