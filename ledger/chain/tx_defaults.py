"""A transaction's defaults (value, data, gas, fees, chain id), filled as web3's
`ContractFunction.build_transaction` fills them, with web3's public API only (its own helper lives
in the private `web3._utils`, which may change in any minor release).

web3 asks the node for them one after another (estimate, priority fee, latest block, chain id:
four round trips before a write can be signed, each one slow on a node busy importing blocks);
here the node's answers are asked at once and the chain id, which never changes, once per
connection."""

from __future__ import annotations

import threading
import time
import weakref
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

from web3 import Web3

from ledger.chain.gas_from_one_run import estimate_gas

DYNAMIC_FEES = ("maxFeePerGas", "maxPriorityFeePerGas")
#: the node's answers a transaction waits for, asked side by side (threads mostly wait on sockets)
_ASK = ThreadPoolExecutor(max_workers=64, thread_name_prefix="tx-defaults")
_CHAIN_IDS: weakref.WeakKeyDictionary[Web3, int] = weakref.WeakKeyDictionary()
_CHAIN_IDS_LOCK = threading.Lock()
#: the latest block's gas limit, per connection, with when it was read (it moves slowly, if at all)
_GAS_CAPS: weakref.WeakKeyDictionary[Web3, tuple[float, int]] = weakref.WeakKeyDictionary()
_GAS_CAPS_LOCK = threading.Lock()
GAS_CAP_TTL_S = 30.0


def ask(fn: Callable[..., Any], *args: Any) -> Future:
    """`fn(*args)` (a question to a node) asked on the side; its answer from `.result()`."""
    return _ASK.submit(fn, *args)


def chain_id(w3: Web3) -> int:
    """The chain id `w3`'s node answered the first time it was asked."""
    with _CHAIN_IDS_LOCK:
        known = _CHAIN_IDS.get(w3)
    if known is None:
        known = int(w3.eth.chain_id)
        with _CHAIN_IDS_LOCK:
            _CHAIN_IDS[w3] = known
    return known


def fill_defaults(w3: Web3, tx: dict[str, Any]) -> dict[str, Any]:
    """`tx` with what it leaves out: value 0, empty data, the estimated gas, EIP-1559 fees (the
    node's priority fee, plus twice the latest base fee) unless a gas price strategy or an explicit
    `gasPrice` makes it a legacy transaction, and the chain id. What `tx` gives is kept. A refused
    estimate (a revert) raises as web3's does."""
    strategy_price = w3.eth.generate_gas_price(tx)  # type: ignore[arg-type]
    dynamic = strategy_price is None and ("gasPrice" not in tx or any(k in tx for k in DYNAMIC_FEES))
    asked = {}
    if "gas" not in tx:
        asked["gas"] = ask(estimate_gas, w3, dict(tx))  # a batch's from one run (`gas_from_one_run`)
    if dynamic and "maxPriorityFeePerGas" not in tx:
        asked["tip"] = ask(lambda: w3.eth.max_priority_fee)
    if dynamic and "maxFeePerGas" not in tx:
        asked["base"] = ask(lambda: w3.eth.get_block("latest")["baseFeePerGas"])
    defaults: dict[str, Any] = {}
    if "value" not in tx:
        defaults["value"] = 0
    if "data" not in tx:
        defaults["data"] = b""
    if "gas" in asked:
        defaults["gas"] = asked["gas"].result()
    if not dynamic and "gasPrice" not in tx:
        defaults["gasPrice"] = strategy_price
    if "tip" in asked:
        defaults["maxPriorityFeePerGas"] = asked["tip"].result()
    if "base" in asked:
        tip = tx.get("maxPriorityFeePerGas", defaults.get("maxPriorityFeePerGas"))
        defaults["maxFeePerGas"] = tip + 2 * asked["base"].result()
    if "chainId" not in tx:
        defaults["chainId"] = chain_id(w3)
    return {**defaults, **tx}


def build_transaction(w3: Web3, fn: Any, params: dict[str, Any]) -> dict[str, Any]:
    """What `fn.build_transaction(params)` gives for contract function call `fn` (a web3
    `ContractFunction` or one that quacks like it: `address`, `_encode_transaction_data`), its
    defaults filled by `fill_defaults`; anything else (a contract's constructor) builds its own."""
    if getattr(fn, "address", None) is None:
        return fn.build_transaction(params)
    return fill_defaults(w3, {**params, "to": fn.address, "data": fn._encode_transaction_data()})


def with_headroom(w3: Web3, estimate: int) -> int:
    """The gas limit to send a transaction estimated at `estimate` with: a fifth more and 25,000
    (two storage writes from zero), at most the latest block's gas limit. An estimate is exact for
    the state it ran on; a write that another transaction changes before this one is mined (a
    total emptied meanwhile costs 17,100 more to set again) ran out of gas at the exact estimate
    and was mined reverted, with no reason (bench consortium, 2026-12-05). Only the gas used is paid."""
    now = time.monotonic()
    with _GAS_CAPS_LOCK:
        known = _GAS_CAPS.get(w3)
    if known is None or now - known[0] > GAS_CAP_TTL_S:
        known = (now, int(w3.eth.get_block("latest")["gasLimit"]))
        with _GAS_CAPS_LOCK:
            _GAS_CAPS[w3] = known
    return max(estimate, min(estimate + estimate // 5 + 25_000, known[1]))
