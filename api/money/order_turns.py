"""A single-order step's turn in a request (`ledger.money.orders.turns`): a refund, a dispute or a
ruling holds its order's turn from its read to its commit."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from fastapi import Request
from sqlalchemy.orm import Session as DbSession

from ledger.money.orders import turns

from ..core.services import services


@contextlib.contextmanager
def order_turn(request: Request, db: DbSession, order_id: str) -> Iterator[None]:
    """Hold `order_id`'s turn for the block, the session's earlier reads forgotten."""
    with turns.held(services(request).locks, db, [order_id]):
        yield
