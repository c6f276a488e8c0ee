"""Reconciliation: every class, totals that add up, determinism, bad CSV; and end to end on a
real chain: orders through the API, events through the indexer, the report through CLI and API."""

from __future__ import annotations

import csv
import io
import json
import os
import random
import subprocess
import sys

import pytest
from eth_utils import keccak
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger.chain.client import Sender, connect
from ledger.chain.deploy import deploy
from ledger.chain.indexer import Indexer
from ledger.money.orders import settlement
from ledger.money.orders.terms import OrderTerms
from ledger.money.recon import pages as recon_pages
from ledger.money.recon.inputs import OrdersInputError, chain_records, orders_from_csv
from ledger.money.recon.reconcile import CLASSES, ChainRecord, OrderRow, order_key_hex, reconcile
from ledger.money.recon.stream import stream

from .helpers import login, make_client

M1, M2 = "0x" + "11" * 20, "0x" + "22" * 20


def key(oid):
    return order_key_hex(oid)


def check_totals_add_up(report, orders, chain):
    order_sum = sum(o.amount_fen for o in orders)
    unknown = sum(r["chain_amount_fen"] for r in report.rows if r["class"] == "unknown_on_chain")
    assert sum(t["amount_fen"] for t in report.totals.values()) == order_sum + unknown
    assert sum(t["count"] for t in report.totals.values()) == len(report.rows)
    for cls in CLASSES:
        assert sum(m[cls] for m in report.merchants.values()) == report.totals[cls]["amount_fen"]


def test_every_class():
    orders = [
        OrderRow("A", M1, 100, "settled"),
        OrderRow("B", M1, 200, "paid"),
        OrderRow("C", M2, 300, "refunded"),
        OrderRow("D", M2, 400, "settled"),
        OrderRow("A", M1, 100, "settled"),
        OrderRow("E", M1, 500, "paid"),
        OrderRow("F", M2, 600, "paid"),
    ]
    chain = {
        key("A"): ChainRecord(key("A"), M1, 100, "settled"),
        key("B"): ChainRecord(key("B"), M1, 250),
        key("C"): ChainRecord(key("C"), M2, 300, "settled"),
        key("E"): ChainRecord(key("E"), M1, 500, final=False),
        key("F"): ChainRecord(key("F"), M1, 600),
        key("X"): ChainRecord(key("X"), M2, 700, "settled"),
    }
    report = reconcile(orders, chain)
    by_class = {}
    for r in report.rows:
        by_class.setdefault(r["class"], []).append(r["order_id"])
    assert by_class == {
        "matched": ["A"],
        "duplicate": ["A"],
        "amount_mismatch": ["B"],
        "status_mismatch": ["C"],
        "missing_on_chain": ["D"],
        "pending": ["E"],
        "merchant_mismatch": ["F"],
        "unknown_on_chain": [None],
    }
    assert report.totals["unknown_on_chain"] == {"count": 1, "amount_fen": 700}
    assert report.totals["duplicate"] == {"count": 1, "amount_fen": 100}
    check_totals_add_up(report, orders, chain)


def test_same_inputs_same_report_in_any_order():
    orders = [OrderRow(f"O{i}", M1 if i % 2 else M2, 100 + i, "settled") for i in range(50)]
    chain = {
        key(f"O{i}"): ChainRecord(key(f"O{i}"), M1 if i % 2 else M2, 100 + i + (i % 7 == 0), "settled")
        for i in range(5, 60)
    }
    first = reconcile(orders, chain)
    shuffled = orders[:]
    random.Random(1).shuffle(shuffled)
    items = list(chain.items())
    random.Random(2).shuffle(items)
    again = reconcile(shuffled, dict(items))
    assert first.to_json() == again.to_json() and first.to_csv() == again.to_csv()
    assert recon_pages.orders_page(first, "en") == recon_pages.orders_page(again, "en")


def test_the_csv_holds_no_formula_a_spreadsheet_would_run():
    """An order id `-A1-11e6` (an id may start with `-`) was a formula cell; it is text now."""
    orders = [
        OrderRow("-A1-11e6", M1, 100, "settled"),
        OrderRow("=1+1", M1, 200, "settled"),
        OrderRow("A", M1, 1, "settled"),
    ]
    rows = list(csv.DictReader(io.StringIO(reconcile(orders, {}).to_csv())))
    assert sorted(r["order_id"] for r in rows) == ["'-A1-11e6", "'=1+1", "A"]
    assert {r["order_amount_fen"] for r in rows} == {"100", "200", "1"}


