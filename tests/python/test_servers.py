"""The servers the project starts itself: PostgreSQL keeps its data across a restart in a folder of
ours; Redis answers. Neither depends on a service the machine happened to run."""

from __future__ import annotations

import shutil

from sqlalchemy import create_engine, text

from ledger.devnet.servers import LocalPostgres

from .conftest import _servers_dir


def test_postgresql_of_our_own_keeps_its_data_across_a_restart():
    server = LocalPostgres(_servers_dir("postgres-restart"))
    try:
        engine = create_engine(server.start())
        with engine.begin() as conn:
            conn.execute(text("CREATE TABLE kept (n int)"))
            conn.execute(text("INSERT INTO kept VALUES (42)"))
        engine.dispose()
        server.stop()
        engine = create_engine(server.start())
        with engine.connect() as conn:
            assert conn.execute(text("SELECT n FROM kept")).scalar() == 42
        engine.dispose()
    finally:
        server.stop()
        shutil.rmtree(server.root, ignore_errors=True)
    assert not (server.data / "postmaster.pid").exists()


def test_redis_of_our_own_answers(redis_server):
    assert redis_server.ping()
