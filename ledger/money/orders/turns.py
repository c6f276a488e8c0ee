"""One step at a time on an order. A refund, a dispute or a ruling reads the order, sends its
transaction, waits for it to be final and writes what it did; a batch of deliveries or a settlement
writes what its transaction did to many orders. Two writers that both read a row before either
wrote it lose one's update: 20 concurrent refunds of 10 % each were all refunded on chain while
the order said one refund and "escrowed" (an outside probe). So a single-order step holds its
order's turn from its read to its commit, and a batch takes the turns of its orders (in ascending
order: no two batches wait on each other) for its write, reading the rows afresh.

Turns are locks shared by the deployment's processes and hosts (`ledger.store.locks`: PostgreSQL
advisory locks, or flock on SQLite); orders share 64 of them by a hash of the order id, so no lock
is ever made per order. Without `locks` (a one-off CLI command) nothing is held."""

from __future__ import annotations

import contextlib
import hashlib
from collections.abc import Iterable, Iterator

from sqlalchemy.orm import Session as DbSession

from ledger.store.locks import Locks

TURNS = 64


def turn_of(order_id: str) -> int:
    return int.from_bytes(hashlib.sha256(order_id.encode()).digest()[:4], "big") % TURNS


@contextlib.contextmanager
def held(locks: Locks | None, db: DbSession, order_ids: Iterable[str]) -> Iterator[None]:
    """Hold the turns of `order_ids` for the block, the session's earlier reads forgotten."""
    with contextlib.ExitStack() as stack:
        if locks is not None:
            stack.enter_context(
                locks.exclusive_all([f"order-steps/{t}" for t in sorted({turn_of(o) for o in order_ids})])
            )
        db.commit()  # a new transaction: what the last step on these orders committed (SQLite reads a snapshot)
        db.expire_all()  # and no row kept from before the turn (the sessions keep them past a commit)
        yield
