"""Reconciliation that streams from the database: memory stays flat however many orders there are.

Orders (`ORDER BY order_key`) and the indexed settlement events (`ORDER BY key, block, log index`,
folded per key into a record as they pass) are read through server-side cursors and merge-joined
on the key. Only the counts, per-merchant sums and the rows that did not match are kept; matched
rows are counted and dropped. The classes and the rules are `reconcile`'s, row for row; keys
compare byte-wise on both sides (PostgreSQL is told `COLLATE "C"`).
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Iterable, Iterator
from typing import Any

from sqlalchemy import Engine, delete, insert, select

from ledger.money.recon.inputs import BATCH, by_key, iter_orders_csv
from ledger.money.recon.reconcile import CLASSES, ChainRecord, OrderRow, judge, order_key_hex, unknown_row
from ledger.store.models import Order, ReconInputOrder


def orders_sorted(engine: Engine) -> Iterator[OrderRow]:
    q = select(Order.order_id, Order.merchant, Order.amount_fen, Order.status, Order.order_key).order_by(
        by_key(engine, Order.order_key)
    )
    with engine.connect().execution_options(stream_results=True, yield_per=BATCH) as conn:
        for oid, merchant, amount, status, key in conn.execute(q):
            yield OrderRow(oid, merchant, int(amount), status, key)


def stage_csv(engine: Engine, lines: Iterable[str]) -> str:
    """Stage an orders CSV for one run, parsed line by line and written in batches; returns its
    token. A bad line raises OrdersInputError (nothing stays staged)."""
    token = secrets.token_hex(16)
    batch: list[dict[str, Any]] = []
    try:
        for n, o in enumerate(iter_orders_csv(lines)):
            batch.append({"token": token, "line": n, "order_id": o.order_id, "merchant": o.merchant,
                          "amount_fen": o.amount_fen, "status": o.status, "order_key": o.order_key})  # fmt: skip
            if len(batch) == BATCH:
                _write(engine, batch)
        _write(engine, batch)
    except BaseException:
        drop_staged(engine, token)
        raise
    return token


def _write(engine: Engine, batch: list[dict[str, Any]]) -> None:
    if batch:
        with engine.begin() as conn:
            conn.execute(insert(ReconInputOrder), batch)
        batch.clear()


def staged_sorted(engine: Engine, token: str) -> Iterator[OrderRow]:
    t = ReconInputOrder
    q = (
        select(t.order_id, t.merchant, t.amount_fen, t.status, t.order_key)
        .where(t.token == token)
        .order_by(by_key(engine, t.order_key), t.line)
    )
    with engine.connect().execution_options(stream_results=True, yield_per=BATCH) as conn:
        for oid, merchant, amount, status, key in conn.execute(q):
            yield OrderRow(oid, merchant, int(amount), status, key)


def drop_staged(engine: Engine, token: str) -> None:
    with engine.begin() as conn:
        conn.execute(delete(ReconInputOrder).where(ReconInputOrder.token == token))


class Tally:
    """Counts and sums per class and per merchant; keeps the rows that did not match."""

    def __init__(self) -> None:
        self.totals = {c: {"count": 0, "amount_fen": 0} for c in CLASSES}
        self.merchants: dict[str, dict[str, int]] = {}
        self.kept: list[dict[str, Any]] = []
        self.digest = hashlib.sha256()
        self.orders = self.escrows = 0

    def chain(self, c: ChainRecord) -> None:
        self.digest.update(
            f"c|{c.order_key}|{c.merchant}|{c.amount_fen}|{c.status}|{int(c.final)}|{c.block}\n".encode()
        )

    def add(self, row: dict[str, Any], amount: int) -> None:
        t = self.totals[row["class"]]
        t["count"] += 1
        t["amount_fen"] += amount
        m = self.merchants.setdefault(row["merchant"], dict.fromkeys(CLASSES, 0))
        m[row["class"]] += amount
        if row["class"] != "matched":
            self.kept.append(row)


def stream(orders: Iterable[OrderRow], chain: Iterable[ChainRecord]) -> Tally:
    """Merge-join orders and chain records, both sorted by order key."""
    tally = Tally()
    it = iter(chain)
    c = next(it, None)
    prev_id: str | None = None
    for o in orders:
        tally.orders += 1
        key = o.order_key or order_key_hex(o.order_id)
        tally.digest.update(f"o|{o.order_id}|{o.merchant}|{o.amount_fen}|{o.status}|{key}\n".encode())
        while c is not None and c.order_key < key:
            tally.escrows += 1
            tally.chain(c)
            tally.add(unknown_row(c), c.amount_fen)
            c = next(it, None)
        if o.order_id == prev_id:  # a repeat: the same id, so the same key, comes right after
            tally.add(judge(o, key, None, duplicate=True), o.amount_fen)
            continue
        prev_id = o.order_id
        match = c if c is not None and c.order_key == key else None
        if match is not None:
            tally.escrows += 1
            tally.chain(match)
            c = next(it, None)
        tally.add(judge(o, key, match), o.amount_fen)
    while c is not None:
        tally.escrows += 1
        tally.chain(c)
        tally.add(unknown_row(c), c.amount_fen)
        c = next(it, None)
    return tally
