"""The gas of a large transaction (a batch of orders) from one run of it, checked by a second, instead
of `eth_estimateGas`'s search.

`eth_estimateGas` searches for the least gas the call succeeds with, running it once per step.
anvil runs a batch of 500 orders about twenty times: 145 ms for an escrow, where one run takes
7 ms. Escrow, delivery and settlement together spent about 330 ms of a batch's 750 ms in those
searches (`make bench` part `settle`, 2026-12-07). The client adds a fifth as headroom anyway
(`tx_defaults.with_headroom`), so an exact minimum buys nothing here.

Here:
- One `eth_createAccessList` run gives the gas used and the storage the call touches.
- The sent transaction carries no access list, so each listed slot costs 100 more and each listed
  account 200 more (EIP-2929 cold access against EIP-2930 list prices).
- Each call frame may receive only 63/64 of the gas left (EIP-150). The candidate is therefore the
  gas used, those cold-access costs, a 64th and a call stipend.
- An `eth_call` with exactly that gas must succeed. Otherwise the node's own search answers: a
  call may need more gas than it uses (one that makes sure a callee gets a fixed amount, as
  PurchaseProofs does for its verifier; one whose refunds paid for part of its gas).
- Anything the node refuses, in either run, is asked of `eth_estimateGas` again. The caller then
  gets the same error as before (a revert's reason, a block too small).

Only transactions with at least `LARGE_CALLDATA` bytes of calldata take this path. A small write
costs one run either way, and it keeps web3's own estimate.
"""

from __future__ import annotations

from typing import Any

from web3 import Web3
from web3.exceptions import ContractCustomError, ContractLogicError, Web3RPCError

#: calldata from which a transaction is a batch (500 orders' escrow is about 40 KB, one order's 300 B)
LARGE_CALLDATA = 4096
_REFUSED = (ContractCustomError, ContractLogicError, Web3RPCError, ValueError)


def estimate_gas(w3: Web3, tx: dict[str, Any]) -> int:
    """A gas limit `tx` (from, to, data, value) succeeds with on the latest block, as
    `w3.eth.estimate_gas` answers it but from one run for a large `tx`; errors as that call's."""
    data = tx.get("data") or b""
    size = len(data) if isinstance(data, bytes | bytearray) else (len(data) - 2) // 2
    if size < LARGE_CALLDATA:
        return w3.eth.estimate_gas(tx)  # type: ignore[arg-type]
    try:
        ran = w3.eth.create_access_list(tx)  # type: ignore[arg-type]
        if ran.get("error"):  # geth answers a revert here, not as an error
            return w3.eth.estimate_gas(tx)  # type: ignore[arg-type]
        listed = ran["accessList"]
        used = int(ran["gasUsed"]) + 100 * sum(len(e["storageKeys"]) for e in listed) + 200 * len(listed)
        candidate = used + used // 63 + 2_300
        w3.eth.call({**tx, "gas": candidate})  # type: ignore[typeddict-item]
        return candidate
    except _REFUSED:
        return w3.eth.estimate_gas(tx)  # type: ignore[arg-type]
