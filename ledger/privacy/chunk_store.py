"""Chunk roots of the tree of delivered purchases kept in the database (`purchase_chunk_roots`),
so that a restarted API or worker reads them instead of hashing the whole tree again (at a million
leaves that took minutes on Node).

A stored root is trusted only for the content it was computed from: each row carries the SHA-256
of its chunk's leaves, and a row whose digest differs from what the chunk holds now (the chunk
filled further, a refund zeroed a leaf) is ignored and written again. Rows are checked lazily and
cheaply: each time rows are taken from the table, a random sample of them (`SAMPLE`) is hashed
again in the same Node call that hashes the changed chunks; one mismatch and the whole table is
distrusted, emptied and computed again. The anchored root on chain remains the end-to-end check
(`ledger zk verify` recomputes every root from the logs, never from this table)."""

from __future__ import annotations

import logging
import random
from collections.abc import Callable

from sqlalchemy import delete, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session as DbSession

from ledger.store.purchase_tables import PurchaseChunkRoot

log = logging.getLogger(__name__)

#: stored roots hashed again each time rows are taken from the table
SAMPLE = 2


def stored(db: DbSession, wanted: dict[int, str]) -> dict[int, int]:
    """{chunk: root} for the chunks in `wanted` ({chunk: digest now}) whose stored digest matches."""
    if not wanted:
        return {}
    out: dict[int, int] = {}
    ids = sorted(wanted)
    cols = PurchaseChunkRoot.chunk, PurchaseChunkRoot.digest, PurchaseChunkRoot.root
    with db.no_autoflush:  # the caller's pending changes stay its own (an anchor holds no write lock for this)
        for at in range(0, len(ids), 500):  # bounded IN lists
            for i, d, r in db.execute(select(*cols).where(PurchaseChunkRoot.chunk.in_(ids[at : at + 500]))):
                if d == wanted[i]:
                    out[i] = int(r)
    return out


def sample(found: dict[int, int], rng: random.Random | None = None) -> list[int]:
    """The stored chunks to hash again this time."""
    return (rng or random.SystemRandom()).sample(sorted(found), min(SAMPLE, len(found)))


def distrust(db: DbSession, bad: list[int]) -> None:
    """A stored root did not match its chunk: forget them all (they are computed again)."""
    log.warning("purchases tree: stored chunk roots %s did not match their leaves; recomputing all", bad)
    _own(db, lambda own: own.execute(delete(PurchaseChunkRoot)))


def save(db: DbSession, roots: dict[int, tuple[str, int]]) -> None:
    """Write {chunk: (digest, root)}, replacing what was stored (another process may race: last
    wins), in a short transaction of its own: committed now, whatever becomes of the caller's."""
    if not roots:
        return
    ins = postgresql.insert if db.get_bind().dialect.name == "postgresql" else sqlite.insert
    rows = [{"chunk": i, "digest": d, "root": str(r)} for i, (d, r) in sorted(roots.items())]

    def write(own: DbSession) -> None:
        for at in range(0, len(rows), 500):
            stmt = ins(PurchaseChunkRoot).values(rows[at : at + 500])
            stmt = stmt.on_conflict_do_update(
                index_elements=["chunk"], set_={"digest": stmt.excluded.digest, "root": stmt.excluded.root}
            )
            own.execute(stmt)

    _own(db, write)


def _own(db: DbSession, work: Callable[[DbSession], object]) -> None:
    """`work` in a short transaction of its own. The table only saves hashing: if the database
    refuses the write (busy, read-only), the caller goes on, and a later call writes the roots."""
    try:
        with DbSession(db.get_bind()) as own:
            work(own)
            own.commit()
    except SQLAlchemyError as exc:
        log.warning("purchases tree: chunk roots not stored (%s)", str(exc).splitlines()[0][:200])