@given(
    st.lists(
        st.tuples(
            st.integers(0, 30),
            st.sampled_from([M1, M2]),
            st.integers(1, 10**12),
            st.sampled_from(["settled", "refunded", "paid"]),
        ),
        max_size=60,
    ),
    st.lists(
        st.tuples(st.integers(0, 40), st.integers(1, 10**12), st.sampled_from(["settled", "escrowed"]), st.booleans()),
        max_size=60,
    ),
)
@settings(max_examples=200, deadline=None)
def test_totals_always_add_up(order_specs, chain_specs):
    orders = [OrderRow(f"O{i}", m, a, s) for i, m, a, s in order_specs]
    chain = {key(f"O{i}"): ChainRecord(key(f"O{i}"), M1, a, s, f) for i, a, s, f in chain_specs}
    report = reconcile(orders, chain)
    check_totals_add_up(report, orders, chain)
    assert report.inputs == {"order_rows": len(orders), "chain_escrows": len(chain)}
    # the streaming merge join (orders and records sorted by key) classifies exactly the same
    tally = stream(sorted(orders, key=lambda o: key(o.order_id)), [chain[k] for k in sorted(chain)])
    assert tally.totals == report.totals and tally.merchants == report.merchants
    unmatched = sorted(json.dumps(r, sort_keys=True) for r in report.rows if r["class"] != "matched")
    assert sorted(json.dumps(r, sort_keys=True) for r in tally.kept) == unmatched
    assert (tally.orders, tally.escrows) == (len(orders), len(chain))


def test_csv_input_errors_name_line_and_field():
    good = f"order_id,merchant,amount_fen,status,referrers,time\nA,{M1},100,settled,,2026-11-01\n"
    assert orders_from_csv(good)[0].amount_fen == 100
    assert orders_from_csv("\ufeff" + good)[0].order_id == "A"  # a byte-order mark is not a column name
    bad = {
        good.replace(",100,", ",1.50,"): r"line 2, column amount_fen: must be a whole number of fen, got '1.50'",
        good.replace(",100,", ",-5,"): r"line 2, column amount_fen",
        "order_id,amount_fen\nA,1\n": "line 1: the header lacks column",
        good.replace(M1, "alice"): "line 2, column merchant: not an address",
        good.replace("settled", "teleported"): "line 2, column status: unknown status 'teleported'",
        good + f"B,{M1},200": r"line 3: 3 of 6 columns: truncated",
        good + f"B,{M1},200,paid,,t,extra\n": "line 3: 7 of 6 columns: too long",
        "": "line 1: the orders CSV is empty",
    }
    for text_, message in bad.items():
        with pytest.raises(OrdersInputError, match=message):
            orders_from_csv(text_)


# -- end to end ----------------------------------------------------------------------------------


