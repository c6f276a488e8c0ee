"""What reconciliation reads: the platform's orders (the `orders` table or a CSV export) and the
escrows the indexed `OrderSettlement` events describe, each with its latest state."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Iterator
from typing import Any

from eth_utils import is_address, to_checksum_address
from sqlalchemy import Engine, select

from ledger.errors import LedgerError
from ledger.money.orders.books import order_secret
from ledger.money.orders.terms import order_key, order_salt, unpack_amount
from ledger.money.recon.reconcile import STATUS_WORDS, ChainRecord, OrderRow
from ledger.store.models import ChainEvent, Order

CSV_COLUMNS = ("order_id", "merchant", "amount_fen", "status", "referrers", "time")


class OrdersInputError(LedgerError, ValueError):
    """The orders input is malformed; the message names the line and the field."""


_STATES = ("OrderEscrowed", "OrderDelivered", "OrderDisputed", "OrderRefunded", "OrderSettled")


BATCH = 10_000  # rows a server-side cursor fetches at a time


def by_key(engine: Engine, column: Any) -> Any:
    """Order by `column` byte-wise, as Python compares the keys (PostgreSQL: `COLLATE "C"`)."""
    return column.collate("C") if engine.dialect.name == "postgresql" else column


def chain_records(engine: Engine, up_to: int | None = None) -> dict[str, ChainRecord]:
    """Escrows from the indexed OrderSettlement events (up to block `up_to`), each with its latest
    state: escrowed, delivered, disputed, settled, or refunded (a refund of everything that remained)."""
    return {r.order_key: r for r in chain_sorted(engine, up_to)}


def chain_sorted(engine: Engine, up_to: int | None = None) -> Iterator[ChainRecord]:
    """The same records one at a time in key order, read through a server-side cursor (memory flat)."""
    q = (
        select(ChainEvent.key, ChainEvent.event, ChainEvent.args, ChainEvent.final, ChainEvent.block_number)
        .where(ChainEvent.contract == "OrderSettlement", ChainEvent.event.in_(_STATES))
        .order_by(by_key(engine, ChainEvent.key), ChainEvent.block_number, ChainEvent.log_index)
    )
    if up_to is not None:
        q = q.where(ChainEvent.block_number <= up_to)
    current, rec, later = None, None, []
    with engine.connect().execution_options(stream_results=True, yield_per=BATCH) as conn:
        for key, event, args, final, block in conn.execute(q):
            if key != current:
                if rec is not None:
                    yield _fold(rec, later)
                current, rec, later = key, None, []
            if event == "OrderEscrowed":
                a = json.loads(args)
                rec = ChainRecord(key, a["merchant"], unpack_amount(int(a["terms"])), "escrowed", bool(final), block)
            elif event == "OrderRefunded":
                if int(json.loads(args)["remaining"]) == 0:
                    later.append(("refunded", bool(final), block))
            else:
                later.append((event.removeprefix("Order").lower(), bool(final), block))
    if rec is not None:
        yield _fold(rec, later)


def _fold(rec: ChainRecord, later: list[tuple[str, bool, int]]) -> ChainRecord:
    for status, final, block in later:
        rec.status, rec.block, rec.final = status, block, rec.final and final
    return rec


def orders_from_db(engine: Engine) -> Iterator[OrderRow]:
    with engine.connect() as conn:
        for oid, merchant, amount, status, key in conn.execute(
            select(Order.order_id, Order.merchant, Order.amount_fen, Order.status, Order.order_key)
        ):
            yield OrderRow(oid, merchant, int(amount), status, key)


def orders_from_csv(text: str) -> list[OrderRow]:
    """Parse a CSV export held in memory (see `iter_orders_csv`)."""
    return list(iter_orders_csv(io.StringIO(text)))


REQUIRED = ("order_id", "merchant", "amount_fen", "status")


def iter_orders_csv(lines: Iterable[str]) -> Iterator[OrderRow]:
    """Parse a CSV export line by line (any size: nothing is held); amounts must be integer fen and
    statuses known words. A byte-order mark is dropped. Any problem raises OrdersInputError naming
    the line and the column: a missing column, a short (truncated) or long row, a bad value. Keys
    are the `order_key` column's, or derived from the order ids with the platform's secret."""
    reader = csv.reader(_without_bom(lines))
    header = next(reader, None)
    if header is None:
        raise OrdersInputError("line 1: the orders CSV is empty (expected a header)")
    header = [h.strip() for h in header]
    missing = [c for c in REQUIRED if c not in header]
    if missing:
        raise OrdersInputError(
            f"line 1: the header lacks column(s) {', '.join(missing)} (expected {', '.join(CSV_COLUMNS)})"
        )
    at = {c: header.index(c) for c in (*REQUIRED, "order_key") if c in header}
    secret = b"" if "order_key" in at else order_secret()
    for fields in reader:
        line = reader.line_num
        if len(fields) != len(header):
            what = "truncated (was the file cut short?)" if len(fields) < len(header) else "too long"
            raise OrdersInputError(f"line {line}: {len(fields)} of {len(header)} columns: {what}")
        order_id, merchant = fields[at["order_id"]], fields[at["merchant"]].strip()
        amount, status = fields[at["amount_fen"]].strip(), fields[at["status"]].strip()
        if not order_id:
            raise OrdersInputError(f"line {line}, column order_id: empty")
        if not is_address(merchant):
            raise OrdersInputError(f"line {line}, column merchant: not an address: {merchant[:60]!r}")
        if not (amount.isascii() and amount.isdigit()) or len(amount) > 15:  # int() refuses `²`
            raise OrdersInputError(
                f"line {line}, column amount_fen: must be a whole number of fen, got {amount[:30]!r}"
            )
        if status.lower() not in STATUS_WORDS:
            known = ", ".join(sorted(STATUS_WORDS))
            raise OrdersInputError(f"line {line}, column status: unknown status {status[:30]!r} (known: {known})")
        key = fields[at["order_key"]].strip() if "order_key" in at else ""
        key = key or "0x" + order_key(order_id, order_salt(secret, order_id)).hex()
        yield OrderRow(order_id, to_checksum_address(merchant), int(amount), status, key)


def _without_bom(lines: Iterable[str]) -> Iterator[str]:
    it = iter(lines)
    first = next(it, None)
    if first is not None:
        yield first.removeprefix("\ufeff")
    yield from it
