"""The chain indexer: every contract event of the deployment lands in the database exactly once.

- Reads logs of all deployed contracts in bounded block ranges (`eth_getLogs`), decodes them by
  their ABI (faster-eth-abi where installed), and inserts them unique by (tx hash, log index).
- Each range is one database transaction: its events, the hashes of its blocks and the
  per-contract checkpoints commit together, so a crash anywhere loses nothing and a restart
  resumes at the checkpoint without duplicating anything.
- Events are `final` once `confirmations` blocks deep, pending before.
- Before each step it checks the stored block hashes against the node; on a reorg it deletes
  the events of the orphaned blocks, rewinds the checkpoints to the fork point, and reads the
  new canonical blocks.

Run it with `python -m ledger index` (`--follow` keeps polling).
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from eth_utils import keccak, to_checksum_address
from requests.exceptions import RequestException
from sqlalchemy import Engine, delete, func, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import OperationalError as DatabaseUnavailable
from web3 import Web3

from ledger.chain.deploy import Deployment
from ledger.chain.revert_errors import abi_type as _abi_type
from ledger.errors import NodeUnavailable
from ledger.store.models import ChainEvent, IndexedBlock, IndexerCheckpoint

try:  # the compiled decoder is several times faster; same API
    from faster_eth_abi import decode as abi_decode
except ImportError:  # pragma: no cover
    from eth_abi import decode as abi_decode


log = logging.getLogger("traceledger.indexer")


def _hex(b: bytes) -> str:
    return "0x" + b.hex()


@dataclass(frozen=True)
class _EventSpec:
    contract: str
    name: str
    indexed: list[tuple[str, str]]  # (name, type)
    data_names: list[str]
    data_types: list[str]


class EventDecoder:
    """Decodes raw logs of known contracts into (contract, event, args) with JSON-safe values."""

    def __init__(self, contracts: dict[str, dict[str, Any]]):
        self.by_address: dict[str, str] = {}
        self.specs: dict[tuple[str, bytes], _EventSpec] = {}
        self._checksums: dict[bytes, str] = {}
        for name, c in contracts.items():
            address = to_checksum_address(c["address"])
            self.by_address[address.lower()] = name
            for item in c["abi"]:
                if item.get("type") != "event" or item.get("anonymous"):
                    continue
                types = [_abi_type(i) for i in item["inputs"]]
                topic = keccak(text=f"{item['name']}({','.join(types)})")
                self.specs[(name, topic)] = _EventSpec(
                    contract=name,
                    name=item["name"],
                    indexed=[(i["name"], _abi_type(i)) for i in item["inputs"] if i["indexed"]],
                    data_names=[i["name"] for i in item["inputs"] if not i["indexed"]],
                    data_types=[_abi_type(i) for i in item["inputs"] if not i["indexed"]],
                )

    def addresses(self) -> list[str]:
        return [to_checksum_address(a) for a in self.by_address]

    def _address(self, raw: bytes) -> str:
        a = self._checksums.get(raw)
        if a is None:
            a = self._checksums[raw] = to_checksum_address(raw)
        return a

    def _json(self, typ: str, value: Any) -> Any:
        if typ == "address":
            return self._address(bytes.fromhex(value[2:]) if isinstance(value, str) else value)
        if typ.startswith("bytes"):
            return _hex(value)
        if typ.endswith("]"):
            return [self._json(typ[: typ.rindex("[")], v) for v in value]
        return value

    def decode(self, log: dict[str, Any]) -> tuple[str, str, dict[str, Any]] | None:
        contract = self.by_address.get(log["address"].lower())
        topics = log["topics"]
        if contract is None or not topics:
            return None
        spec = self.specs.get((contract, bytes(topics[0])))
        if spec is None:
            return None
        args: dict[str, Any] = {}
        for (name, typ), topic in zip(spec.indexed, topics[1:], strict=True):
            raw = bytes(topic)
            if typ == "address":
                args[name] = self._address(raw[12:])
            elif typ.startswith("uint") or typ.startswith("int"):
                args[name] = int.from_bytes(raw, "big", signed=typ.startswith("int"))
            elif typ == "bool":
                args[name] = raw[-1] == 1
            else:  # bytes32, or the hash of a dynamic value
                args[name] = _hex(raw)
        if spec.data_types:
            values = abi_decode(spec.data_types, bytes(log["data"]))
            for name, typ, value in zip(spec.data_names, spec.data_types, values, strict=True):
                args[name] = self._json(typ, value)
        return contract, spec.name, args


def _first_indexed(args: dict[str, Any], spec_indexed: list[tuple[str, str]]) -> str | None:
    if not spec_indexed:
        return None
    v = args[spec_indexed[0][0]]
    return str(v)[:66]


class Indexer:
    """Indexes one deployment into one database. Not safe to run twice against the same database
    at once (one indexer per database, as the design says)."""

    def __init__(
        self,
        dep: Deployment,
        engine: Engine,
        *,
        confirmations: int = 6,
        batch_blocks: int = 2000,
        on_batch: Callable[[list[dict[str, Any]]], None] | None = None,
    ):
        self.w3: Web3 = dep.w3
        self.engine = engine
        self.confirmations = confirmations
        self.batch_blocks = batch_blocks
        self.decoder = EventDecoder(dep.manifest["contracts"])
        self.start_block = int(dep.manifest["deployed_at_block"])
        self.on_batch = on_batch  # test hook: called with the rows just before they are written
        self._insert_stmt = self._insert_ignoring_duplicates()
        self._ensure_checkpoints(dep)

    # -- state ---------------------------------------------------------------------------------

    def _insert_ignoring_duplicates(self) -> Any:
        if self.engine.dialect.name == "postgresql":
            return postgresql.insert(ChainEvent).on_conflict_do_nothing(constraint="uq_chain_events_tx_log")
        return sqlite.insert(ChainEvent).on_conflict_do_nothing(index_elements=["tx_hash", "log_index"])

    def _ensure_checkpoints(self, dep: Deployment) -> None:
        with self.engine.begin() as conn:
            have = {r[0] for r in conn.execute(select(IndexerCheckpoint.contract))}
            for name, c in dep.manifest["contracts"].items():
                if name not in have:
                    conn.execute(
                        insert(IndexerCheckpoint).values(
                            contract=name, address=c["address"], block_number=self.start_block - 1
                        )
                    )

    def checkpoint(self) -> int:
        """The block up to which every contract has been read."""
        with self.engine.connect() as conn:
            return int(conn.scalar(select(func.min(IndexerCheckpoint.block_number))))

    # -- reorgs --------------------------------------------------------------------------------

    def _fork_point(self) -> int | None:
        """None if the stored blocks are all canonical, else the highest block still canonical."""
        with self.engine.connect() as conn:
            stored = conn.execute(
                select(IndexedBlock.number, IndexedBlock.hash).order_by(IndexedBlock.number.desc())
            ).all()
        head = self.w3.eth.block_number
        for i, (number, block_hash) in enumerate(stored):
            block = self.w3.eth.get_block(number) if number <= head else None
            if block is not None and _hex(block["hash"]) == block_hash:
                return None if i == 0 else number
        return self.start_block - 1 if stored else None

    def _rollback_to(self, fork: int) -> int:
        with self.engine.begin() as conn:
            removed = conn.execute(delete(ChainEvent).where(ChainEvent.block_number > fork)).rowcount
            conn.execute(delete(IndexedBlock).where(IndexedBlock.number > fork))
            conn.execute(
                update(IndexerCheckpoint).where(IndexerCheckpoint.block_number > fork).values(block_number=fork)
            )
        return removed

    # -- reading -------------------------------------------------------------------------------

    def _rows(self, logs: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
        rows = []
        for log in logs:
            decoded = self.decoder.decode(log)
            if decoded is None:
                continue
            contract, event, args = decoded
            spec = self.decoder.specs[(contract, bytes(log["topics"][0]))]
            rows.append(
                {
                    "tx_hash": _hex(bytes(log["transactionHash"])),
                    "log_index": int(log["logIndex"]),
                    "block_number": int(log["blockNumber"]),
                    "block_hash": _hex(bytes(log["blockHash"])),
                    "contract": contract,
                    "event": event,
                    "key": _first_indexed(args, spec.indexed),
                    "args": json.dumps(args, separators=(",", ":")),
                    "final": False,
                }
            )
        return rows

    def ingest(self, logs: Iterable[dict[str, Any]], upto: int, upto_hash: str) -> int:
        """Decode `logs` (all of blocks up to `upto`) and store them with the checkpoint; return the count."""
        rows = self._rows(logs)
        blocks = {r["block_number"]: r["block_hash"] for r in rows}
        blocks[upto] = upto_hash
        self.store(rows, blocks, upto)
        return len(rows)

    def store(self, rows: list[dict[str, Any]], blocks: dict[int, str], upto: int) -> None:
        """Write decoded rows, their block hashes and the checkpoints in one transaction."""
        with self.engine.begin() as conn:
            if self.on_batch:
                self.on_batch(rows)
            for i in range(0, len(rows), 5000):
                conn.execute(self._insert_stmt, rows[i : i + 5000])
            for number, block_hash in blocks.items():
                conn.execute(delete(IndexedBlock).where(IndexedBlock.number == number))
                conn.execute(insert(IndexedBlock).values(number=number, hash=block_hash))
            conn.execute(
                update(IndexerCheckpoint).where(IndexerCheckpoint.block_number < upto).values(block_number=upto)
            )

    def step(self) -> dict[str, int]:
        """Check for a reorg, read one range of blocks, finalize what is deep enough."""
        result = {"rolled_back": 0, "indexed": 0, "finalized": 0}
        fork = self._fork_point()
        if fork is not None:
            result["rolled_back"] = self._rollback_to(fork)
        head = self.w3.eth.block_number
        start = self.checkpoint() + 1
        if start <= head:
            end = min(head, start + self.batch_blocks - 1)
            logs = self.w3.eth.get_logs({"fromBlock": start, "toBlock": end, "address": self.decoder.addresses()})
            result["indexed"] = self.ingest(logs, end, _hex(self.w3.eth.get_block(end)["hash"]))
        result["finalized"] = self._finalize(head)
        return result

    def _finalize(self, head: int) -> int:
        deep = head - self.confirmations
        with self.engine.begin() as conn:
            n = conn.execute(
                update(ChainEvent)
                .where(ChainEvent.final.is_(False), ChainEvent.block_number <= deep)
                .values(final=True)
            ).rowcount
            keep_from = deep - self.confirmations
            newest = conn.scalar(select(func.max(IndexedBlock.number)))
            if newest is not None:
                conn.execute(delete(IndexedBlock).where(IndexedBlock.number < keep_from, IndexedBlock.number != newest))
        return n

    def run(self, *, follow: bool = False, poll_s: float = 1.0, until: int | None = None) -> dict[str, int]:
        """Index until caught up with the head (or block `until`); with `follow`, keep polling."""
        totals = {"rolled_back": 0, "indexed": 0, "finalized": 0}
        while True:
            try:
                r = self.step()
                caught_up = self.checkpoint() >= (until if until is not None else self.w3.eth.block_number)
            except (RequestException, OSError, DatabaseUnavailable) as exc:  # nothing was committed
                if not follow:
                    if isinstance(exc, DatabaseUnavailable):
                        raise
                    raise NodeUnavailable(f"indexer lost the node: {str(exc).splitlines()[0][:160]}") from None
                log.warning("indexer: node or database unavailable (%s); retrying", str(exc).splitlines()[0][:160])
                time.sleep(poll_s)
                continue
            for k in totals:
                totals[k] += r[k]
            if caught_up and not follow:
                return totals
            if caught_up:
                time.sleep(poll_s)
