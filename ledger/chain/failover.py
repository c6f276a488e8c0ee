"""Several nodes behind one JSON-RPC provider: the first that answers and has caught up."""

from __future__ import annotations

import contextlib
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from requests.exceptions import RequestException
from web3 import HTTPProvider

from ledger.errors import NodeUnavailable

#: signed transactions waiting to be handed to one node before more for it are skipped
SPREAD_BACKLOG = 64


class FailoverProvider(HTTPProvider):
    """JSON-RPC over HTTP to the first of several nodes that answers.

    A request that cannot reach a node (refused, reset, timed out) goes to the next one; the first
    node is tried again first `retry_first_s` after it failed, so traffic moves back when it
    returns, but only once it has caught up: a node that comes back behind the newest block this
    provider has seen (a receipt's block, a head) would answer as if our own writes had not
    happened (a batch's product "unknown" to a gas estimate), so it stays out until it reaches
    that block. A signed transaction is handed to every other node at the same time, in the
    background (a thread per node, so one slow node holds up no other): it is not lost with the
    node that first took it, and it reaches the validator whose turn it is to seal without waiting
    for the nodes' gossip (geth announces a transaction to most peers, which fetch it only half a
    second later: the write then missed the next block). Errors the node answers (a revert, a bad
    nonce) are answers, not failures: they are returned as they are.
    """

    def __init__(self, urls: list[str], timeout: float = 10.0, retry_first_s: float = 5.0):
        super().__init__(urls[0], request_kwargs={"timeout": timeout})
        self.urls = urls
        self._providers = [HTTPProvider(u, request_kwargs={"timeout": timeout}) for u in urls]
        self._down_since: dict[int, float] = {}
        self.retry_first_s = retry_first_s
        #: the newest block any answer has shown us: what a returning node must have reached
        self.seen_block = -1
        self._spreaders = [ThreadPoolExecutor(1, thread_name_prefix=f"spread-{i}") for i in range(len(urls))]
        self._backlog = [0] * len(urls)
        self._backlog_lock = threading.Lock()

    def _order(self) -> list[int]:
        now = time.monotonic()
        up = [i for i in range(len(self.urls)) if now - self._down_since.get(i, -1e9) >= self.retry_first_s]
        return up + [i for i in range(len(self.urls)) if i not in up]

    def make_request(self, method: Any, params: Any) -> Any:
        last: Exception | None = None
        behind: list[int] = []
        order = self._order()
        if method == "eth_sendRawTransaction":  # the others at the same time (one taking it twice: "already known")
            now = time.monotonic()  # (a node down a while is tried again: it may be back)
            self._spread(
                [j for j in order[1:] if now - self._down_since.get(j, -1e9) >= self.retry_first_s], method, params
            )
        for i in order:
            if i in self._down_since and not self._caught_up(i):
                behind.append(i)
                continue
            try:
                answer = self._ask(i, method, params)
            except (RequestException, OSError) as exc:
                last = exc
                continue
            return answer
        for i in behind:  # every node that answers is behind: a lagging answer beats none
            with contextlib.suppress(RequestException, OSError):
                return self._ask(i, method, params)
        if last is None:
            raise NodeUnavailable("no EVM node answers")
        raise last

    def _ask(self, i: int, method: Any, params: Any) -> Any:
        try:
            answer = self._providers[i].make_request(method, params)
        except (RequestException, OSError):
            self._down_since[i] = time.monotonic()
            raise
        self._down_since.pop(i, None)
        self._note_block(method, answer)
        return answer

    def _note_block(self, method: Any, answer: Any) -> None:
        result = answer.get("result") if isinstance(answer, dict) else None
        if method == "eth_blockNumber" and isinstance(result, str):
            self.seen_block = max(self.seen_block, int(result, 16))
        elif method == "eth_getTransactionReceipt" and isinstance(result, dict) and result.get("blockNumber"):
            self.seen_block = max(self.seen_block, int(result["blockNumber"], 16))

    def _caught_up(self, i: int) -> bool:
        """Whether node `i`, back from being unreachable, has the newest block we have seen; if
        not, it counts as down a while longer (so it is asked again only `retry_first_s` later)."""
        try:
            head = int(self._providers[i].make_request("eth_blockNumber", []).get("result", "0x0"), 16)
        except (RequestException, OSError, ValueError, TypeError):
            self._down_since[i] = time.monotonic()
            return False
        if head < self.seen_block:
            self._down_since[i] = time.monotonic()
            return False
        return True

    def _spread(self, to: list[int], method: Any, params: Any) -> None:
        """Hand `params` to nodes `to` in the background; a node whose earlier handovers have not
        gone out yet (slow, or gone) is skipped: the nodes' own gossip still carries it there."""
        for j in to:
            with self._backlog_lock:
                if self._backlog[j] >= SPREAD_BACKLOG:
                    continue
                self._backlog[j] += 1
            self._spreaders[j].submit(self._hand, j, method, params)

    def _hand(self, j: int, method: Any, params: Any) -> None:
        try:
            if time.monotonic() - self._down_since.get(j, -1e9) < self.retry_first_s:
                return  # it failed since this was queued (e.g. timed out): the queue drains at once
            self._ask(j, method, params)
        except (RequestException, OSError):
            pass  # marked down by _ask; the node that answered the caller has it
        finally:
            with self._backlog_lock:
                self._backlog[j] -= 1
