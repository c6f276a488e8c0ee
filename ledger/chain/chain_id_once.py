"""The chain id asked of the node once per connection, not before and after every call.

web3's validation middleware checks a call's or an estimate's chain id against the node's, and
asks the node for it (`eth_chainId`) both when the request leaves and when the answer comes back:
every `eth_call` and `eth_estimateGas` was three round trips, two of them the chain id (py-spy, the
API under a capture's load: a member's roles, read on every request, ~10 ms a request; 200 calls
on anvil took 0.71 s, 0.37 s with the chain id kept).
A network's chain id does not change while a node serves it, so the first answer is kept and
given again; an error is not kept (the next ask goes to the node)."""

from __future__ import annotations

import threading
from typing import Any

from web3.middleware.base import Web3Middleware


class ChainIdOnce(Web3Middleware):
    def __init__(self, w3: Any) -> None:
        super().__init__(w3)
        self._known: Any = None
        self._lock = threading.Lock()

    def wrap_make_request(self, make_request: Any) -> Any:
        def middleware(method: Any, params: Any) -> Any:
            if method != "eth_chainId":
                return make_request(method, params)
            known = self._known
            if known is not None:
                return dict(known)
            answer = make_request(method, params)
            if isinstance(answer, dict) and answer.get("result") is not None and "error" not in answer:
                with self._lock:
                    self._known = dict(answer)
            return answer

        return middleware
