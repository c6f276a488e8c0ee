"""An order's step asked while the chain did not hold the order's escrow any more: a reorg had
taken the escrow's block.

On the consortium the platform's own node often seals the block holding the platform's escrow out
of turn and answers its receipt at once; the in-turn block of another validator, sealed without
the escrow (it had not reached that validator yet), then replaces it, and geth puts the escrow back
in its pool and seals it a block or two later. A delivery or a settlement asked in between was
refused with `TermsMismatch` (the slot still held nothing, or the order settled in it before), or
mined and reverted before the escrow. Such a step waits for the escrows to be sealed again and is
sent once more; a mismatch while every escrow stays where it was is a real one and is raised.

A refund, a dispute or a ruling is answered only once final (`as_final`): the contract refuses a
refund or a dispute once the order has fallen due, a ruling once another ruling closed the order,
and a reorg may seal one again after that.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import Any

from ledger.chain.client import TransactionFailed, tx_timeout, wait_for_receipt
from ledger.chain.deploy import Deployment
from ledger.chain.finality import depth_of, wait_final
from ledger.errors import Conflict

log = logging.getLogger(__name__)


def block_of(dep: Deployment, tx: str) -> int | None:
    """The block transaction `tx` (0x hex) is in now, None if in none."""
    raw = dep.w3.provider.make_request("eth_getTransactionReceipt", [tx]).get("result")
    return None if raw is None else int(raw["blockNumber"], 16)


def escrows_moved(dep: Deployment, escrow_txs: Sequence[str], failed: TransactionFailed) -> bool:
    """Whether a step that failed as `failed` met escrows a reorg had taken out of the chain: one of
    `escrow_txs` is not in a block now (then wait until every one is), or was sealed again in or
    after the block the step reverted in."""
    if failed.error not in ("TermsMismatch", None):
        return False
    moved = False
    for tx in dict.fromkeys(escrow_txs):
        block = block_of(dep, tx)
        if block is None:
            if dep.w3.provider.make_request("eth_getTransactionByHash", [tx]).get("result") is None:
                raise Conflict(f"escrow {tx} is neither in a block nor pending on the node: the order is not escrowed")
            block = int(wait_for_receipt(dep.w3, bytes.fromhex(tx[2:]), tx_timeout(), light=True)["blockNumber"])
            moved = True
        if failed.block is not None and block >= failed.block:
            moved = True
    return moved


def after_reorg(dep: Deployment, escrow_txs: Sequence[str], send: Callable[[], Any], settling: bool = False) -> Any:
    """`send()`; again (at most `ATTEMPTS` in all: a reorg may follow a reorg) if it failed because
    a reorg had moved the orders' escrows, or (with `settling`) if it was mined and reverted: a
    settlement's gas is estimated on the newest block, where an order due only by the next block's
    time is skipped cheaply; sealed in that block it is due, costs its split, and the batch ran out
    of gas (seen in the bench). Settling again skips what was settled."""
    for attempt in range(1, ATTEMPTS + 1):
        try:
            return send()
        except TransactionFailed as exc:
            again = (settling and exc.error is None and exc.block is not None) or escrows_moved(dep, escrow_txs, exc)
            if not again or attempt == ATTEMPTS:
                raise
            log.warning("a reorg had moved the escrow of an order (%s); the step is sent again", exc)
    raise AssertionError("unreachable")


ATTEMPTS = 3


def as_final(dep: Deployment, receipt: Any, step: str) -> Any:
    """`receipt` as the chain holds it once its transaction is final (`depth_of` blocks on top; at
    once where a mined block is final), for a refund, a dispute or a ruling: a reorg may seal it
    again later, after the order fell due (its return window closed, its settlement timeout passed),
    after a settlement another member sent, or (a ruling) after another ruling on the order another
    member sent, where the contract refuses it. Answered at its first receipt, the shopper would hear of a refund or a
    dispute that never happened while the merchant was paid.
    A Conflict if it did not survive (nothing changed); unavailable if it is not final in time."""
    depth = depth_of(dep.w3)
    if depth == 0:
        return receipt
    tx = bytes(receipt["transactionHash"])
    wait_final(dep.w3, tx, depth, timeout=tx_timeout())
    final = dep.w3.eth.get_transaction_receipt(tx)
    if int(final["status"]) != 1:
        raise Conflict(
            f"the {step} (0x{tx.hex()}) was sealed again after a reorg, in block {final['blockNumber']}, where the "
            "contract refused it: the order had fallen due or been settled first; nothing changed"
        )
    return final
