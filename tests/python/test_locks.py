"""The one lock helper (`ledger.store.locks`): two processes' worth of `Locks` (as on two hosts:
nothing on disk in common) on one PostgreSQL, and on one SQLite host; leases move when their
holder's session ends, and a holder whose session is gone stops leading."""

from __future__ import annotations

import threading
import time

import pytest
from sqlalchemy import create_engine, text

from ledger.store import locks as locks_module
from ledger.store.locks import Locks


@pytest.fixture(params=["postgresql", "sqlite"])
def two_hosts(request, tmp_path, monkeypatch):
    monkeypatch.setattr(locks_module, "CHECK_EVERY_S", 0.0)
    monkeypatch.setattr(locks_module, "RETRY_EVERY_S", 0.0)
    if request.param == "postgresql":
        url = request.getfixturevalue("pg_url")
        made = [Locks(create_engine(url), tmp_path / h) for h in ("a", "b")]  # lock dirs apart: not shared
    else:
        engine = create_engine(f"sqlite:///{tmp_path / 'db.sqlite3'}")
        made = [Locks(engine, tmp_path / "data") for _ in "ab"]  # one host: one data directory
    yield made
    for lk in made:
        lk.close()


def test_an_exclusive_lock_is_held_by_one_host_at_a_time(two_hosts):
    a, b = two_hosts
    inside, overlaps = [0], []

    def work(locks: Locks) -> None:
        for _ in range(10):
            with locks.exclusive("nonces/0xabc"):
                inside[0] += 1
                overlaps.append(inside[0])
                time.sleep(0.005)
                inside[0] -= 1

    threads = [threading.Thread(target=work, args=(lk,)) for lk in (a, b, a, b)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert len(overlaps) == 40 and max(overlaps) == 1


def test_many_locks_at_once_exclude_each_of_them_and_fit_in_the_pool(two_hosts):
    """A batch of deliveries takes the turns of up to 64 orders at once (`ledger.money.orders.turns`):
    on PostgreSQL one connection holds them all (one connection each outran the locks' pool)."""
    a, b = two_hosts
    names = [f"order-steps/{t}" for t in range(64)]
    got: list[int] = []

    def take() -> None:
        with b.exclusive("order-steps/37"):
            got.append(1)

    other = threading.Thread(target=take)
    with a.exclusive_all(names):
        other.start()
        other.join(0.5)
        assert got == []  # one of them, wanted by another host: it waits
    other.join(30)
    assert got == [1]


def test_a_lease_has_one_holder_and_moves_when_released(two_hosts):
    a, b = two_hosts
    la, lb = a.lease("anchorer"), b.lease("anchorer")
    assert la.leads() and not lb.leads() and la.leads()
    other_loop = a.lease("webhooks")
    assert other_loop.leads()  # another loop, another lease
    other_loop.release()
    la.release()
    assert lb.leads() and not la.leads()
    lb.release()


def test_a_holder_whose_session_ended_stops_leading_and_another_takes_over(pg_url, tmp_path, monkeypatch):
    """PostgreSQL ended the leader's session (restarted, or the host was cut off and its keepalives
    lapsed): the lock is gone with it, the old leader says so at its next check, the other leads."""
    monkeypatch.setattr(locks_module, "CHECK_EVERY_S", 0.0)
    monkeypatch.setattr(locks_module, "RETRY_EVERY_S", 0.0)
    a, b = Locks(create_engine(pg_url), tmp_path / "a"), Locks(create_engine(pg_url), tmp_path / "b")
    la, lb = a.lease("anchorer"), b.lease("anchorer")
    assert la.leads() and not lb.leads()
    admin = create_engine(pg_url)
    with admin.begin() as conn:
        ended = conn.execute(
            text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = :n"),
            {"n": la._who()},
        ).all()
    assert ended == [(True,)]
    deadline = time.monotonic() + 30
    while not lb.leads():  # the lock went with the session (as soon as the backend has exited)
        assert time.monotonic() < deadline
        time.sleep(0.05)
    assert not la.leads()  # and the old holder knows it no longer leads
    lb.release()
    admin.dispose()
    a.close()
    b.close()
