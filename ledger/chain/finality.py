"""When a Clique block is final: the block period and the confirmation depth as settings, and the
depth argued from the validator count (docs/consortium.md has the argument in full).

- `LEDGER_BLOCK_PERIOD_S` (default 2): seconds between blocks, written into a new network's genesis.
- `LEDGER_CONFIRMATIONS`: blocks on top of a block before it is final; unset, `confirmations(n)`.

Clique lets a signer seal at most one of any ⌊N/2⌋+1 consecutive blocks. A side of a partition
holding m signers without a majority (m ≤ ⌈N/2⌉−1) therefore extends its branch by at most m
blocks and stalls; the majority's branch loses to it only while it is no heavier: the minority's m
blocks weigh at most 2m (2 in turn, 1 out of turn) and the majority's k blocks at least 2k−m (only
the minority's in-turn slots are sealed out of turn), so the majority's nodes drop at most ⌊3m/2⌋
blocks. An even split (N even, N/2 each side) stalls both sides after at most N/2 blocks each.
`partition_reorg_bound(n)` is the largest of these; the confirmations are that bound, and never
fewer than 2 (a race between two out-of-turn sealers, heard in a connected network under load,
reorged 2 blocks on 3 validators). A reorg of depth r drops only blocks with fewer than r blocks
on top of them, so with r ≤ depth no final block is ever dropped.
"""

from __future__ import annotations

import time
from pathlib import Path

from web3 import Web3
from web3.exceptions import TransactionNotFound

from ledger.config import env
from ledger.errors import LedgerError, NodeUnavailable

DEFAULT_PERIOD_S = 2
RACE_DEPTH = 2  # deepest reorg seen without a partition (out-of-turn sealers racing), 3 validators


def _positive_int(name: str, default: int | None) -> int | None:
    """The setting `name` (`ledger.config`: a whole number, at least 1 for the block period, 0 or more
    for confirmations), or `default` when unset."""
    try:
        value = getattr(env(), "block_period_s" if name == "LEDGER_BLOCK_PERIOD_S" else "confirmations")
    except ValueError as exc:  # pydantic's ValidationError: not a whole number, or out of range
        why = exc.errors()[0]["msg"] if hasattr(exc, "errors") else str(exc)
        least = "at least 1" if name == "LEDGER_BLOCK_PERIOD_S" else "0 or more"
        raise LedgerError(f"{name} must be a whole number, {least}: {why}") from None
    return default if value is None else value


def block_period_s() -> int:
    """The block period a new network is made with (`LEDGER_BLOCK_PERIOD_S`, default 2 s)."""
    return _positive_int("LEDGER_BLOCK_PERIOD_S", DEFAULT_PERIOD_S) or DEFAULT_PERIOD_S


