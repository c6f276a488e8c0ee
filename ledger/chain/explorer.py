"""Read the deployment's on-chain records straight from a node: decoded contract events by kind
(anchors, batches, orders, deposits, governance, token) over a bounded block range, one block, one
transaction with its receipt and decoded logs, the members with their roles, and the parameters
in force. Nothing here reads our database: an auditor sees what the chain says.

May import: ledger.chain (deploy, indexer's decoder, roles via ledger.access)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from ledger.access.roles import role_names

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
    # a GTIN's leading zeros are not in the number; ASCII digits only (int() refuses `²`, which isdigit() takes)
    number = int(subject) if subject.isascii() and subject.isdigit() else None
    for value in record["args"].values():
        for v in value if isinstance(value, list) else [value]:
            if str(v).lower() == subject or (number is not None and isinstance(v, int) and v == number):
                return True
    return record["tx"].lower() == subject


def _needle(subject: str) -> str | None:
    """How the subject shows in a raw log's topics or data (hex), to skip logs without decoding
    them; None when it cannot be told before decoding."""
    s = subject.lower()
    if s.startswith("0x") and all(c in "0123456789abcdef" for c in s[2:]) and len(s) > 2:
        return s[2:]
    if s.isascii() and s.isdigit() and int(s) < 2**256:
        return format(int(s), "064x")
    return None


def _skip(raw: dict[str, Any], to_block: int, before_log_index: int | None, needle: str | None) -> bool:
    """Whether a raw log is out of the page (at or after the cursor) or cannot mention the subject."""
    at_cursor = before_log_index is not None and int(raw["blockNumber"], 16) == to_block
    if at_cursor and int(raw["logIndex"], 16) >= before_log_index:
        return True
    if needle is None:
        return False
    return (
        needle not in raw["data"]
        and needle not in raw["transactionHash"]
        and not any(needle in x for x in raw["topics"][1:])
    )


def _topics(decoder: EventDecoder, allowed: dict[str, frozenset[str] | None], event: str | None) -> list[str]:
    """topic0 of every event the filters admit ([] when every event of the contracts is)."""
    if event is None and all(v is None for v in allowed.values()):
        return []
    return sorted(
        "0x" + topic.hex()
        for (contract, topic), spec in decoder.specs.items()
        if contract in allowed
        and (allowed[contract] is None or spec.name in allowed[contract])
        and (event is None or spec.name == event)
    )


def _raw_logs(dep: Deployment, query: dict[str, Any]) -> list[dict[str, Any]]:
    """eth_getLogs without web3's per-log formatting (thousands of logs a block are usual here)."""
    answer = dep.w3.provider.make_request("eth_getLogs", [query])
    if "error" in answer:
        raise RuntimeError(f"eth_getLogs: {answer['error']}")
    return answer["result"]


def _newest_first(dep: Deployment, query: dict[str, Any], from_block: int, to_block: int) -> Iterator[dict[str, Any]]:
    """Raw logs from to_block back to from_block, asked for in windows of 1, 2, 4... blocks: a page
    of the newest records reads the few blocks it needs, not thousands of logs it would skip."""
    hi, size = to_block, 1
    while hi >= from_block:
        lo = max(from_block, hi - size + 1)
        yield from reversed(_raw_logs(dep, query | {"fromBlock": hex(lo), "toBlock": hex(hi)}))
        hi, size = lo - 1, min(size * 2, MAX_BLOCKS)


def _as_log(raw: dict[str, Any]) -> dict[str, Any]:
    return {
        "address": raw["address"],
        "topics": [bytes.fromhex(x[2:]) for x in raw["topics"]],
        "data": bytes.fromhex(raw["data"][2:]),
        "blockNumber": int(raw["blockNumber"], 16),
        "blockHash": raw["blockHash"],
        "transactionHash": raw["transactionHash"],
        "logIndex": int(raw["logIndex"], 16),
    }


def records(
    dep: Deployment,
    kind: str | None,
    from_block: int | None,
    to_block: int | None,
    *,
    event: str | None = None,
    subject: str | None = None,
    before_log_index: int | None = None,
    limit: int = 100,
) -> dict[str, Any]:
    """Records in [from_block, to_block] (at most MAX_BLOCKS; default the latest MAX_BLOCKS since
    deployment), newest first, at most `limit`; in `to_block` only those before `before_log_index`.
    `next` names where the next page (further back) starts, or is None."""
    head = int(dep.w3.eth.block_number)
    start = int(dep.manifest["deployed_at_block"])
    to_block = head if to_block is None else min(to_block, head)
    from_block = max(start, to_block - MAX_BLOCKS + 1) if from_block is None else max(from_block, start)
    out: dict[str, Any] = {"from_block": from_block, "to_block": to_block, "head": head, "records": [], "next": None}
    if from_block > to_block:
        return out
    if to_block - from_block + 1 > MAX_BLOCKS:
        raise ValueError(f"at most {MAX_BLOCKS} blocks per request")
    groups = KINDS[kind] if kind else [(name, None) for name in dep.manifest["contracts"]]
    allowed = {name: events for name, events in groups if name in dep.manifest["contracts"]}
    decoder = _decoder(dep)
    query: dict[str, Any] = {
        "fromBlock": hex(from_block),
        "toBlock": hex(to_block),
        "address": [dep.manifest["contracts"][n]["address"] for n in sorted(allowed)],
    }
    topics = _topics(decoder, allowed, event)
    if topics:
        query["topics"] = [topics]
    elif event is not None or any(v is not None for v in allowed.values()):
        return out  # no such event
    needle = _needle(subject) if subject else None
    found: list[dict[str, Any]] = []
    for raw in _newest_first(dep, query, from_block, to_block):
        if _skip(raw, to_block, before_log_index, needle):
            continue
        r = _record(decoder, _as_log(raw))
        if r is None or (allowed[r["contract"]] is not None and r["event"] not in allowed[r["contract"]]):
            continue
        if (event and r["event"] != event) or (subject and not _mentions(r, subject.lower())):
            continue
        found.append(r)
        if len(found) > limit:
            break
    page = found[:limit]
    if len(found) > limit:
        out["next"] = {"to_block": page[-1]["block"], "before_log_index": page[-1]["log_index"]}
    elif from_block > start:
        out["next"] = {"to_block": from_block - 1, "before_log_index": None}
    out["records"] = page
    return out


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
            out.append({"address": address, "roles": role_names(bits)})
    return out


def parameters(dep: Deployment) -> dict[str, Any]:
    """The caps, minimums and timeouts in force, as the contracts answer them now."""
    s, v = dep.contract("OrderSettlement"), dep.contract("GuaranteeVault")
    minimums = {}
    for log in dep.logs(v.events.MinimumSet):
        minimums[log["args"]["merchant"]] = int(log["args"]["minimum"])
    case_threshold, case_quorum = v.functions.caseRuling().call()  # cases above it: quorum arbiters
    return {
        "platform_fee_cap_bps": int(s.functions.platformFeeCapBps().call()),
        "referral_cap_bps": [int(x) for x in s.functions.referralCapBps().call()],
        "settlement_timeout_s": int(s.functions.settlementTimeout().call()),
        "return_window_s": int(s.functions.returnWindow().call()),
        "ruling_threshold_fen": int(s.functions.rulingThreshold().call()),
        "arbiter_quorum": int(s.functions.arbiterQuorum().call()),
        "withdrawal_cooldown_s": int(v.functions.cooldown().call()),
        "case_threshold_fen": int(case_threshold),
        "case_arbiter_quorum": int(case_quorum),
        "minimum_deposits_fen": minimums,
    }
