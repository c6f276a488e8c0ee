"""What reconciliation reads: the platform's orders (the `orders` table or a CSV export) and the
escrows the indexed `OrderSettlement` events describe, each with its latest state."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator

from eth_utils import is_address, to_checksum_address
from sqlalchemy import Engine, select

from ledger.errors import LedgerError
from ledger.store.models import ChainEvent, Order

from .order_books import order_secret
from .order_terms import order_key, order_salt, unpack_amount
from .reconcile import ChainRecord, OrderRow

CSV_COLUMNS = ("order_id", "merchant", "amount_fen", "status", "referrers", "time")


class OrdersInputError(LedgerError, ValueError):
    """The orders input is malformed; the message names the line and the field."""


_STATES = ("OrderEscrowed", "OrderDelivered", "OrderDisputed", "OrderRefunded", "OrderSettled")


def chain_records(engine: Engine, up_to: int | None = None) -> dict[str, ChainRecord]:
    """Escrows from the indexed OrderSettlement events (up to block `up_to`), each with its latest
    state: escrowed, delivered, disputed, settled, or refunded (a refund of everything that remained)."""
    records: dict[str, ChainRecord] = {}
    later: list[tuple[str, str, bool]] = []
    q = (
        select(ChainEvent.key, ChainEvent.event, ChainEvent.args, ChainEvent.final, ChainEvent.block_number)
        .where(ChainEvent.contract == "OrderSettlement", ChainEvent.event.in_(_STATES))
        .order_by(ChainEvent.block_number, ChainEvent.log_index)
    )
    if up_to is not None:
        q = q.where(ChainEvent.block_number <= up_to)
    with engine.connect() as conn:
        for key, event, args, final, block in conn.execute(q):
            if event == "OrderEscrowed":
                a = json.loads(args)
                amount = unpack_amount(int(a["terms"]))
                records[key] = ChainRecord(key, a["merchant"], amount, "escrowed", bool(final), block)
            elif event == "OrderRefunded":
                if int(json.loads(args)["remaining"]) == 0:
                    later.append((key, "refunded", bool(final), block))
            else:
                later.append((key, event.removeprefix("Order").lower(), bool(final), block))
    for key, status, final, block in later:
        r = records.get(key)
        if r is not None:
            r.status, r.block = status, block
            r.final = r.final and final
    return records


def orders_from_db(engine: Engine) -> Iterator[OrderRow]:
    with engine.connect() as conn:
        for oid, merchant, amount, status, key in conn.execute(
            select(Order.order_id, Order.merchant, Order.amount_fen, Order.status, Order.order_key)
        ):
            yield OrderRow(oid, merchant, int(amount), status, key)


def orders_from_csv(text: str) -> list[OrderRow]:
    """Parse a CSV export; amounts must be integer fen. Errors name the line and the field. Keys are
    the `order_key` column's, or derived from the order ids with the platform's secret."""
    reader = csv.DictReader(io.StringIO(text))
    missing = [c for c in ("order_id", "merchant", "amount_fen", "status") if c not in (reader.fieldnames or [])]
    if missing:
        raise OrdersInputError(f"orders CSV lacks column(s): {', '.join(missing)} (expected {', '.join(CSV_COLUMNS)})")
    rows = []
    secret = b"" if "order_key" in (reader.fieldnames or []) else order_secret()
    for line, r in enumerate(reader, start=2):
        amount = (r["amount_fen"] or "").strip()
        if not amount.isdigit():
            raise OrdersInputError(f"line {line}: amount_fen must be a whole number of fen, got {amount!r}")
        if not r["order_id"]:
            raise OrdersInputError(f"line {line}: order_id is empty")
        merchant = (r["merchant"] or "").strip()
        if not is_address(merchant):
            raise OrdersInputError(f"line {line}: merchant is not an address: {merchant!r}")
        key = (r.get("order_key") or "").strip() or "0x" + order_key(
            r["order_id"], order_salt(secret, r["order_id"])
        ).hex()
        rows.append(OrderRow(r["order_id"], to_checksum_address(merchant), int(amount), r["status"] or "", key))
    return rows
