"""After the consortium's load: was anything the API acknowledged lost, or done twice? Every order
whose escrow the API answered must have exactly one `OrderEscrowed` on the chain, every order it
answered settled exactly one `OrderSettled`, read from a node once the faults are healed and the
nodes agree (the same figures `make soak` prints for its anvil stack)."""

from __future__ import annotations

import time
from collections import Counter

from eth_utils import keccak
from web3 import Web3

from ledger.chain.deploy import Deployment

_EVENTS = {
    "escrowed": "OrderEscrowed(bytes32,address,uint256)",
    "settled": "OrderSettled(bytes32,uint256)",
}


def _keys_logged(w3: Web3, address: str, signature: str, start: int, end: int, step: int = 2_000) -> Counter:
    topic = "0x" + keccak(text=signature).hex()
    seen: Counter = Counter()
    for lo in range(start, end + 1, step):
        logs = w3.provider.make_request(
            "eth_getLogs",
            [{"address": address, "topics": [topic], "fromBlock": hex(lo), "toBlock": hex(min(end, lo + step - 1))}],
        )["result"]
        seen.update(log["topics"][1].lower() for log in logs)
    return seen


def lost_and_duplicated(w3: Web3, dep: Deployment, acked: dict[str, set[str]], wait_s: float = 30) -> dict[str, int]:
    """`acked`: order keys the API acknowledged per step ("escrowed", "settled"). A write a reorg
    put back in the pool is sealed again within a few blocks: counted lost only if still missing
    after `wait_s`."""
    deadline = time.monotonic() + wait_s
    while True:
        out = _count(w3, dep, acked)
        if not any(v for k, v in out.items() if k.endswith("_lost")) or time.monotonic() > deadline:
            return out
        time.sleep(1)


def _count(w3: Web3, dep: Deployment, acked: dict[str, set[str]]) -> dict[str, int]:
    address = dep.contract("OrderSettlement").address
    start, end = int(dep.manifest["deployed_at_block"]), w3.eth.block_number
    out = {}
    for step, signature in _EVENTS.items():
        seen = _keys_logged(w3, address, signature, start, end)
        keys = {k.lower() for k in acked[step]}
        out[f"{step}_acknowledged"] = len(keys)
        out[f"{step}_lost"] = sum(1 for k in keys if seen[k] == 0)
        out[f"{step}_duplicated"] = sum(1 for k, n in seen.items() if n > 1)
    return out
