"""Read the deployment's on-chain records straight from a node: decoded contract events by kind
(anchors, batches, orders, deposits, governance, token) over a bounded block range, one block, one
transaction with its receipt and decoded logs, the members with their roles, and the parameters
in force. Nothing here reads our database: an auditor sees what the chain says.

May import: ledger.chain (deploy, indexer's decoder, roles via ledger.access)."""

from __future__ import annotations

from typing import Any

from ledger.access.roles import Role

from .deploy import Deployment
from .indexer import EventDecoder

#: the record kinds an explorer filters by, as (contract, events or None for all of its events)
KINDS: dict[str, list[tuple[str, frozenset[str] | None]]] = {
    "anchors": [("Provenance", frozenset({"RootAnchored", "EventRecorded"}))],
    "batches": [
        (
            "Provenance",
            frozenset({"ProductRegistered", "BatchRegistered", "BatchRecalled", "RecorderSet", "CodeKeyRevoked"}),
        )
    ],  # fmt: skip
    "orders": [("OrderSettlement", None)],
    "deposits": [("GuaranteeVault", None)],
    "governance": [("Governance", None), ("Membership", None)],
    "token": [("SettlementToken", None)],
}
#: at most this many blocks are read per request, so a page of records is bounded work for the node
MAX_BLOCKS = 20_000
MAX_RECORDS = 500
_JS_SAFE = 2**53 - 1


def _safe(value: Any) -> Any:
    """Integers a browser cannot hold exactly (over 2^53) as decimal strings."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and abs(value) > _JS_SAFE:
        return str(value)
    if isinstance(value, list):
        return [_safe(v) for v in value]
    return value


def _decoder(dep: Deployment) -> EventDecoder:
    return EventDecoder(dep.manifest["contracts"])


def _hex(b: Any) -> str:
    return b if isinstance(b, str) else "0x" + bytes(b).hex()


def _record(decoder: EventDecoder, log: dict[str, Any]) -> dict[str, Any] | None:
    decoded = decoder.decode(log)
    if decoded is None:
        return None
    contract, event, args = decoded
    return {
        "block": int(log["blockNumber"]),
        "block_hash": _hex(log["blockHash"]),
        "tx": _hex(log["transactionHash"]),
        "log_index": int(log["logIndex"]),
        "contract": contract,
        "event": event,
        "args": {k: _safe(v) for k, v in args.items()},
    }


def _mentions(record: dict[str, Any], subject: str) -> bool:
    """Whether any argument equals the subject (an address, a hash, a GTIN or an id), ignoring case."""
    for value in record["args"].values():
        for v in value if isinstance(value, list) else [value]:
            if str(v).lower() == subject:
                return True
    return record["tx"].lower() == subject


def records(
    dep: Deployment,
    kind: str | None,
    from_block: int | None,
    to_block: int | None,
    *,
    event: str | None = None,
    subject: str | None = None,
    limit: int = 100,
) -> dict[str, Any]:
    """Records in [from_block, to_block] (at most MAX_BLOCKS; default the latest MAX_BLOCKS since
    deployment), newest first, at most `limit`; `next_to_block` continues further back."""
    head = int(dep.w3.eth.block_number)
    start = int(dep.manifest["deployed_at_block"])
    to_block = head if to_block is None else min(to_block, head)
    from_block = max(start, to_block - MAX_BLOCKS + 1) if from_block is None else max(from_block, start)
    if from_block > to_block:
        return {"from_block": from_block, "to_block": to_block, "records": [], "next_to_block": None, "head": head}
    if to_block - from_block + 1 > MAX_BLOCKS:
        raise ValueError(f"at most {MAX_BLOCKS} blocks per request")
    groups = KINDS[kind] if kind else [(name, None) for name in dep.manifest["contracts"]]
    names = {name for name, _ in groups}
    allowed = {name: events for name, events in groups}
    addresses = [dep.manifest["contracts"][n]["address"] for n in sorted(names) if n in dep.manifest["contracts"]]
    logs = dep.w3.eth.get_logs({"fromBlock": from_block, "toBlock": to_block, "address": addresses})
    decoder = _decoder(dep)
    found = []
    for log in logs:
        r = _record(decoder, log)
        if r is None or (allowed[r["contract"]] is not None and r["event"] not in allowed[r["contract"]]):
            continue
        if (event and r["event"] != event) or (subject and not _mentions(r, subject.lower())):
            continue
        found.append(r)
    found.sort(key=lambda r: (-r["block"], -r["log_index"]))
    more = len(found) > limit
    page = found[:limit]
    next_to = page[-1]["block"] - 1 if more else (from_block - 1 if from_block > start else None)
    return {"from_block": from_block, "to_block": to_block, "head": head, "records": page, "next_to_block": next_to}


def block(dep: Deployment, number: int) -> dict[str, Any]:
    b = dep.w3.eth.get_block(number)
    return {
        "number": int(b["number"]),
        "hash": _hex(b["hash"]),
        "parent_hash": _hex(b["parentHash"]),
        "timestamp": int(b["timestamp"]),
        "miner": b.get("miner"),
        "gas_used": int(b["gasUsed"]),
        "transactions": [_hex(t) for t in b["transactions"]],
    }


def transaction(dep: Deployment, tx_hash: str) -> dict[str, Any]:
    tx = dep.w3.eth.get_transaction(tx_hash)
    receipt = dep.w3.eth.get_transaction_receipt(tx_hash)
    decoder = _decoder(dep)
    names = {c["address"].lower(): n for n, c in dep.manifest["contracts"].items()}
    return {
        "hash": _hex(tx["hash"]),
        "block": int(receipt["blockNumber"]),
        "block_hash": _hex(receipt["blockHash"]),
        "from": tx["from"],
        "to": tx.get("to"),
        "to_contract": names.get((tx.get("to") or "").lower()),
        "status": "success" if receipt["status"] == 1 else "reverted",
        "gas_used": int(receipt["gasUsed"]),
        "records": [r for r in (_record(decoder, log) for log in receipt["logs"]) if r is not None],
    }


def members(dep: Deployment) -> list[dict[str, Any]]:
    """Every account the Membership contract has admitted and not removed, with its roles now."""
    m = dep.contract("Membership")
    seen = {log["args"]["member"] for log in dep.logs(m.events.MemberAdmitted)}
    out = []
    for address in sorted(seen):
        bits = int(m.functions.rolesOf(address).call())
        if bits:
            out.append({"address": address, "roles": [r.name.lower() for r in Role if r.name and bits & r]})
    return out


def parameters(dep: Deployment) -> dict[str, Any]:
    """The caps, minimums and timeouts in force, as the contracts answer them now."""
    s, v = dep.contract("OrderSettlement"), dep.contract("GuaranteeVault")
    minimums = {}
    for log in dep.logs(v.events.MinimumSet):
        minimums[log["args"]["merchant"]] = int(log["args"]["minimum"])
    return {
        "platform_fee_cap_bps": int(s.functions.platformFeeCapBps().call()),
        "referral_cap_bps": [int(x) for x in s.functions.referralCapBps().call()],
        "settlement_timeout_s": int(s.functions.settlementTimeout().call()),
        "return_window_s": int(s.functions.returnWindow().call()),
        "ruling_threshold_fen": int(s.functions.rulingThreshold().call()),
        "arbiter_quorum": int(s.functions.arbiterQuorum().call()),
        "withdrawal_cooldown_s": int(v.functions.cooldown().call()),
        "minimum_deposits_fen": minimums,
    }
