"""The answer to a scan: its verdict and the merchant's deposit, composed here for every door that
answers one (the consumer's page and the JSON answer of `GET /01/.../21/...`, the GS1 resolver in
front of them); the web layer gathers the facts (code, issue, scan history, batch, the vault's
account), this decides what they say.

Verdicts, in the order they are decided:
- `forged`: the signature is missing, from an unknown key, revoked, or does not match the code; or
  the code's issuer no longer owns the product (its GS1 company prefix's holder took it back);
- `unknown`: a well-signed code that was never issued here;
- `recalled`: the batch was recalled on chain;
- `suspicious`: scanned more often, or from more networks, than one real item would be;
- `genuine`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

from requests.exceptions import RequestException
from web3.exceptions import Web3Exception

from ledger.chain.deploy import Deployment
from ledger.errors import NodeUnavailable
from ledger.money import vault
from ledger.trace.codes import SignatureCheck


class Reason(NamedTuple):
    """Why a verdict: `code` and `args` for the page's translations, `text` in English for JSON."""

    code: str
    args: dict[str, str]
    text: str


RECALLED = Reason("recalled_no_reason", {}, "batch recalled")
NOT_THE_OWNER = Reason(
    "not_the_owner",
    {},
    "issued by a merchant that does not own the product: the holder of its GS1 company prefix took it back",
)
SUSPICIOUS_SCANS = 20  # a real item is scanned a handful of times
SUSPICIOUS_NETWORKS = 4  # ... from one or two places, not four within a day
#: what a scan shows of the merchant's deposit account
DEPOSIT_FIELDS = ("balance_fen", "frozen_fen", "required_fen")


def verdict(
    sig: SignatureCheck, batch: dict[str, Any] | None, scans_before: int, networks_last_day: int
) -> tuple[str, Reason]:
    """The verdict and its reason: `batch` is the answer's batch (None when the code was never
    issued, or its issue is not anchored), `scans_before` and `networks_last_day` its history."""
    if not sig.ok:
        return "forged", Reason(sig.code, sig.args, sig.reason)
    if batch is None:
        return "unknown", Reason("never_issued", {}, "this code was never issued")
    if batch.get("issuer_owns") is False:
        return "forged", NOT_THE_OWNER
    if batch["recalled"]:
        why = batch["recall_reason"]
        return "recalled", Reason("recalled", {"why": why}, why) if why else RECALLED
    if scans_before >= SUSPICIOUS_SCANS or networks_last_day >= SUSPICIOUS_NETWORKS:
        n, nets = scans_before, networks_last_day
        text = f"scanned {n} times before, from {nets} networks in the last day"
        return "suspicious", Reason("suspicious", {"count": str(n), "networks": str(nets)}, text)
    return "genuine", Reason("genuine", {}, "issued by the batch's merchant and anchored on chain")


def deposit_account(deployment: Callable[[], Deployment], merchant: str, rpc_url: str) -> dict[str, int]:
    """The merchant's guarantee deposit as the vault holds it now; NodeUnavailable when the chain
    node does not answer."""
    try:
        return vault.deposit_account(deployment(), merchant)
    except (RequestException, Web3Exception, OSError) as exc:
        raise NodeUnavailable(
            f"cannot read the deposit from the chain node at {rpc_url}: {str(exc).splitlines()[0][:120]}"
        ) from None


def merchant_part(merchant: str, account: dict[str, int] | None, unavailable: str | None) -> dict[str, Any]:
    """The answer's merchant: its address and deposit, or why the deposit could not be read (the
    verdict does not need the chain; the page says what is missing)."""
    deposit = None if account is None else {k: account[k] for k in DEPOSIT_FIELDS}
    return {"address": merchant, "deposit": deposit, "deposit_unavailable": unavailable}


def finish(answer: dict[str, Any], verdict_: str, why: Reason) -> dict[str, Any]:
    """The answer with its verdict and reason (text in English, code and arguments for the page)."""
    answer.update({"verdict": verdict_, "reason": why.text, "reason_code": why.code, "reason_args": why.args})
    return answer
