"""The platform's settlement slots: freed slots are reused first (once the block that freed them
is final), new ones start at the chain's high-water mark, and two writers never hold one slot
(SQLite and PostgreSQL)."""

from __future__ import annotations

import threading

import pytest

from ledger.money.orders.books import free_slots, mark_foreign, take_slots
from ledger.store.db import make_engine, migrate, session_factory


@pytest.fixture(params=["sqlite", "postgresql"])
def db(request, tmp_path):
    url = f"sqlite:///{tmp_path / 'slots.db'}" if request.param == "sqlite" else request.getfixturevalue("pg_url")
    engine = make_engine(url)
    migrate(engine)
    if request.param == "postgresql":
        with engine.begin() as c:
            c.exec_driver_sql("DELETE FROM settlement_slots")
    yield session_factory(engine)
    engine.dispose()


def test_freed_slots_are_reused_and_new_ones_respect_the_floor(db):
    with db() as s:
        assert take_slots(s, ["a", "b", "c"], floor=5) == [5, 6, 7]
        free_slots(s, ["a", "c"], None)
        s.commit()
        assert take_slots(s, ["d", "e", "f"]) == [5, 7, 8]
        mark_foreign(s, 9)
        assert take_slots(s, ["g"]) == [10]


def test_a_freed_slot_waits_until_the_block_that_freed_it_is_final(db):
    """Settled in block 40 and reused at once, a reorg could put the new escrow into the chain before
    that settlement (sent by another key, or skipping the order there): the escrow would revert."""
    with db() as s:
        assert take_slots(s, ["a", "b"], final=30) == [1, 2]
        free_slots(s, ["a"], 40)  # settled in block 40
        free_slots(s, ["b"], 38)
        s.commit()
        assert take_slots(s, ["c"], final=37) == [3]  # neither is final: a new slot
        assert take_slots(s, ["d", "e"], final=39) == [2, 4]  # block 38 is final, 40 not yet
        assert take_slots(s, ["f"], final=40) == [1]


def test_concurrent_writers_never_share_a_slot(db):
    got: list[list[int]] = []

    def writer(w: int) -> None:
        with db() as s:
            for k in range(10):
                got.append(take_slots(s, [f"w{w}-{k}-{j}" for j in range(5)]))

    threads = [threading.Thread(target=writer, args=(w,)) for w in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    flat = [x for batch in got for x in batch]
    assert len(flat) == 200 and len(set(flat)) == 200


def test_the_order_key_secret_is_sealed_at_rest(tmp_path, monkeypatch):
    from ledger.errors import LedgerError
    from ledger.money.orders import books as order_books

    monkeypatch.setenv("LEDGER_DATA_DIR", str(tmp_path))
    monkeypatch.delenv("LEDGER_ORDER_KEY_SECRET", raising=False)
    monkeypatch.delenv("LEDGER_KEY_PASSPHRASE", raising=False)
    secret = order_books.order_secret()
    stored = (tmp_path / "secrets" / "order-key").read_bytes()
    assert stored.startswith(b"TLSEAL1") and secret.hex().encode() not in stored
    assert oct((tmp_path / "secrets" / "order-key").stat().st_mode & 0o777) == "0o600"
    order_books._SECRET.clear()
    assert order_books.order_secret() == secret  # opens again with the same passphrase
    order_books._SECRET.clear()
    monkeypatch.setenv("LEDGER_KEY_PASSPHRASE", "not the one")
    with pytest.raises(LedgerError, match="does not open"):
        order_books.order_secret()
    # a secret written in the clear by an older version is still read
    legacy = tmp_path / "legacy"
    monkeypatch.setenv("LEDGER_DATA_DIR", str(legacy))
    (legacy / "secrets").mkdir(parents=True)
    (legacy / "secrets" / "order-key").write_text("ab" * 32)
    assert order_books.order_secret() == bytes.fromhex("ab" * 32)


def test_one_order_key_taken_by_two_requests_at_once_is_a_conflict_not_a_loop(db, monkeypatch):
    """Two escrows of one order id (a client retrying with a fresh Idempotency-Key): the second's
    insert of the key failed on the key, not the number, and it retried for ever holding the
    database's write lock (every write of every process then waited 30 s and failed)."""
    from ledger.errors import Conflict
    from ledger.money.orders import books

    with db() as s:
        assert take_slots(s, ["k1"]) == [1]  # the first request's reservation, committed
    real, calls = books._slots_held, []

    def read_before_the_other_committed(session, holders):
        calls.append(holders)
        return {} if len(calls) == 1 else real(session, holders)

    monkeypatch.setattr(books, "_slots_held", read_before_the_other_committed)
    with db() as s, pytest.raises(Conflict, match="being escrowed by another request"):
        take_slots(s, ["k1", "k2"])
    monkeypatch.setattr(books, "_slots_held", real)
    with db() as s:  # nothing of the refused request was kept; a retry of the first lands in its slot
        assert take_slots(s, ["k2"]) == [2] and take_slots(s, ["k1"]) == [1]


def test_racing_requests_for_one_key_end_in_one_slot_or_a_conflict(db):
    from ledger.errors import Conflict

    outcomes: list[object] = []

    def request(key: str) -> None:
        with db() as s:
            try:
                outcomes.append(take_slots(s, [key])[0])
            except Conflict:
                outcomes.append("conflict")

    for round_ in range(5):
        threads = [threading.Thread(target=request, args=(f"same-{round_}",)) for _ in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=30)
        assert not any(t.is_alive() for t in threads), "a writer looped"
    slots = [o for o in outcomes if o != "conflict"]
    assert len(outcomes) == 20 and len(set(slots)) <= 5 and len(slots) >= 5
