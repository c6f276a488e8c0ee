"""Settlement token issuance and redemption against fiat references, read back from chain events.

An issuer mints fen against a fiat deposit's reference (a bank transfer's); a holder burns fen
for a fiat payout's reference. Each reference counts once on chain (`SettlementToken` refuses a
second use), so a repeated request cannot mint or burn twice; deposit and payout references are
counted apart, so a holder redeeming against a deposit's reference cannot make it unmintable. The
supply check proves the token's total supply against every mint and burn the chain recorded: it
must equal minted minus burned, with issuances and redemptions as the parts that carry a reference.
"""

from __future__ import annotations

from typing import Any

from eth_utils import keccak

from ledger.chain.client import Sender
from ledger.chain.deploy import Deployment

from .token import check_fen

ZERO = "0x0000000000000000000000000000000000000000"


def _row(log: Any, who: str) -> dict[str, Any]:
    a = log["args"]
    return {
        who: a[who],
        "amount_fen": int(a["amount"]),
        "fiat_reference": a["fiatReference"],
        "tx_hash": "0x" + bytes(log["transactionHash"]).hex(),
        "block_number": log["blockNumber"],
    } | ({"to": a["to"]} if "to" in a else {})


def issuances(dep: Deployment, fiat_reference: str | None = None) -> list[dict[str, Any]]:
    filters = {"referenceKey": keccak(text=fiat_reference)} if fiat_reference is not None else {}
    return [_row(log, "issuer") for log in dep.logs(dep.contract("SettlementToken").events.Issued, **filters)]


def redemptions(dep: Deployment, fiat_reference: str | None = None) -> list[dict[str, Any]]:
    filters = {"referenceKey": keccak(text=fiat_reference)} if fiat_reference is not None else {}
    return [_row(log, "holder") for log in dep.logs(dep.contract("SettlementToken").events.Redeemed, **filters)]


def reference_used(dep: Deployment, fiat_reference: str) -> bool:
    return bool(dep.contract("SettlementToken").functions.referenceUsed(keccak(text=fiat_reference)).call())


def issue(dep: Deployment, issuer: Sender, to: str, amount: int, fiat_reference: str) -> Any:
    check_fen(amount)
    return issuer.transact(dep.contract("SettlementToken").functions.issue(to, amount, fiat_reference))


def redeem(dep: Deployment, holder: Sender, amount: int, fiat_reference: str) -> Any:
    check_fen(amount)
    return holder.transact(dep.contract("SettlementToken").functions.redeem(amount, fiat_reference))


def supply(dep: Deployment) -> dict[str, Any]:
    """Total supply against what the chain's events say it should be."""
    token = dep.contract("SettlementToken")
    minted = sum(int(log["args"]["value"]) for log in dep.logs(token.events.Transfer, **{"from": ZERO}))
    burned = sum(int(log["args"]["value"]) for log in dep.logs(token.events.Transfer, to=ZERO))
    total = int(token.functions.totalSupply().call())
    issued = sum(r["amount_fen"] for r in issuances(dep))
    redeemed = sum(r["amount_fen"] for r in redemptions(dep))
    return {
        "total_supply_fen": total,
        "minted_fen": minted,
        "burned_fen": burned,
        "issued_against_references_fen": issued,
        "redeemed_against_references_fen": redeemed,
        "unexplained_fen": total - (minted - burned),
        "balanced": total == minted - burned,
    }
