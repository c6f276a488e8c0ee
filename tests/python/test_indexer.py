"""The indexer against real anvil nodes: exactly once, confirmations, crashes, reorgs; SQLite and
PostgreSQL."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest
from eth_utils import keccak
from sqlalchemy import func, select

from ledger.chain.client import connect
from ledger.chain.deploy import deploy
from ledger.chain.indexer import Indexer
from ledger.store.db import make_engine, migrate
from ledger.store.models import ChainEvent, IndexerCheckpoint


@pytest.fixture
def setup(anvil_factory, tmp_path, accounts):
    node = anvil_factory()
    dep, _ = deploy(connect(node.url), tmp_path / "deployment.json")
    members = {label: accounts[m["account_index"]] for label, m in dep.manifest["members"].items()}
    prov = dep.contract("Provenance")
    merchant = dep.sender(members["merchant_a"])
    merchant.transact(prov.functions.registerProduct(6901234567892))
    merchant.transact(prov.functions.registerBatch(6901234567892, "IDX"))
    batch = prov.functions.batchId(6901234567892, "IDX").call()
    merchant.transact(prov.functions.setRecorder(6901234567892, members["producer"].address, True))
    producer = dep.sender(members["producer"])

    def activity(n: int, tag: str = "a") -> None:
        for i in range(n):
            producer.transact(prov.functions.recordEvent(batch, keccak(text=f"{tag}-{i}")))

    return node, dep, activity, tmp_path


def engine_for(tmp_path, url=None):
    engine = make_engine(url or f"sqlite:///{tmp_path / 'idx.sqlite3'}")
    migrate(engine)
    return engine


def chain_logs(dep) -> set[tuple[str, int]]:
    addresses = [c["address"] for c in dep.manifest["contracts"].values()]
    logs = dep.w3.eth.get_logs({"fromBlock": 0, "toBlock": "latest", "address": addresses})
    return {("0x" + bytes(log["transactionHash"]).hex(), int(log["logIndex"])) for log in logs}


def stored(engine) -> list[tuple[str, int]]:
    with engine.connect() as conn:
        return [tuple(r) for r in conn.execute(select(ChainEvent.tx_hash, ChainEvent.log_index))]


def mine(dep, n: int) -> None:
    for _ in range(n):
        dep.w3.provider.make_request("evm_mine", [])


def test_every_event_exactly_once(setup):
    _, dep, activity, tmp_path = setup
    activity(5)
    engine = engine_for(tmp_path)
    idx = Indexer(dep, engine, confirmations=2, batch_blocks=7)
    idx.run()
    rows = stored(engine)
    assert len(rows) == len(set(rows)) and set(rows) == chain_logs(dep)
    idx.run()
    Indexer(dep, engine, confirmations=2).run()
    assert stored(engine) == rows
    with engine.connect() as conn:
        recorded = (
            conn.execute(
                select(ChainEvent.args).where(ChainEvent.event == "EventRecorded").order_by(ChainEvent.block_number)
            )
            .scalars()
            .all()
        )
    assert [json.loads(a)["index"] for a in recorded] == [0, 1, 2, 3, 4]
    assert json.loads(recorded[0])["eventHash"] == "0x" + keccak(text="a-0").hex()


def test_events_are_pending_until_confirmed(setup):
    _, dep, activity, tmp_path = setup
    engine = engine_for(tmp_path)
    idx = Indexer(dep, engine, confirmations=3)
    idx.run()
    activity(1, "late")
    idx.run()
    with engine.connect() as conn:
        late = conn.execute(select(ChainEvent.final).where(ChainEvent.event == "EventRecorded")).scalars().all()
    assert late == [False]
    mine(dep, 3)
    idx.run()
    with engine.connect() as conn:
        assert conn.scalar(select(func.count()).where(ChainEvent.final.is_(False))) == 0


def test_crash_inside_a_range_loses_and_duplicates_nothing(setup):
    _, dep, activity, tmp_path = setup
    activity(6)
    engine = engine_for(tmp_path)

    def crash(rows):
        raise RuntimeError("power cut")

    with pytest.raises(RuntimeError, match="power cut"):
        Indexer(dep, engine, confirmations=0, batch_blocks=1000, on_batch=crash).run()
    assert stored(engine) == []
    with engine.connect() as conn:
        assert set(conn.execute(select(IndexerCheckpoint.block_number)).scalars()) == {
            dep.manifest["deployed_at_block"] - 1
        }
    Indexer(dep, engine, confirmations=0).run()
    rows = stored(engine)
    assert len(rows) == len(set(rows)) and set(rows) == chain_logs(dep)


def test_killed_process_resumes_exactly_once(setup):
    node, dep, activity, tmp_path = setup
    activity(40)
    env = {
        **os.environ,
        "LEDGER_RPC_URL": node.url,
        "LEDGER_MANIFEST": str(tmp_path / "deployment.json"),
        "LEDGER_DATABASE_URL": f"sqlite:///{tmp_path / 'idx.sqlite3'}",
    }
    cmd = [sys.executable, "-m", "ledger", "index", "--batch-blocks", "1", "--confirmations", "0"]
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    engine = engine_for(tmp_path)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and len(stored(engine)) < 10:
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    partial = len(stored(engine))
    assert 0 < partial < len(chain_logs(dep)), "the kill should land mid-way"
    out = subprocess.run(cmd, env=env, check=True, capture_output=True, text=True)
    assert "indexed" in out.stdout
    rows = stored(engine)
    assert len(rows) == len(set(rows)) and set(rows) == chain_logs(dep)


def test_reorg_of_several_blocks_rolls_back_and_rereads(setup):
    _, dep, activity, tmp_path = setup
    engine = engine_for(tmp_path)
    idx = Indexer(dep, engine, confirmations=10)
    idx.run()
    snapshot = dep.w3.provider.make_request("evm_snapshot", [])["result"]
    fork_block = dep.w3.eth.block_number
    activity(4, "orphan")
    idx.run()
    orphaned = set(stored(engine)) - chain_logs_upto(dep, fork_block)
    assert len(orphaned) == 4
    dep.w3.provider.make_request("evm_revert", [snapshot])
    mine(dep, 1)  # a different block at the same height
    activity(5, "canonical")
    result = idx.step()
    idx.run()
    assert result["rolled_back"] == 4
    rows = set(stored(engine))
    assert rows == chain_logs(dep) and not rows & orphaned
    with engine.connect() as conn:
        hashes = [
            json.loads(a)["eventHash"]
            for a in conn.execute(select(ChainEvent.args).where(ChainEvent.event == "EventRecorded")).scalars()
        ]
    assert sorted(hashes) == sorted("0x" + keccak(text=f"canonical-{i}").hex() for i in range(5))


def chain_logs_upto(dep, block: int) -> set[tuple[str, int]]:
    addresses = [c["address"] for c in dep.manifest["contracts"].values()]
    logs = dep.w3.eth.get_logs({"fromBlock": 0, "toBlock": block, "address": addresses})
    return {("0x" + bytes(log["transactionHash"]).hex(), int(log["logIndex"])) for log in logs}


def test_indexer_on_postgresql(setup, pg_url):
    _, dep, activity, tmp_path = setup
    activity(3)
    engine = engine_for(tmp_path, pg_url)
    Indexer(dep, engine, confirmations=0, batch_blocks=5).run()
    Indexer(dep, engine, confirmations=0).run()
    rows = stored(engine)
    assert len(rows) == len(set(rows)) and set(rows) == chain_logs(dep)
    engine.dispose()