def test_end_to_end_on_chain(anvil_factory, tmp_path, accounts):
    node = anvil_factory()
    manifest = tmp_path / "deployment.json"
    dep, _ = deploy(connect(node.url), manifest)
    members = {label: accounts[m["account_index"]] for label, m in dep.manifest["members"].items()}
    issuer = Sender(dep.w3, members["issuer"], dep.decoder())
    issuer.transact(dep.contract("SettlementToken").functions.mint(members["platform"].address, 10**9))
    c = make_client((dep, manifest), node, tmp_path)
    platform = login(c, members["platform"])
    merchant = members["merchant_a"].address

    def order(oid, amount):
        r = c.post(
            "/v1/orders",
            json={"order_id": oid, "merchant": merchant, "amount_fen": amount},
            headers={**platform, "Idempotency-Key": oid},
        )
        assert r.status_code == 201, r.text

    for oid, amount in [("o1", 1_000), ("o2", 2_000), ("o3", 3_000), ("o4", 4_000)]:
        order(oid, amount)
    c.post("/v1/orders/o1/confirm", headers=platform)
    assert c.post("/v1/orders/o2/refund", json={"amount_fen": 2_000}, headers=platform).status_code == 200
    c.post("/v1/orders/o4/confirm", headers=platform)
    dep.w3.provider.make_request("evm_increaseTime", [7 * 24 * 3600 + 1])
    dep.w3.provider.make_request("evm_mine", [])
    r = c.post("/v1/orders/settle", json={"order_ids": ["o1", "o4"]}, headers=platform)
    assert len(r.json()["settled"]) == 2, r.text
    # an escrow made on chain behind the platform's order system
    stray = OrderTerms(keccak(text="stray"), 777, merchant, members["platform"].address, slot=10_000)
    settlement.escrow(dep, dep.sender(members["platform"]), [stray])
    engine = c.app.state.services.engine
    Indexer(dep, engine, confirmations=0).run()
    order("o6", 6_000)  # not yet confirmed deep enough
    Indexer(dep, engine, confirmations=3).run()

    csv_text = (
        "order_id,merchant,amount_fen,status,referrers,time\n"
        f"o1,{merchant},1000,completed,,t\no2,{merchant},2000,completed,,t\n"
        f"o3,{merchant},3100,paid,,t\no4,{merchant},4000,settled,,t\no4,{merchant},4000,settled,,t\n"
        f"o5,{merchant},5000,paid,,t\no6,{merchant},6000,paid,,t\n"
    )
    report = reconcile(orders_from_csv(csv_text), chain_records(engine))
    classes = {(r["order_id"], r["class"]) for r in report.rows}
    assert classes == {
        ("o1", "matched"),
        ("o2", "status_mismatch"),
        ("o3", "amount_mismatch"),
        ("o4", "matched"),
        ("o4", "duplicate"),
        ("o5", "missing_on_chain"),
        ("o6", "pending"),
        (None, "unknown_on_chain"),
    }

    # the CLI reads the same database; the API reports the orders table
    (tmp_path / "orders.csv").write_text(csv_text)
    env = {**os.environ, "LEDGER_DATABASE_URL": str(engine.url)}
    out = subprocess.run(
        [sys.executable, "-m", "ledger", "reconcile", "--orders-csv", str(tmp_path / "orders.csv")],
        env=env,
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    assert json.loads(out) == json.loads(report.to_json())
    auditor = login(c, members["auditor"])
    r = c.get("/v1/audit/reconciliation", headers=auditor)
    assert r.status_code == 200
    api_classes = {(x["order_id"], x["class"]) for x in r.json()["rows"]}
    assert api_classes == {
        ("o1", "matched"),
        ("o2", "matched"),
        ("o3", "matched"),
        ("o4", "matched"),
        ("o6", "pending"),
        (None, "unknown_on_chain"),
    }
    assert c.get("/v1/audit/reconciliation", headers=auditor).text == r.text
    csv_report = c.get("/v1/audit/reconciliation", params={"format": "csv"}, headers=auditor)
    assert csv_report.headers["content-type"].startswith("text/csv") and "unknown_on_chain" in csv_report.text
    page = c.get("/v1/audit/reconciliation", params={"format": "html"}, headers=auditor)
    assert page.headers["content-type"].startswith("text/html") and "¥7.77" in page.text
    assert c.get("/v1/audit/reconciliation", headers=login(c, members["merchant_a"])).status_code == 403


@pytest.mark.parametrize("dialect", ["sqlite", "postgresql"])
def test_streaming_from_the_database_agrees_with_reconcile(dialect, tmp_path, request):
    """Orders and indexed events written to the database, read back through server-side cursors in
    key order (PostgreSQL sorted byte-wise, whatever its collation) and merge-joined."""
    from datetime import UTC, datetime

    from sqlalchemy import insert

    from ledger.money.orders.terms import MAX_AMOUNT
    from ledger.money.recon.inputs import chain_sorted
    from ledger.money.recon.stream import orders_sorted
    from ledger.store.db import make_engine, migrate
    from ledger.store.models import ChainEvent, Order

    url = request.getfixturevalue("pg_url") if dialect == "postgresql" else f"sqlite:///{tmp_path / 's.sqlite3'}"
    engine = make_engine(url)
    migrate(engine)
    rng = random.Random(5)
    now = datetime.now(UTC)
    orders, events = [], []
    for i in range(400):
        k = key(f"S{i}")
        amount = rng.randint(1, MAX_AMOUNT // 10**6)
        orders.append({"order_id": f"S{i}", "order_key": k, "merchant": M1 if i % 3 else M2, "payer": M1,
                       "amount_fen": amount, "referrers": "[]", "platform_fee_bps": 0, "status": "escrowed",
                       "history": "[]", "escrow_tx": "0x", "created_at": now, "updated_at": now})  # fmt: skip
        if i % 17 != 3:
            chain_amount = amount + (i % 29 == 1)
            args = {"key": k, "merchant": M1 if i % 3 else M2, "terms": str(chain_amount)}
            events.append({"tx_hash": "0x" + f"{i:064x}", "log_index": 0, "block_number": 10 + i, "block_hash": "0x",
                           "contract": "OrderSettlement", "event": "OrderEscrowed", "key": k,
                           "args": json.dumps(args), "final": i % 41 != 5})  # fmt: skip
    events.append({"tx_hash": "0x" + "ff" * 32, "log_index": 0, "block_number": 9, "block_hash": "0x",
                   "contract": "OrderSettlement", "event": "OrderEscrowed", "key": key("stray"),
                   "args": json.dumps({"merchant": M2, "terms": "777"}), "final": True})  # fmt: skip
    with engine.begin() as conn:
        conn.execute(insert(Order), orders)
        conn.execute(insert(ChainEvent), events)
    from ledger.money.recon.inputs import orders_from_db

    expected = reconcile(orders_from_db(engine), chain_records(engine))
    tally = stream(orders_sorted(engine), chain_sorted(engine))
    assert tally.totals == expected.totals and tally.orders == 400 and tally.escrows == len(events)
    assert {c for c, t in tally.totals.items() if t["count"]} == {
        "matched", "missing_on_chain", "amount_mismatch", "pending", "unknown_on_chain"
    }  # fmt: skip
    engine.dispose()