def minority_reorg_bound(m: int) -> int:
    """The deepest reorg a side of m signers without a majority can make: its own nodes drop at
    most its m blocks, the majority's nodes at most ⌊3m/2⌋."""
    return max(m, 3 * m // 2)


def partition_reorg_bound(n: int) -> int:
    """The deepest reorg any partition of n signers can cause (see the module's argument)."""
    if n < 1:
        raise ValueError("a Clique network has at least one signer")
    if n == 1:
        return 0
    worst = minority_reorg_bound((n + 1) // 2 - 1)  # the largest side that is not a majority
    if n % 2 == 0:
        worst = max(worst, n // 2)  # an even split: no side seals past N/2 blocks
    return worst


def confirmations(n: int) -> int:
    """Blocks on top before final: `LEDGER_CONFIRMATIONS`, or the partition bound (at least 2)."""
    configured = _positive_int("LEDGER_CONFIRMATIONS", None)
    if configured is not None:
        return configured
    return 0 if n == 1 else max(partition_reorg_bound(n), RACE_DEPTH)


_DEPTHS: dict[str, tuple[float, int]] = {}  # node's URL -> (when asked, confirmations)
DEPTH_ASKED_EVERY_S = 30.0  # governance changes the signers rarely; a stale count errs for at most this long


def depth_of(w3: Web3) -> int:
    """The confirmations a block of `w3`'s chain needs before it is final: `LEDGER_CONFIRMATIONS`,
    else `confirmations(n)` for the chain's n Clique signers (asked again every 30 s). A node that
    answers no Clique signers is anvil (one node, no reorg: 0) or a chain whose signers we cannot
    count, which gets the depth a connected network's races reach (`RACE_DEPTH`)."""
    configured = _positive_int("LEDGER_CONFIRMATIONS", None)
    if configured is not None:
        return configured
    node = str(getattr(w3.provider, "endpoint_uri", None) or id(w3))
    known = _DEPTHS.get(node)
    if known is None or time.monotonic() - known[0] > DEPTH_ASKED_EVERY_S:
        signers = w3.provider.make_request("clique_getSigners", []).get("result")
        if signers:
            depth = confirmations(len(signers))
        else:
            client = str(w3.provider.make_request("web3_clientVersion", []).get("result") or "")
            depth = 0 if client.lower().startswith("anvil") else RACE_DEPTH
        known = _DEPTHS[node] = (time.monotonic(), depth)
    return known[1]


def final_block(w3: Web3) -> int:
    """The newest block of `w3`'s chain that is final (`depth_of` blocks on top of it); -1 if none is."""
    return int(w3.eth.block_number) - depth_of(w3)


def wait_final(w3: Web3, tx_hash: bytes, depth: int, timeout: float = 60) -> int:
    """Wait until the transaction's block is on `w3`'s chain with `depth` blocks on top; its block
    number. A receipt from a block a reorg dropped does not count: the write is final where it was
    sealed again. Polls lightly: the receipt every 50 ms, then the head every 20 ms; the heads seen
    are kept, so the head `depth` blocks up is known to descend from the receipt's block by their
    parent hashes, with no further question to the node (else its block is read again)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            receipt = w3.eth.get_transaction_receipt(tx_hash)
        except TransactionNotFound:
            time.sleep(0.05)
            continue
        number, block_hash = int(receipt["blockNumber"]), bytes(receipt["blockHash"])
        seen: dict[int, tuple[bytes, bytes]] = {}  # number -> (hash, parent's hash) of the heads polled
        while time.monotonic() < deadline:
            head = _head(w3)
            seen[head[0]] = head[1:]
            if head[0] >= number + depth:
                break
            time.sleep(0.02)
        else:
            break
        if _descends(seen, head[0], number, block_hash) or bytes(w3.eth.get_block(number)["hash"]) == block_hash:
            return number
    raise NodeUnavailable(f"transaction {bytes(tx_hash).hex()} not final ({depth} blocks deep) in {timeout:.0f} s")


def _head(w3: Web3) -> tuple[int, bytes, bytes]:
    """The node's newest block: (number, hash, parent's hash)."""
    block = w3.provider.make_request("eth_getBlockByNumber", ["latest", False])["result"]
    return int(block["number"], 16), bytes.fromhex(block["hash"][2:]), bytes.fromhex(block["parentHash"][2:])


def _descends(seen: dict[int, tuple[bytes, bytes]], head: int, number: int, block_hash: bytes) -> bool:
    """Whether the heads seen link `head` back to block `number` with hash `block_hash`."""
    n = head
    while n > number:
        if n - 1 not in seen or seen[n - 1][0] != seen[n][1]:
            return False
        n -= 1
    return seen[number][0] == block_hash


def chain_tail(w3: Web3, blocks: int = 12) -> tuple[int, dict[int, bytes]]:
    """A node's head and the hashes of its last `blocks` blocks, to tell later what a reorg dropped."""
    head = w3.eth.block_number
    return head, {n: bytes(w3.eth.get_block(n)["hash"]) for n in range(max(0, head - blocks), head + 1)}


def dropped(tail: tuple[int, dict[int, bytes]], judge: Web3) -> int:
    """How many blocks of a node's earlier `chain_tail` the chain `judge` now has are gone: from its
    head down to the highest block both still share."""
    head, hashes = tail
    n = head
    while n in hashes and bytes(judge.eth.get_block(n)["hash"]) != hashes[n]:
        n -= 1
    if n not in hashes:
        raise LedgerError(f"more than {len(hashes)} blocks were dropped")
    return head - n


def deepest_logged_reorg(logs: list[Path]) -> int:
    """The most blocks a geth node dropped in one reorg, as its log says ("Chain reorg detected ...
    drop=N", logged at the default verbosity)."""
    deepest = 0
    for log in logs:
        for line in log.read_text(errors="replace").splitlines():
            if "reorg detected" in line and "drop=" in line:
                deepest = max(deepest, int(line.split("drop=")[1].split()[0]))
    return deepest


if __name__ == "__main__":  # the table docs/consortium.md shows
    for count in range(1, 8):
        print(f"{count} validators: partition reorg <= {partition_reorg_bound(count)}, final at {confirmations(count)}")
