"""`ledger backup` of a running system and `ledger restore` into a fresh directory: the restored
chain is the same chain, the restored database reconciles against it with every order matched, and
the restored keys sign and open as before. A corrupt archive restores nothing."""

from __future__ import annotations

import io
import subprocess
import tarfile

import pytest

from ledger.chain.client import Sender, connect
from ledger.chain.deploy import attach, deploy
from ledger.chain.indexer import Indexer
from ledger.cli.backup import backup, restore
from ledger.devnet import node
from ledger.errors import LedgerError
from ledger.money.recon.inputs import chain_records, orders_from_db
from ledger.money.recon.reconcile import reconcile
from ledger.store.db import make_engine, migrate
from ledger.trace.codes import CodeSigner

from .conftest import free_port
from .helpers import login, make_client, new_gtin


def test_backup_and_restore_into_a_fresh_directory(anvil_factory, tmp_path, accounts, monkeypatch):
    a_dir, b_dir = tmp_path / "a", tmp_path / "b"
    a_dir.mkdir()
    monkeypatch.setenv("LEDGER_DATA_DIR", str(a_dir))
    monkeypatch.setenv("LEDGER_MANIFEST", str(a_dir / "deployment.json"))
    chain = anvil_factory()
    dep, _ = deploy(connect(chain.url), a_dir / "deployment.json")
    members = {label: accounts[m["account_index"]] for label, m in dep.manifest["members"].items()}
    Sender(dep.w3, members["issuer"], dep.decoder()).transact(
        dep.contract("SettlementToken").functions.mint(members["platform"].address, 10**9)
    )
    db_url = f"sqlite:///{a_dir / 'ledger.sqlite3'}"
    c = make_client(
        (dep, a_dir / "deployment.json"), chain, a_dir, database_url=db_url, code_key_dir=a_dir / "keys" / "codes"
    )
    platform, merchant = login(c, members["platform"]), login(c, members["merchant_a"])
    orders = [
        {"order_id": f"BK-{i}", "merchant": members["merchant_a"].address, "amount_fen": 1_000 + i} for i in range(5)
    ]
    assert (
        c.post("/v1/orders/batch", json={"orders": orders}, headers={**platform, "Idempotency-Key": "bk"}).status_code
        == 201
    )
    assert c.post("/v1/orders/BK-0/confirm", headers=platform).status_code == 200
    gtin = new_gtin()
    assert c.post("/v1/products", json={"gtin": gtin, "name": "tea"}, headers=merchant).status_code == 201
    assert c.post("/v1/batches", json={"gtin": gtin, "lot": "BK"}, headers=merchant).status_code == 201
    kid = c.post(f"/v1/batches/{gtin}/BK/codes", json={"count": 3}, headers=merchant).json()["kid"]
    Indexer(dep, c.app.state.services.engine, confirmations=0).run()

    archive = tmp_path / "backup.tar.gz"
    index = backup(archive, url=db_url, rpc=chain.url)
    assert {"database.sqlite3", "anvil/state.json", "deployment.json", "keys/codes/current.pem"} <= set(index["parts"])
    assert any(p.startswith("secrets/") for p in index["parts"])

    # a corrupt archive restores nothing
    bad = tmp_path / "bad.tar.gz"
    with tarfile.open(archive) as src, tarfile.open(bad, "w:gz") as dst:
        for m in src.getmembers():
            data = src.extractfile(m).read()
            if m.name == "deployment.json":
                data = data.replace(b"0x", b"0X", 1)
            m.size = len(data)
            dst.addfile(m, io.BytesIO(data))
    with pytest.raises(LedgerError, match="deployment.json is missing or corrupt"):
        restore(bad, tmp_path / "nowhere")
    assert not (tmp_path / "nowhere").exists()

    restore(archive, b_dir)
    with pytest.raises(LedgerError, match="not empty"):
        restore(archive, b_dir)
    port = free_port()
    proc = subprocess.Popen(
        node.anvil_command(port, b_dir / "anvil" / "state.json"), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        url = f"http://127.0.0.1:{port}"
        node.wait_until_up(url)
        w3 = connect(url)
        head = w3.eth.get_block(index["chain"]["block"])
        assert "0x" + bytes(head["hash"]).hex() == index["chain"]["hash"]  # the same chain
        monkeypatch.setenv("LEDGER_DATA_DIR", str(b_dir))
        monkeypatch.setenv("LEDGER_MANIFEST", str(b_dir / "deployment.json"))
        restored = attach(w3, b_dir / "deployment.json")
        engine = make_engine(f"sqlite:///{b_dir / 'ledger.sqlite3'}")
        migrate(engine)
        Indexer(restored, engine, confirmations=0).run()  # checks every stored block hash against the chain
        report = reconcile(orders_from_db(engine), chain_records(engine))
        assert report.totals["matched"]["count"] == 5 and report.inputs["order_rows"] == 5, report.rows
        assert CodeSigner(b_dir / "keys" / "codes").kid == kid  # the key opens with the restored passphrase
        assert (b_dir / "secrets" / "order-key").read_bytes() == (a_dir / "secrets" / "order-key").read_bytes()
    finally:
        proc.terminate()
        proc.wait(timeout=30)


@pytest.fixture
def two_databases(pg_server_url):
    """Two empty PostgreSQL databases on the session's server: the system's and the restore's."""
    import uuid

    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    admin = create_engine(pg_server_url, isolation_level="AUTOCOMMIT")
    names = [f"tl_bk_{uuid.uuid4().hex[:10]}" for _ in range(2)]
    with admin.connect() as conn:
        for n in names:
            conn.execute(text(f"CREATE DATABASE {n}"))
    yield [make_url(pg_server_url).set(database=n).render_as_string(hide_password=False) for n in names]
    with admin.connect() as conn:
        for n in names:
            conn.execute(text(f"DROP DATABASE IF EXISTS {n} WITH (FORCE)"))
    admin.dispose()


def test_backup_and_restore_on_postgresql(anvil_factory, tmp_path, accounts, monkeypatch, two_databases):
    source, target = two_databases
    monkeypatch.setenv("LEDGER_DATA_DIR", str(tmp_path / "a"))
    monkeypatch.setenv("LEDGER_MANIFEST", str(tmp_path / "a" / "deployment.json"))
    (tmp_path / "a").mkdir()
    chain = anvil_factory()
    dep, _ = deploy(connect(chain.url), tmp_path / "a" / "deployment.json")
    members = {label: accounts[m["account_index"]] for label, m in dep.manifest["members"].items()}
    Sender(dep.w3, members["issuer"], dep.decoder()).transact(
        dep.contract("SettlementToken").functions.mint(members["platform"].address, 10**9)
    )
    c = make_client((dep, tmp_path / "a" / "deployment.json"), chain, tmp_path, database_url=source)
    platform = login(c, members["platform"])
    orders = [
        {"order_id": f"PG-{i}", "merchant": members["merchant_a"].address, "amount_fen": 500 + i} for i in range(3)
    ]
    r = c.post("/v1/orders/batch", json={"orders": orders}, headers={**platform, "Idempotency-Key": "pg"})
    assert r.status_code == 201, r.text
    Indexer(dep, c.app.state.services.engine, confirmations=0).run()
    c.app.state.services.engine.dispose()
    archive = tmp_path / "pg.tar.gz"
    index = backup(archive, url=source, rpc=chain.url)
    assert index["database"] == "postgresql" and "database.pgdump" in index["parts"]
    with pytest.raises(LedgerError, match="--database-url"):
        restore(archive, tmp_path / "b0")
    assert not (tmp_path / "b0").exists()
    restore(archive, tmp_path / "b", target)
    engine = make_engine(target)
    report = reconcile(orders_from_db(engine), chain_records(engine))
    assert report.totals["matched"]["count"] == 3, report.rows
    engine.dispose()
