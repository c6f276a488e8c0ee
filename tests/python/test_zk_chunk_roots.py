"""Chunk roots of the tree of delivered purchases kept in the database (`ledger.privacy.chunk_store`):
a restarted server hashes only a sample and what changed, a stored root for other content is not
used, and tampered rows are caught by the sample and computed again. Real Poseidon on Node."""

from __future__ import annotations

import random
from datetime import UTC, datetime

import pytest
from sqlalchemy import create_engine, insert, select, update
from sqlalchemy.orm import Session

from ledger.privacy import chunk_store, chunks, node
from ledger.privacy.fields import FIELD
from ledger.store import models  # noqa: F401 - the orders table the commitments refer to
from ledger.store.purchase_tables import PurchaseChunkRoot, PurchaseCommitment, PurchaseForeignLeaf

N = 5 * chunks.CHUNK - 100  # five chunks, the last one filling


@pytest.fixture
def db(tmp_path, monkeypatch):
    engine = create_engine(f"sqlite:///{tmp_path}/followups3-tree.sqlite3")
    PurchaseCommitment.__table__.create(engine)
    PurchaseChunkRoot.__table__.create(engine)
    PurchaseForeignLeaf.__table__.create(engine)
    with Session(engine) as s:
        yield s
    engine.dispose()


def fill(db, start: int, count: int, rng: random.Random) -> None:
    now = datetime.now(UTC)
    rows = [
        {"order_id": f"F{i}", "batch": "1", "commitment": str(rng.randrange(1, FIELD)), "state": "anchored",
         "leaf_index": i, "created_at": now}
        for i in range(start, start + count)
    ]  # fmt: skip
    db.execute(insert(PurchaseCommitment), rows)
    db.commit()


def restarted() -> None:
    """What a new process has in memory: nothing."""
    chunks._roots.clear()
    chunks._summary.clear()


@pytest.fixture
def hashed(monkeypatch):
    """Counts the chunks sent to Node for hashing (the real Node call still runs)."""
    seen: list[int] = []
    real = node.call

    def counting(command, request, **kw):
        if command == "chunkroots":
            seen.append(len(request["chunks"]))
        return real(command, request, **kw)

    monkeypatch.setattr(node, "call", counting)
    return seen


def stored(db) -> dict[int, str]:
    return dict(db.execute(select(PurchaseChunkRoot.chunk, PurchaseChunkRoot.root)).all())


def test_a_restart_reads_the_stored_chunk_roots(db, hashed):
    rng = random.Random(3)
    fill(db, 0, N, rng)
    restarted()
    first = chunks.summary(db)
    assert sum(hashed) == 5 and len(stored(db)) == 5
    hashed.clear()
    restarted()
    assert chunks.summary(db) == first
    assert sum(hashed) == chunk_store.SAMPLE  # only the sample checked, not the whole tree
    # the last chunk fills further: its stored root is for other leaves, so it alone is hashed again
    fill(db, N, 50, rng)
    hashed.clear()
    restarted()
    after = chunks.summary(db)
    assert after["root"] != first["root"] and after["chunk_roots"][:4] == first["chunk_roots"][:4]
    assert sum(hashed) == 1 + chunk_store.SAMPLE
    # a refund zeroes a leaf of chunk 1: a stored root of the old content is not used
    db.execute(update(PurchaseCommitment).where(PurchaseCommitment.leaf_index == 1500).values(state="zeroed"))
    db.commit()
    restarted()
    zeroed = chunks.summary(db)
    assert int(zeroed["root"]) == node.root(chunks.leaves(db))
    assert (
        zeroed["chunk_roots"][0] == after["chunk_roots"][0] != ""
        and zeroed["chunk_roots"][1] != after["chunk_roots"][1]
    )


def test_tampered_chunk_roots_are_caught_and_computed_again(db, hashed):
    rng = random.Random(4)
    fill(db, 0, N, rng)
    restarted()
    good = chunks.summary(db)
    db.execute(update(PurchaseChunkRoot).values(root="12345"))  # every stored root wrong, digests kept
    db.commit()
    hashed.clear()
    restarted()
    again = chunks.summary(db)
    assert again == good  # the sample saw a wrong root: the table was emptied and every chunk hashed
    assert sum(hashed) == 5  # the sample, then the rest: each chunk once
    assert stored(db) == {i: r for i, r in enumerate(good["chunk_roots"])}
