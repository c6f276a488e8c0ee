"""Several nodes behind one JSON-RPC provider: the first that answers and has caught up."""

from __future__ import annotations

import contextlib
import time
from typing import Any

from requests.exceptions import RequestException
from web3 import HTTPProvider

from ledger.errors import NodeUnavailable


class FailoverProvider(HTTPProvider):
    """JSON-RPC over HTTP to the first of several nodes that answers.

    A request that cannot reach a node (refused, reset, timed out) goes to the next one; the first
    node is tried again first `retry_first_s` after it failed, so traffic moves back when it
    returns, but only once it has caught up: a node that comes back behind the newest block this
    provider has seen (a receipt's block, a head) would answer as if our own writes had not
    happened (a batch's product "unknown" to a gas estimate), so it stays out until it reaches
    that block. A signed transaction is also handed to every other node that answers, so it is not
    lost with the node that first took it. Errors the node answers (a revert, a bad nonce) are
    answers, not failures: they are returned as they are.
    """

    def __init__(self, urls: list[str], timeout: float = 10.0, retry_first_s: float = 5.0):
        super().__init__(urls[0], request_kwargs={"timeout": timeout})
        self.urls = urls
        self._providers = [HTTPProvider(u, request_kwargs={"timeout": timeout}) for u in urls]
        self._down_since: dict[int, float] = {}
        self.retry_first_s = retry_first_s
        #: the newest block any answer has shown us: what a returning node must have reached
        self.seen_block = -1

    def _order(self) -> list[int]:
        now = time.monotonic()
        up = [i for i in range(len(self.urls)) if now - self._down_since.get(i, -1e9) >= self.retry_first_s]
        return up + [i for i in range(len(self.urls)) if i not in up]

    def make_request(self, method: Any, params: Any) -> Any:
        last: Exception | None = None
        behind: list[int] = []
        for i in self._order():
            if i in self._down_since and not self._caught_up(i):
                behind.append(i)
                continue
            try:
                answer = self._ask(i, method, params)
            except (RequestException, OSError) as exc:
                last = exc
                continue
            if method == "eth_sendRawTransaction":
                self._spread(i, method, params)
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

    def _spread(self, sent_to: int, method: Any, params: Any) -> None:
        for j, provider in enumerate(self._providers):
            if j != sent_to and j not in self._down_since:
                with contextlib.suppress(RequestException, OSError):
                    provider.make_request(method, params)
