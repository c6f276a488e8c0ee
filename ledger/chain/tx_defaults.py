"""A transaction's defaults (value, data, gas, fees, chain id), filled as web3's
`ContractFunction.build_transaction` fills them, with web3's public API only (its own helper lives
in the private `web3._utils`, which may change in any minor release)."""

from __future__ import annotations

from typing import Any

from web3 import Web3

DYNAMIC_FEES = ("maxFeePerGas", "maxPriorityFeePerGas")


def fill_defaults(w3: Web3, tx: dict[str, Any]) -> dict[str, Any]:
    """`tx` with what it leaves out: value 0, empty data, the estimated gas, EIP-1559 fees (the
    node's priority fee, plus twice the latest base fee) unless a gas price strategy or an explicit
    `gasPrice` makes it a legacy transaction, and the chain id. What `tx` gives is kept."""
    strategy_price = w3.eth.generate_gas_price(tx)  # type: ignore[arg-type]
    dynamic = strategy_price is None and ("gasPrice" not in tx or any(k in tx for k in DYNAMIC_FEES))
    defaults: dict[str, Any] = {}
    if "value" not in tx:
        defaults["value"] = 0
    if "data" not in tx:
        defaults["data"] = b""
    if "gas" not in tx:
        defaults["gas"] = w3.eth.estimate_gas(tx)  # type: ignore[arg-type]
    if not dynamic and "gasPrice" not in tx:
        defaults["gasPrice"] = strategy_price
    if dynamic and "maxPriorityFeePerGas" not in tx:
        defaults["maxPriorityFeePerGas"] = w3.eth.max_priority_fee
    if dynamic and "maxFeePerGas" not in tx:
        tip = tx.get("maxPriorityFeePerGas", defaults.get("maxPriorityFeePerGas"))
        defaults["maxFeePerGas"] = tip + 2 * w3.eth.get_block("latest")["baseFeePerGas"]
    if "chainId" not in tx:
        defaults["chainId"] = w3.eth.chain_id
    return {**defaults, **tx}
