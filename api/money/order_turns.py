"""One step at a time on an order: a refund, a dispute or a ruling reads the order, sends its
transaction, waits for it to be final and writes what it did. Two at once on one order both read
the same row: the chain took each in turn (a second partial refund of what remained, one after the
other), and the later write hid the earlier (20 concurrent refunds of 10 % each: the chain refunded
all, the order said one refund and "escrowed"; outside probe). A step now takes its order's turn,
across the deployment's processes and hosts (`ledger.store.locks`), and reads the order afresh.

Orders share 64 turns (by a hash of the order id): no lock file or key per order ever made."""

from __future__ import annotations

import contextlib
import hashlib
from collections.abc import Iterator

from fastapi import Request
from sqlalchemy.orm import Session as DbSession

from ..core.services import services

TURNS = 64


@contextlib.contextmanager
def order_turn(request: Request, db: DbSession, order_id: str) -> Iterator[None]:
    """Hold `order_id`'s turn for the block, the session's earlier reads forgotten."""
    locks = services(request).locks
    turn = int.from_bytes(hashlib.sha256(order_id.encode()).digest()[:4], "big") % TURNS
    with locks.exclusive(f"order-steps/{turn}") if locks is not None else contextlib.nullcontext():
        db.commit()  # a new transaction: what the last step on this order committed (SQLite reads a snapshot)
        db.expire_all()  # and no row kept from before the turn (the sessions keep them past a commit)
        yield
