"""Orders listed as people use them: searched by order id prefix, sorted by time or amount, every
sort paged by keyset (the `X-Next-After` cursor: each order once, in order), exported as CSV; a
merchant sees its own only; a cursor this listing did not give is a 422, never a 500."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta

from sqlalchemy.orm import Session

from ledger.chain.client import connect
from ledger.chain.deploy import deploy
from ledger.store.models import Order

from .helpers import login, make_client


def _pages(c, headers, **params) -> list[list[str]]:
    pages, after = [], ""
    while True:
        r = c.get("/v1/orders", params={**params, "limit": 4, "after": after}, headers=headers)
        assert r.status_code == 200, r.text
        pages.append([o["order_id"] for o in r.json()])
        after = r.headers["X-Next-After"]
        if not after:
            return pages


def test_orders_searched_sorted_paged_and_exported(anvil_factory, tmp_path, accounts):
    node = anvil_factory()
    manifest = tmp_path / "deployment.json"
    dep, _ = deploy(connect(node.url), manifest)
    members = {label: accounts[m["account_index"]] for label, m in dep.manifest["members"].items()}
    c = make_client((dep, manifest), node, tmp_path)
    mine, other = members["merchant_a"].address, members["merchant_b"].address
    t0 = datetime(2026, 12, 1, tzinfo=UTC)
    amounts = [500, 120, 990, 120, 300, 70, 640, 120, 800, 45]  # ties in amount: the order id breaks them
    with Session(c.app.state.services.engine) as db:
        for i, amount in enumerate(amounts):
            db.add(Order(
                order_id=f"{'A' if i % 3 else 'B'}-{i:03d}", order_key=f"0x{i:064x}", merchant=mine if i < 9 else other,
                payer=mine, amount_fen=amount, refunded_fen=0, referrers="[]", platform_fee_bps=100, status="escrowed",
                escrow_tx="0x" + "ab" * 32, created_at=t0 + timedelta(minutes=i % 5, seconds=i), updated_at=t0,
            ))  # fmt: skip
        db.commit()
    auditor, merchant = login(c, members["auditor"]), login(c, members["merchant_a"])
    everything = [f"{'A' if i % 3 else 'B'}-{i:03d}" for i in range(10)]
    rows = {o: (amounts[i], t0 + timedelta(minutes=i % 5, seconds=i)) for i, o in enumerate(everything)}
    for sort, key, reverse in (("newest", 1, True), ("oldest", 1, False), ("amount_high", 0, True),
                               ("amount_low", 0, False), ("order_id", None, False)):  # fmt: skip
        pages = _pages(c, auditor, sort=sort)
        got = sum(pages, [])
        want = sorted(everything, key=lambda o: (rows[o][key], o) if key is not None else o, reverse=reverse)
        assert got == want and len(pages) == 3, (sort, pages)
    # searched by prefix, and only the merchant's own
    assert sum(_pages(c, auditor, q="B-"), []) == ["B-000", "B-003", "B-006", "B-009"]
    assert sum(_pages(c, merchant, q="B-", sort="amount_high"), []) == ["B-006", "B-000", "B-003"]
    # exported as CSV, the same rows as the JSON
    r = c.get("/v1/orders", params={"format": "csv", "sort": "amount_high", "limit": 1000}, headers=merchant)
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    table = list(csv.DictReader(io.StringIO(r.text)))
    assert [t["order_id"] for t in table][:2] == ["A-002", "A-008"] and len(table) == 9
    assert table[0]["amount_fen"] == "990" and table[0]["merchant"] == mine
    # an order id a spreadsheet would read as a formula (ids may start with `-`) is exported as text
    with Session(c.app.state.services.engine) as db:
        db.add(Order(
            order_id="-A1-11e6", order_key=f"0x{99:064x}", merchant=mine, payer=mine, amount_fen=1, refunded_fen=0,
            referrers="[]", platform_fee_bps=100, status="escrowed", escrow_tx="0x" + "ab" * 32, created_at=t0,
            updated_at=t0,
        ))  # fmt: skip
        db.commit()
    r = c.get("/v1/orders", params={"format": "csv", "q": "-A1"}, headers=merchant)
    (row,) = list(csv.DictReader(io.StringIO(r.text)))
    assert row["order_id"] == "'-A1-11e6" and row["amount_fen"] == "1", r.text
    assert [o["order_id"] for o in c.get("/v1/orders", params={"q": "-A1"}, headers=merchant).json()] == ["-A1-11e6"]
    bad = c.get("/v1/orders", params={"sort": "newest", "after": "yesterday|A-001"}, headers=auditor)
    assert bad.status_code == 422, bad.text
    # an amount cursor beyond the column's integers overflowed in SQLite (a 500), `²` passed isdigit()
    for after in ("9223372036854775808|x", "-1|x", "-9223372036854775809|x", "\u00b2|x", "1e3|x", "|x"):
        bad = c.get("/v1/orders", params={"sort": "amount_high", "after": after}, headers=auditor)
        assert bad.status_code == 422 and bad.json()["detail"][0]["field"] == "after", (after, bad.text)
    top = c.get("/v1/orders", params={"sort": "amount_high", "after": "9223372036854775807|x"}, headers=auditor)
    assert [o["order_id"] for o in top.json()][:1] == ["A-002"]
    assert c.get("/v1/orders", params={"sort": "sideways"}, headers=auditor).status_code == 422
    assert c.get("/v1/orders", params={"status": "weird"}, headers=auditor).status_code == 422  # was 200 []
    assert c.get("/v1/orders", params={"status": "escrowed"}, headers=auditor).status_code == 200
