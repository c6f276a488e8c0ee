"""Reconciliation runs on a real chain: each verdict and break class, balances that catch a token
transfer no event of ours explains, an orphaned block that flips a matched escrow back, an indexer
that is behind, breaks carried across runs (new, persisting, resolved), the API and the report."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta

from eth_utils import keccak
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from ledger.chain.client import connect
from ledger.chain.deploy import deploy
from ledger.chain.indexer import Indexer
from ledger.money.orders import settlement
from ledger.money.orders.terms import OrderTerms
from ledger.money.recon import runs as recon_runs
from ledger.store.models import Order, ReconInputOrder

from .helpers import login, make_client


def _setup(anvil_factory, tmp_path, accounts):
    node = anvil_factory()
    manifest = tmp_path / "deployment.json"
    dep, _ = deploy(connect(node.url), manifest)
    members = {label: accounts[m["account_index"]] for label, m in dep.manifest["members"].items()}
    token = dep.contract("SettlementToken")
    issuer = dep.sender(members["issuer"])
    for who in ("platform", "merchant_a"):
        issuer.transact(token.functions.mint(members[who].address, 10**9))
    c = make_client((dep, manifest), node, tmp_path)
    return dep, members, c


def _order(c, headers, oid, merchant, amount):
    r = c.post("/v1/orders", json={"order_id": oid, "merchant": merchant, "amount_fen": amount},
               headers={**headers, "Idempotency-Key": oid})  # fmt: skip
    assert r.status_code == 201, r.text


def test_runs_verdicts_balances_and_breaks_across_runs(anvil_factory, tmp_path, accounts):
    dep, members, c = _setup(anvil_factory, tmp_path, accounts)
    engine = c.app.state.services.engine
    platform, auditor = login(c, members["platform"]), login(c, members["auditor"])
    merchant = members["merchant_a"].address
    for oid, amount in (("r1", 1_000), ("r2", 2_000)):
        _order(c, platform, oid, merchant, amount)
    assert (
        c.post("/v1/deposits", json={"amount_fen": 50_000}, headers=login(c, members["merchant_a"])).status_code == 200
    )
    index = Indexer(dep, engine, confirmations=0)
    index.run()

    # 1. everything agrees: reconciled, with balances proven gross
    r1 = c.post("/v1/audit/reconciliation/runs", json={}, headers=auditor)
    assert r1.status_code == 201, r1.text
    run1 = r1.json()
    assert run1["verdict"] == "reconciled" and run1["previous_id"] is None and len(run1["inputs_sha256"]) == 64
    vault = next(s for s in run1["balances"] if s["contract"] == "GuaranteeVault")
    assert vault["in"] == {"deposits": 50_000} and vault["out"] == {"withdrawals": 0, "claims paid": 0}
    assert vault["actual_fen"] == vault["expected_fen"] == 50_000
    escrow = next(s for s in run1["balances"] if s["contract"] == "OrderSettlement")
    assert escrow["in"]["escrows"] == 3_000 and escrow["explained"]
    assert all(s["explained"] for s in run1["balances"])

    # 2. the indexer is behind the cut-off: incomplete, nothing concluded
    _order(c, platform, "r3", merchant, 3_000)
    head = dep.w3.eth.block_number
    behind = c.post("/v1/audit/reconciliation/runs", json={"cut_off_block": head}, headers=auditor).json()
    assert behind["verdict"] == "incomplete" and behind["reasons"][0]["reason"] == "indexer_behind"
    assert behind["totals"] == {} and behind["breaks"] == {"new": 0, "persisting": 0, "resolved": 0}
    index.run()

    # 3. tokens sent straight to the vault (no deposit event) and an order changed behind our back
    dep.sender(members["merchant_a"]).transact(
        dep.contract("SettlementToken").functions.transfer(dep.contract("GuaranteeVault").address, 7)
    )
    with Session(engine) as db, db.begin():
        db.execute(update(Order).where(Order.order_id == "r1").values(status="refunded"))
    index.run()
    run3 = c.post("/v1/audit/reconciliation/runs", json={}, headers=auditor).json()
    assert run3["verdict"] == "breaks" and run3["previous_id"] == behind["id"]
    vault = next(s for s in run3["balances"] if s["contract"] == "GuaranteeVault")
    assert (vault["expected_fen"], vault["actual_fen"], vault["difference_fen"]) == (50_000, 50_007, 7)
    found = c.get(f"/v1/audit/reconciliation/runs/{run3['id']}/breaks", headers=auditor).json()
    by_class = {b["class"]: b for b in found}
    assert set(by_class) == {"unexplained_balance", "status_mismatch"}
    assert by_class["unexplained_balance"]["priority"] == "P1" and by_class["unexplained_balance"]["amount_fen"] == 7
    assert "+7 fen moved with no event of ours" in by_class["unexplained_balance"]["detail"]
    assert by_class["status_mismatch"]["priority"] == "P3" and by_class["status_mismatch"]["order_id"] == "r1"
    assert all(b["status"] == "new" for b in found)

    # 4. the next run: both persist (same stable ids); then the order is put right: resolved, once
    run4 = c.post("/v1/audit/reconciliation/runs", json={}, headers=auditor).json()
    again = c.get(f"/v1/audit/reconciliation/runs/{run4['id']}/breaks", headers=auditor).json()
    assert {b["id"]: b["status"] for b in again} == {b["id"]: "persisting" for b in found}
    with Session(engine) as db, db.begin():
        db.execute(update(Order).where(Order.order_id == "r1").values(status="escrowed"))
    run5 = c.post("/v1/audit/reconciliation/runs", json={}, headers=auditor).json()
    assert run5["breaks"] == {"new": 0, "persisting": 1, "resolved": 1}
    status_break = by_class["status_mismatch"]["id"]
    b = c.get(f"/v1/audit/reconciliation/breaks/{status_break}", headers=auditor).json()
    assert [h["status"] for h in b["history"]] == ["new", "persisting", "resolved"] and b["resolved_at"]
    run6 = c.post("/v1/audit/reconciliation/runs", json={}, headers=auditor).json()
    assert run6["breaks"] == {"new": 0, "persisting": 1, "resolved": 0}  # resolved at most once
    # what was open at a moment, and what happened to it since
    at = (datetime.now(UTC) - timedelta(days=1)).isoformat()
    assert c.get("/v1/audit/reconciliation/breaks", params={"open_at": at}, headers=auditor).json() == []
    now_open = c.get("/v1/audit/reconciliation/breaks", headers=auditor).json()
    assert [x["class"] for x in now_open] == ["unexplained_balance"]

    # 5. an orphaned block: an escrow matched in one run leaves the chain and flips back, saying so
    snap = dep.w3.provider.make_request("evm_snapshot", [])["result"]
    _order(c, platform, "r4", merchant, 4_000)
    index.run()
    run7 = c.post("/v1/audit/reconciliation/runs", json={}, headers=auditor).json()
    assert run7["totals"]["matched"]["count"] == 4
    dep.w3.provider.make_request("evm_revert", [snap])
    for _ in range(3):
        dep.w3.provider.make_request("evm_mine", [])
    stale = c.post("/v1/audit/reconciliation/runs", json={}, headers=auditor).json()
    assert stale["verdict"] == "incomplete"
    assert {r["reason"] for r in stale["reasons"]} == {"block_hash_mismatch", "previous_cut_off_orphaned"}
    index.run()  # the indexer rolls the orphaned block back
    run8 = c.post("/v1/audit/reconciliation/runs", json={}, headers=auditor).json()
    flipped = [
        x for x in c.get(f"/v1/audit/reconciliation/runs/{run8['id']}/breaks", headers=auditor).json()
        if x["order_id"] == "r4"
    ]  # fmt: skip
    assert flipped and flipped[0]["class"] == "missing_on_chain" and "orphaned" in flipped[0]["detail"]

    # reports: CSV, HTML in both languages with the chart; auditors only
    csv_text = c.get(f"/v1/audit/reconciliation/runs/{run8['id']}/breaks", params={"format": "csv"}, headers=auditor)
    assert csv_text.text.startswith("id,priority,class") and "missing_on_chain" in csv_text.text
    zh = c.get(f"/v1/audit/reconciliation/runs/{run8['id']}/report", params={"lang": "zh"}, headers=auditor).text
    en = c.get(f"/v1/audit/reconciliation/runs/{run8['id']}/report", headers=auditor).text
    assert "存在差异" in zh and "<svg" in zh and "breaks" in en and "<script" not in en
    merchant_h = login(c, members["merchant_a"])
    assert c.get("/v1/audit/reconciliation/runs", headers=merchant_h).status_code == 403
    runs = c.get("/v1/audit/reconciliation/runs", headers=auditor).json()
    assert [r["id"] for r in runs] == sorted((r["id"] for r in runs), reverse=True)

    # 6. an export from the order system whose amounts and merchants disagree, and an escrow on
    # chain that no order names: each its own break, in a chain of runs of its own (source: CSV)
    stray = OrderTerms(keccak(text="stray"), 777, merchant, members["platform"].address, slot=10_000)
    settlement.escrow(dep, dep.sender(members["platform"]), [stray])
    index.run()
    with Session(engine) as db:
        keys = dict(db.execute(select(Order.order_id, Order.order_key)).all())
    other = members["merchant_b"].address
    export = (
        "order_id,merchant,amount_fen,status,order_key\n"
        f"r1,{merchant},1001,paid,{keys['r1']}\nr2,{other},2000,paid,{keys['r2']}\nr3,{merchant},3000,paid,{keys['r3']}\n"
    )
    run9 = recon_runs.run(engine, dep, orders_csv=export, confirmations=0)
    assert run9.source == "orders CSV" and run9.previous_id is None and run9.verdict == "breaks"
    seen = {b["class"]: b for b in c.get(f"/v1/audit/reconciliation/runs/{run9.id}/breaks", headers=auditor).json()}
    assert {"amount_mismatch", "merchant_mismatch", "unknown_on_chain", "unexplained_balance"} <= set(seen)
    assert (seen["amount_mismatch"]["priority"], seen["merchant_mismatch"]["priority"]) == ("P1", "P2")
    assert seen["unknown_on_chain"]["priority"] == "P1" and seen["unknown_on_chain"]["amount_fen"] == 777
    table_run = c.post("/v1/audit/reconciliation/runs", json={}, headers=auditor).json()
    assert table_run["previous_id"] == run8["id"]  # the table's chain of runs goes on past the export's


def test_pending_and_malformed_inputs(anvil_factory, tmp_path, accounts):
    dep, members, c = _setup(anvil_factory, tmp_path, accounts)
    engine = c.app.state.services.engine
    platform = login(c, members["platform"])
    _order(c, platform, "p1", members["merchant_a"].address, 1_000)
    Indexer(dep, engine, confirmations=50).run()  # read, not yet final
    pending = recon_runs.run(engine, dep, confirmations=50)
    assert pending.verdict == "reconciled_with_pending"
    (row,) = __import__("json").loads(pending.pending)
    assert row["order_id"] == "p1" and row["becomes_break_after_block"] > pending.cut_off_block
    env = {
        **os.environ,
        "LEDGER_DATABASE_URL": str(engine.url),
        "LEDGER_RPC_URL": dep.w3.provider.endpoint_uri,
        "LEDGER_MANIFEST": str(tmp_path / "deployment.json"),
    }
    cli = subprocess.run([sys.executable, "-m", "ledger", "reconcile", "--run", "--confirmations", "50"],
                         env=env, capture_output=True, text=True, check=False)  # fmt: skip
    assert cli.returncode == 0 and f"run {pending.id + 1} (after {pending.id}): reconciled_with_pending" in cli.stdout
    # an orders CSV with a byte-order mark, streamed through the database by the CLI
    line = f"p1,{members['merchant_a'].address},1000,paid\n"
    good = "\ufefforder_id,merchant,amount_fen,status\n" + line
    (tmp_path / "orders.csv").write_text(good + line)  # p1 twice: a duplicate
    cli = subprocess.run([sys.executable, "-m", "ledger", "reconcile", "--run", "--confirmations", "50",
                          "--orders-csv", str(tmp_path / "orders.csv")], env=env, capture_output=True, text=True,
                         check=False)  # fmt: skip
    assert cli.returncode == 1 and ": breaks at block" in cli.stdout, cli.stdout + cli.stderr  # p1 twice: duplicate
    (tmp_path / "orders.csv").write_text(good + f"p3,{members['merchant_a'].address},20")  # cut short
    cli = subprocess.run([sys.executable, "-m", "ledger", "reconcile", "--run", "--confirmations", "50",
                          "--orders-csv", str(tmp_path / "orders.csv")], env=env, capture_output=True, text=True,
                         check=False)  # fmt: skip
    assert ": incomplete at block" in cli.stdout and "line 3: 3 of 4 columns: truncated" in cli.stdout
    with Session(engine) as db:
        assert db.scalar(select(func.count()).select_from(ReconInputOrder)) == 0  # nothing left staged
    listed = subprocess.run([sys.executable, "-m", "ledger", "recon", "runs"], env=env, capture_output=True,
                            text=True, check=True).stdout  # fmt: skip
    assert "incomplete" in listed and "reconciled_with_pending" in listed and "orders CSV" in listed
    report = tmp_path / "run.html"
    subprocess.run([sys.executable, "-m", "ledger", "recon", "report", str(pending.id), "--lang", "zh", "--out",
                    str(report)], env=env, check=True, capture_output=True)  # fmt: skip
    assert "已对平（有待确认记录）" in report.read_text()
    bad = "order_id,merchant,amount_fen,status\np2,0x" + "11" * 20 + ",12.5,paid\n"
    run = recon_runs.run(engine, dep, orders_csv=bad, confirmations=50)
    reasons = __import__("json").loads(run.reasons)
    assert (
        run.verdict == "incomplete" and reasons[0]["reason"] == "input_malformed" and "line 2" in reasons[0]["detail"]
    )


def test_ageing_lists_money_held_too_long(anvil_factory, tmp_path, accounts):
    dep, members, c = _setup(anvil_factory, tmp_path, accounts)
    engine = c.app.state.services.engine
    platform, merchant = login(c, members["platform"]), login(c, members["merchant_a"])
    address = members["merchant_a"].address
    assert c.post("/v1/deposits", json={"amount_fen": 50_000}, headers=merchant).status_code == 200
    r = c.post("/v1/deposits/withdrawal-requests", json={"amount_fen": 10_000}, headers=merchant)
    assert r.status_code == 200, r.text
    case = {"merchant": address, "claimant": members["producer"].address, "amount_fen": 5_000}
    assert c.post("/v1/cases", json=case, headers=login(c, members["arbiter"])).status_code == 201
    _order(c, platform, "a1", address, 1_000)
    _order(c, platform, "a2", address, 2_000)
    dep.w3.provider.make_request("evm_increaseTime", [40 * 86_400])
    dep.w3.provider.make_request("evm_mine", [])
    settled = c.post("/v1/orders/settle", json={"order_ids": ["a2"]}, headers=platform)
    assert settled.status_code == 200 and settled.json()["settled"], settled.text
    # a1 is left unsettled past its settlement timeout
    Indexer(dep, engine, confirmations=0).run()
    run = recon_runs.run(engine, dep, confirmations=0)
    items = {a["kind"]: a for a in __import__("json").loads(run.ageing)}
    assert items["escrow_overdue"]["state"] == "over" and items["escrow_overdue"]["age_s"] > 20 * 86_400
    assert items["withdrawal_not_taken"]["state"] == "over" and items["withdrawal_not_taken"]["subject"] == address
    assert items["deposit_frozen"]["amount_fen"] == 5_000 and items["deposit_frozen"]["state"] == "over"
    assert items["payout_unpulled"]["subject"] == address and items["payout_unpulled"]["state"] == "ok"
    page = c.get(f"/v1/audit/reconciliation/runs/{run.id}/report", headers=login(c, members["auditor"])).text
    assert "withdrawal_not_taken" in page and "deposit_frozen" in page


def test_breaks_open_at_a_moment_whatever_its_zone(deployment, chain_node, tmp_path, members):
    """`open_at` in another zone than UTC was compared by its digits on SQLite: a break open now was
    not open "now" written in Californian time (outside probe)."""
    from datetime import timezone

    from ledger.store.models import ReconBreak, ReconRun

    c = make_client(deployment, chain_node, tmp_path)
    auditor = login(c, members["auditor"])
    seen = datetime.now(UTC) - timedelta(hours=1)
    with Session(c.app.state.services.engine) as db, db.begin():
        db.add(ReconRun(id=1, cut_off_block=1, cut_off_hash="0x" + "0" * 64, inputs_sha256="0" * 64, verdict="breaks",
                        source="orders table", reasons="[]", totals="{}", balances="[]", pending="[]", ageing="[]",
                        created_at=seen))  # fmt: skip
        db.flush()
        db.add(ReconBreak(id="b" * 24, rule="amount_agrees", cls="amount_mismatch", priority=2, subject="0x",
                          amount_fen=1, detail="", status="new", first_run=1, last_run=1,
                          first_seen_at=seen))  # fmt: skip
    now = datetime.now(UTC)
    for hours in (0, 8, -8):
        at = now.astimezone(timezone(timedelta(hours=hours))).isoformat()
        open_then = c.get("/v1/audit/reconciliation/breaks", params={"open_at": at}, headers=auditor).json()
        assert [b["id"] for b in open_then] == ["b" * 24], at
