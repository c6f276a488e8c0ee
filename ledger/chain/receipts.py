"""Receipts read without web3's result formatters, for transactions with many logs."""

from __future__ import annotations

from typing import Any

from hexbytes import HexBytes
from web3 import Web3
from web3.exceptions import TransactionNotFound


def light_receipt(w3: Web3, tx_hash: bytes) -> Any:
    """The receipt without web3's result formatters (which take ~0.1 s on a receipt of a thousand
    logs): status, hashes and numbers typed, logs as address, topics, data and index."""
    raw = w3.provider.make_request("eth_getTransactionReceipt", ["0x" + bytes(tx_hash).hex()]).get("result")
    if raw is None:
        raise TransactionNotFound(f"no receipt for {bytes(tx_hash).hex()}")
    out = {k: raw[k] for k in ("from", "to", "contractAddress")}
    for k in ("status", "blockNumber", "gasUsed", "transactionIndex"):
        out[k] = int(raw[k], 16)
    out["transactionHash"], out["blockHash"] = HexBytes(raw["transactionHash"]), HexBytes(raw["blockHash"])
    out["logs"] = [
        {
            "address": log["address"],  # as the node wrote it (lower case)
            "topics": [HexBytes(t) for t in log["topics"]],
            "data": HexBytes(log["data"]),
            "logIndex": int(log["logIndex"], 16),
        }
        for log in raw["logs"]
    ]
    return out
