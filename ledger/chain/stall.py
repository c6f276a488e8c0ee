"""A Clique chain stalled for good after an even split, and how it is set going again.

geth fetches a peer's chain only when the peer's total difficulty is strictly higher than its own.
After a split where no side held a majority, each side sealed until its signers were all "recent"
and stopped; if the two branches then weigh the same (e.g. on 4 validators one side sealed one
block in turn, weight 2, the other two out of turn, 1 + 1), neither side fetches the other's
branch once healed, and no signer may seal on the branch it has: the network stalls for good.

The way out is geth's own tie rule made to happen: of the heaviest heads, the one with the lower
block number wins (then the lower hash). Every node on another head of that weight is rewound
(`debug_setHead`) to the last block it shares with the winner; its branch is then lighter than the
winner's, so it fetches the winner's, and its signers, recent on their own branch only, seal on
top of it. Nothing that was final is dropped: the rewound blocks are the ones an even split may
drop by the finality argument (`finality.partition_reorg_bound`).
"""

from __future__ import annotations

from typing import NamedTuple

from web3 import Web3

from ledger.errors import LedgerError


class Head(NamedTuple):
    number: int
    hash: str
    td: int


def head(w3: Web3) -> Head:
    block = w3.provider.make_request("eth_getBlockByNumber", ["latest", False])["result"]
    return Head(int(block["number"], 16), block["hash"], int(block["totalDifficulty"], 16))


def tie(heads: dict[str, Head]) -> tuple[Head, list[str]] | None:
    """The winning head and the nodes to rewind, when distinct heads share the greatest weight;
    None when the heaviest head is unique (the others fetch it by themselves)."""
    if not heads:
        return None
    heaviest = max(h.td for h in heads.values())
    tied = {h for h in heads.values() if h.td == heaviest}
    if len({h.hash for h in tied}) < 2:
        return None
    winner = min(tied, key=lambda h: (h.number, h.hash.lower()))
    return winner, sorted(n for n, h in heads.items() if h.td == heaviest and h.hash != winner.hash)


class Watch:
    """When each node's head last moved, to find the ones left behind on a chain that moves on."""

    def __init__(self) -> None:
        self._since: dict[str, tuple[Head, float]] = {}

    def behind(self, heads: dict[str, Head], now: float, patience: float) -> list[str]:
        """Nodes whose head has not moved for `patience` s while another node's is heavier: their
        links to the heavier chain are gone (after a healed partition geth redials only on its own
        timer, ~35 s), and the others sealing on meanwhile hide it from a check for a still network.
        Each is named again only after as long again."""
        for n, h in heads.items():
            if n not in self._since or self._since[n][0] != h:
                self._since[n] = (h, now)
        heaviest = max((h.td for h in heads.values()), default=0)
        late = [n for n, (h, t) in self._since.items() if n in heads and h.td < heaviest and now - t > patience]
        for n in late:
            self._since[n] = (heads[n], now)
        return late


def shared_ancestor(loser: Web3, winner: Web3, below: int, depth: int = 64) -> int:
    """The highest block at or below `below` both nodes have the same."""
    for n in range(below, max(-1, below - depth), -1):
        if loser.eth.get_block(n)["hash"] == winner.eth.get_block(n)["hash"]:
            return n
    raise LedgerError(f"the branches differ for more than {depth} blocks below {below}")


def rewind(w3: Web3, number: int) -> None:
    """The node's head set back to block `number` (its later blocks forgotten, fetched again)."""
    reply = w3.provider.make_request("debug_setHead", [hex(number)])
    if "error" in reply:
        raise LedgerError(f"debug_setHead {number}: {reply['error'].get('message')}")
