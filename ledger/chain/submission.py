"""Handing a signed transaction to the node, and what its refusals mean.

A node refuses a signed transaction before it runs when its nonce is spent (`nonce too low`),
another with that nonce is pending (`replacement transaction underpriced`), or it already holds
this very transaction (`already known`, anvil's `transaction already imported`). The first two are
`NonceTaken` (a clash with another writer of that key: the caller may sign again with a fresh
nonce, or says so), any other refusal `TransactionRejected`; the last is no refusal: the
transaction is in the pool, and its hash is the answer. Wording of geth, Besu and anvil alike.
"""

from __future__ import annotations

import re
from typing import Any

from eth_utils import keccak
from web3.exceptions import Web3RPCError

from ledger.errors import Conflict, InvalidInput

ALREADY_KNOWN = ("already known", "already imported", "known transaction")
NONCE_CLASH = ("nonce too low", "replacement transaction underpriced", "replacement underpriced", "nonce too high")


class TransactionRejected(Conflict):
    """The node refused a signed transaction before it ran; the message is the node's reason."""


class NonceTaken(TransactionRejected):
    """The transaction's nonce is spent or held by another pending transaction of the same key."""


class TooBigForABlock(InvalidInput):
    """The write needs more gas than a block holds: no block will ever take it as it is."""


_ALLOWANCE = re.compile(r"exceeds (?:allowance|block gas limit)\D{0,4}(\d+)", re.I)


def too_big_for_a_block(w3: Any, exc: Web3RPCError) -> TooBigForABlock | None:
    """A node's estimate that found no gas allowance enough (geth and anvil: "gas required exceeds
    allowance (N)"), where the allowance is the block's gas limit: the write is too big for any
    block, and the caller's to split. An allowance below it is the sender's balance (its key cannot
    pay): not the caller's doing, so None, as for any other error."""
    reason = node_reason(exc)
    m = _ALLOWANCE.search(reason)
    if m is None or int(m.group(1)) < int(w3.eth.get_block("latest")["gasLimit"]):
        return None
    return TooBigForABlock(f"the write needs more gas than a block of this chain holds ({reason}); send it in parts")


def node_reason(exc: Web3RPCError) -> str:
    error = (getattr(exc, "rpc_response", None) or {}).get("error") or {}
    return str(error.get("message") or exc).splitlines()[0][:200]


def send_raw(w3: Any, raw: bytes) -> bytes:
    """Send `raw`; its hash. Raises NonceTaken or TransactionRejected with the node's reason."""
    try:
        return bytes(w3.eth.send_raw_transaction(raw))
    except Web3RPCError as exc:
        reason = node_reason(exc)
    said = reason.lower().replace("_", " ")
    if any(k in said for k in ALREADY_KNOWN):
        return keccak(raw)
    if any(k in said for k in NONCE_CLASH):
        raise NonceTaken(f"the node refused the transaction: {reason}")
    raise TransactionRejected(f"the node refused the transaction: {reason}")


def took_it_self(w3: Any, raw: bytes) -> bool:
    """Whether a nonce clash was with this very transaction: the node holds it (pending or mined).
    Handed to several nodes (`FailoverProvider`), a write whose first node timed out while taking
    it was asked of the next, which had it mined already and said "nonce too low"; sent again with
    a fresh nonce, it was simulated after its own effect (a governance approval: AlreadyExecuted,
    seen in CI on the four hosts)."""
    answer = w3.provider.make_request("eth_getTransactionByHash", ["0x" + keccak(raw).hex()])
    return answer.get("result") is not None
