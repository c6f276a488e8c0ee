"""Migrations are atomic on SQLite too (the driver alone would commit each CREATE at once), and
processes starting together take turns."""

from __future__ import annotations

import multiprocessing

import pytest
from alembic import op
from sqlalchemy import inspect, text

from ledger.store.db import make_engine, migrate


def test_a_failed_migration_leaves_no_half_schema(tmp_path, monkeypatch):
    engine = make_engine(f"sqlite:///{tmp_path / 'm.sqlite3'}")
    migrate(engine, "0005")
    calls = []

    def broken_index(*args, **kwargs):  # 0006 creates its tables, then fails at its first index
        calls.append(args)
        raise RuntimeError("disk full")

    monkeypatch.setattr(op, "create_index", broken_index)
    with pytest.raises(RuntimeError, match="disk full"):
        migrate(engine)
    assert calls, "the migration did not get as far as the failing step"
    assert not {"epcis_events", "epcis_anchors", "epcis_epcs"} & set(inspect(engine).get_table_names())
    with engine.connect() as conn:
        assert conn.execute(text("SELECT version_num FROM alembic_version")).scalar() == "0005"
    monkeypatch.undo()
    migrate(engine)
    assert "epcis_events" in inspect(engine).get_table_names()


def _migrate(url: str) -> None:
    migrate(make_engine(url))


def test_processes_starting_together_migrate_once(tmp_path):
    url = f"sqlite:///{tmp_path / 'race.sqlite3'}"
    ctx = multiprocessing.get_context("spawn")
    procs = [ctx.Process(target=_migrate, args=(url,)) for _ in range(4)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(120)
    assert [p.exitcode for p in procs] == [0, 0, 0, 0]
    assert "epcis_events" in inspect(make_engine(url)).get_table_names()


@pytest.mark.parametrize("db", ["sqlite", "postgresql"])
def test_anchors_made_before_batch_chain_entries_stay_merkle_roots(db, tmp_path, request):
    url = f"sqlite:///{tmp_path / 'a.sqlite3'}" if db == "sqlite" else request.getfixturevalue("pg_url")
    engine = make_engine(url)
    migrate(engine, "0008")
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO epcis_anchors (root, leaf_count, tx_hash, block_number, submitter, anchored_at) "
                "VALUES ('0x01', 3, '0x02', 7, '0x03', '2026-11-25 10:00:00+00:00')"
            )
        )
    migrate(engine)
    with engine.connect() as conn:
        row = conn.execute(text("SELECT kind, leaf_count, batch_id, chain_index FROM epcis_anchors")).one()
    assert tuple(row) == ("merkle", 3, None, None)
    engine.dispose()


@pytest.mark.parametrize("db", ["sqlite", "postgresql"])
def test_master_data_stored_before_it_was_kept_per_declarer_stays_its_last_recorders(db, tmp_path, request):
    url = f"sqlite:///{tmp_path / 'v.sqlite3'}" if db == "sqlite" else request.getfixturevalue("pg_url")
    engine = make_engine(url)
    migrate(engine, "0016")
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO epcis_vocabulary (uri, vocab_type, attributes, children, recorder, updated_at) "
                "VALUES ('urn:x:site', 'urn:x:vtype', '{\"sst\": \"201\"}', '[]', '0xabc', '2026-11-25 10:00:00+00:00')"
            )
        )
    migrate(engine)
    with engine.connect() as conn:
        row = conn.execute(text("SELECT declarer, uri, attributes FROM epcis_master_data")).one()
    assert tuple(row) == ("0xabc", "urn:x:site", '{"sst": "201"}')
    assert "epcis_vocabulary" not in inspect(engine).get_table_names()
    engine.dispose()


@pytest.mark.parametrize("db", ["sqlite", "postgresql"])
def test_named_queries_and_their_subscriptions_survive_naming_per_member(db, tmp_path, request):
    url = f"sqlite:///{tmp_path / 'q.sqlite3'}" if db == "sqlite" else request.getfixturevalue("pg_url")
    engine = make_engine(url)
    migrate(engine, "0016")
    when = "'2026-12-01 10:00:00+00:00'"
    with engine.begin() as conn:
        conn.execute(text(f"INSERT INTO epcis_named_queries VALUES ('shipped', '0xA', '{{}}', {when})"))  # noqa: S608
        conn.execute(
            text(
                "INSERT INTO epcis_subscriptions (id, query_name, owner, dest, secret, stream, report_if_empty, "
                "initial_record_time, created_at, cursor, failures, delivered) VALUES ('s1', 'shipped', '0xB', "
                f"'http://h/x', 'secret-1', TRUE, FALSE, {when}, {when}, 7, 0, 3)"  # noqa: S608
            )
        )
    migrate(engine)
    with engine.begin() as conn:
        row = conn.execute(text("SELECT query_owner, query_name, owner, cursor FROM epcis_subscriptions")).one()
        assert tuple(row) == ("0xA", "shipped", "0xB", 7)
        # another member may now have a query of the same name
        conn.execute(text(f"INSERT INTO epcis_named_queries VALUES ('0xC', 'shipped', '{{}}', {when})"))  # noqa: S608
    engine.dispose()


def test_purchase_commitments_made_before_holder_leaves_are_voided(tmp_path):
    """Leaves were Poseidon(secret, batch) until 0038; the new circuit cannot prove them: voided, and
    their leaf indexes let go (a new PurchaseProofs' tree gives them again)."""
    engine = make_engine(f"sqlite:///{tmp_path / 'z.sqlite3'}")
    migrate(engine, "0037")
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO orders (order_id, order_key, merchant, payer, amount_fen, refunded_fen, referrers, "
                "platform_fee_bps, status, escrow_tx, history, created_at, updated_at) VALUES ('o1', '0x01', "
                "'0xm', '0xp', 100, 0, '[]', 0, 'delivered', '0x02', '[]', '2026-12-01', '2026-12-01')"
            )
        )
        conn.execute(
            text(
                "INSERT INTO purchase_commitments (order_id, batch, commitment, state, leaf_index, anchor_tx, "
                "created_at) VALUES ('o1', '5', '7', 'anchored', 0, '0x03', '2026-12-01')"
            )
        )
    migrate(engine)
    with engine.connect() as conn:
        row = conn.execute(text("SELECT state, leaf_index, anchor_tx FROM purchase_commitments")).one()
    assert tuple(row) == ("void", None, None)
    engine.dispose()
