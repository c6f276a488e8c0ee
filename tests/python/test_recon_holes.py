"""Reconciliation runs that cannot be gamed: a run with an earlier cut-off neither resolves a break
nor resets its age; only auditors start runs; runs started together do not fork the chain of
runs (409); cut-offs at, below and far above the chain's ends are clear 4xx."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from ledger.chain.indexer import Indexer
from ledger.errors import Conflict
from ledger.money.recon import runs as recon_runs
from ledger.store.models import Order, ReconRun

from .helpers import login
from .test_recon_runs import _order, _setup

RUNS = "/v1/audit/reconciliation/runs"
BREAKS = "/v1/audit/reconciliation/breaks"


def test_cut_off_at_the_chain_ends(anvil_factory, tmp_path, accounts):
    dep, members, c = _setup(anvil_factory, tmp_path, accounts)
    Indexer(dep, c.app.state.services.engine, confirmations=0).run()
    auditor = login(c, members["auditor"])
    deployed = int(dep.manifest["deployed_at_block"])
    for cut in (deployed, deployed + 1, deployed - 1, 0, 2**40, 2**63 - 1):
        r = c.post(RUNS, json={"cut_off_block": cut}, headers=auditor)
        assert r.status_code == 422 and "cut-off block" in r.text, (cut, r.status_code, r.text)
    r = c.post(RUNS, json={"cut_off_block": 2**63}, headers=auditor)  # past SQLite's integers: refused as input
    assert r.status_code == 422 and "cut_off_block" in r.text, r.text
    first = int(
        c.post(RUNS, json={"cut_off_block": deployed}, headers=auditor)
        .json()["detail"]
        .split("from block ")[1]
        .split(";")[0]
    )
    assert deployed < first <= dep.w3.eth.block_number
    assert c.post(RUNS, json={"cut_off_block": first}, headers=auditor).status_code == 201
    assert c.post(RUNS, json={"cut_off_block": first - 1}, headers=auditor).status_code == 422


def test_an_earlier_cut_off_neither_resolves_nor_ages_a_break(anvil_factory, tmp_path, accounts):
    dep, members, c = _setup(anvil_factory, tmp_path, accounts)
    engine = c.app.state.services.engine
    platform, auditor = login(c, members["platform"]), login(c, members["auditor"])
    _order(c, platform, "h1", members["merchant_a"].address, 1_000)
    index = Indexer(dep, engine, confirmations=0)
    index.run()
    before = dep.w3.eth.block_number
    dep.sender(members["merchant_a"]).transact(
        dep.contract("SettlementToken").functions.transfer(dep.contract("GuaranteeVault").address, 7)
    )
    index.run()
    first = c.post(RUNS, json={}, headers=auditor).json()
    assert first["verdict"] == "breaks" and first["breaks"]["new"] == 1
    (brk,) = c.get(BREAKS, headers=auditor).json()
    # a run whose cut-off is before the transfer does not see it, and says nothing about it
    early = c.post(RUNS, json={"cut_off_block": before}, headers=auditor).json()
    assert early["verdict"] == "reconciled" and early["breaks"]["resolved"] == 0
    assert [b["status"] for b in c.get(BREAKS, headers=auditor).json()] == ["new"]
    later = c.post(RUNS, json={}, headers=auditor).json()
    assert later["breaks"] == {"new": 0, "persisting": 1, "resolved": 0}
    now = c.get(f"{BREAKS}/{brk['id']}", headers=auditor).json()
    assert now["first_seen_at"] == brk["first_seen_at"] and now["age_s"] >= brk["age_s"]
    assert [h["status"] for h in now["history"]] == ["new", "persisting"]
    # a break truly resolved and seen again is open again, as old as when first seen
    with Session(engine) as db, db.begin():
        db.execute(update(Order).where(Order.order_id == "h1").values(status="refunded"))
    seen = c.post(RUNS, json={}, headers=auditor).json()
    assert seen["breaks"]["new"] == 1
    mismatch = next(b for b in c.get(BREAKS, headers=auditor).json() if b["class"] == "status_mismatch")
    with Session(engine) as db, db.begin():
        db.execute(update(Order).where(Order.order_id == "h1").values(status="escrowed"))
    assert c.post(RUNS, json={}, headers=auditor).json()["breaks"]["resolved"] == 1
    with Session(engine) as db, db.begin():
        db.execute(update(Order).where(Order.order_id == "h1").values(status="refunded"))
    assert c.post(RUNS, json={}, headers=auditor).json()["breaks"]["new"] == 1
    again = c.get(f"{BREAKS}/{mismatch['id']}", headers=auditor).json()
    assert again["status"] == "new" and again["first_seen_at"] == mismatch["first_seen_at"]
    assert [h["status"] for h in again["history"]] == ["new", "resolved", "new"]
    # the operator, the party audited, reads runs but does not start them
    assert c.post(RUNS, json={}, headers=platform).status_code == 403
    assert c.get(RUNS, headers=platform).status_code == 200


def test_runs_started_together_do_not_fork_the_chain(anvil_factory, tmp_path, accounts):
    dep, members, c = _setup(anvil_factory, tmp_path, accounts)
    engine = c.app.state.services.engine
    auditor = login(c, members["auditor"])
    _order(c, login(c, members["platform"]), "f1", members["merchant_a"].address, 1_000)
    Indexer(dep, engine, confirmations=0).run()
    assert c.post(RUNS, json={}, headers=auditor).status_code == 201
    start = threading.Barrier(6)

    def over_http(_: int) -> int:
        start.wait(timeout=60)
        return c.post(RUNS, json={}, headers=auditor).status_code

    with ThreadPoolExecutor(max_workers=6) as pool:
        statuses = list(pool.map(over_http, range(6)))
    assert set(statuses) <= {201, 409} and statuses.count(201) >= 1 and 409 in statuses, statuses

    def in_process(_: int) -> str:  # as two API workers would: no lock shared, the database decides
        start.wait(timeout=60)
        try:
            recon_runs.run(engine, dep, confirmations=0)
            return "stored"
        except Conflict as exc:
            assert "start again" in str(exc)
            return "conflict"

    with ThreadPoolExecutor(max_workers=6) as pool:
        outcomes = list(pool.map(in_process, range(6)))
    assert "stored" in outcomes and "conflict" in outcomes, outcomes
    with Session(engine) as db:
        named = [p for (p,) in db.execute(select(ReconRun.previous_id).order_by(ReconRun.id))]
    assert len(named) == len(set(named)), named  # every run names a different previous run
    assert c.post(RUNS, json={}, headers=auditor).status_code == 201


@pytest.mark.parametrize("database", ["sqlite", "postgresql"])
def test_runs_forked_before_the_migration_stay_and_no_new_fork_is_stored(database, tmp_path, request):
    from sqlalchemy import insert
    from sqlalchemy.exc import IntegrityError

    from ledger.store.db import make_engine, migrate

    url = f"sqlite:///{tmp_path / 'm.sqlite3'}" if database == "sqlite" else request.getfixturevalue("pg_url")
    engine = make_engine(url)
    migrate(engine, "0016")
    row = {"cut_off_block": 1, "cut_off_hash": "0x", "inputs_sha256": "0", "verdict": "reconciled",
           "source": "orders table", "reasons": "[]", "totals": "{}", "balances": "[]", "pending": "[]",
           "ageing": "[]", "created_at": datetime.now(UTC)}  # fmt: skip
    with engine.begin() as conn:  # two runs after run 1: a fork made before runs were serialised
        conn.execute(insert(ReconRun), [{**row, "previous_id": None}])
        conn.execute(insert(ReconRun), [{**row, "previous_id": 1}, {**row, "previous_id": 1}])
    migrate(engine)
    with engine.begin() as conn:
        conn.execute(insert(ReconRun), [{**row, "previous_id": 3}])
    with pytest.raises(IntegrityError), engine.begin() as conn:
        conn.execute(insert(ReconRun), [{**row, "previous_id": 3}])
    with engine.connect() as conn:
        assert conn.scalar(select(func.count()).select_from(ReconRun)) == 4
    engine.dispose()
