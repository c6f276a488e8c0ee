"""The roles' places in the console, in Debian chromium against the served stack (`test_console`'s
fixture: a node, uvicorn with two workers, the indexer): an auditor signs a reconciliation run off
with its own key on a phone in Chinese, and the run then names who and when (also in English); an
operator whose session still lists "auditor" is refused in Chinese; two arbiters rule on a case from
the list of cases waiting, the first's signature collected by the service for the second; the
carrier confirms a delivery from its orders. Every screen fits 390 px, no English on Chinese pages."""

from __future__ import annotations

from pathlib import Path

import httpx

from .helpers import new_gtin, other_arbiter
from .test_console import DATABASE, PASSWORD, _indexed_to, console, journey, keystore_of  # noqa: F401


def test_sign_off_cases_and_deliveries_in_the_browser(console, accounts, tmp_path):  # noqa: F811
    url, dep, members, headers = console
    keys = tmp_path / "keys"
    keys.mkdir()
    for member in ("auditor", "platform", "arbiter", "logistics"):  # scrypt kept light: the page decrypts 7 times
        (keys / f"{member}.json").write_text(Path(keystore_of(members[member], tmp_path)).read_text())
    (keys / "merchant.json").write_text(Path(keystore_of(members["merchant_b"], tmp_path)).read_text())
    auditor, platform, merchant = headers(members["auditor"]), headers(members["platform"]), members["merchant_b"]
    # two runs: the auditor signs the first off in the page; the second stays for the refused operator
    _indexed_to(DATABASE["path"], dep.w3.eth.block_number)
    runs = [httpx.post(url + "/v1/audit/reconciliation/runs", json={}, headers=auditor, timeout=60) for _ in "ab"]
    assert all(r.status_code == 201 for r in runs), [r.text for r in runs]
    run_id = runs[0].json()["id"]
    # a case against merchant_b's own deposit, opened by the arbiter
    m = headers(merchant)
    assert httpx.post(url + "/v1/deposits", json={"amount_fen": 1_000}, headers=m, timeout=60).is_success
    case = {"merchant": merchant.address, "claimant": members["merchant_a"].address, "amount_fen": 200}
    r = httpx.post(url + "/v1/cases", json=case, headers=headers(members["arbiter"]), timeout=60)
    assert r.status_code == 201, r.text
    case_id = r.json()["case_id"]
    # an order carried by the logistics member, and the EPCIS event that records its delivery
    carrier = members["logistics"].address
    order = {"order_id": "DD-2026-0001", "merchant": merchant.address, "amount_fen": 880, "carrier": carrier}
    r = httpx.post(url + "/v1/orders", json=order, headers=platform | {"Idempotency-Key": "DD-2026-0001"}, timeout=60)
    assert r.status_code == 201, r.text
    for oid, amount in (("DD-2026-0002", 123_456), ("EE-2026-0001", 99)):  # more of merchant_b's orders
        r = httpx.post(url + "/v1/orders", json=order | {"order_id": oid, "amount_fen": amount, "carrier": None},
                       headers=platform | {"Idempotency-Key": oid}, timeout=60)  # fmt: skip
        assert r.status_code == 201, r.text
    gtin = new_gtin()
    received = {
        "type": "ObjectEvent", "eventTime": "2026-12-01T08:00:00+08:00", "eventTimeZoneOffset": "+08:00",
        "action": "OBSERVE", "bizStep": "receiving", "epcList": [f"https://id.gs1.org/01/{gtin}/21/R1"],
    }  # fmt: skip
    doc = {
        "@context": ["https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld"], "type": "EPCISDocument",
        "schemaVersion": "2.0", "creationDate": "2026-12-01T00:00:00Z", "epcisBody": {"eventList": [received]},
    }  # fmt: skip
    r = httpx.post(url + "/v1/epcis/capture", json=doc, headers=m, timeout=60)
    assert r.status_code == 201, r.text
    event = r.json()["events"][0]["hashId"]
    # a code of merchant_b's batch, recalled: the shopper's page says what to do, and takes a report
    assert httpx.post(url + "/v1/products", json={"gtin": gtin, "name": "龙井"}, headers=m, timeout=60).is_success
    assert httpx.post(url + "/v1/batches", json={"gtin": gtin, "lot": "R-1"}, headers=m, timeout=60).is_success
    code = httpx.post(f"{url}/v1/batches/{gtin}/R-1/codes", json={"count": 1}, headers=m, timeout=60).json()["sample"][
        0
    ]
    place = "urn:epc:id:sgln:0614141.00777.0"  # named in the recorder's own master data
    shipped = {
        "type": "ObjectEvent", "eventTime": "2026-12-02T08:00:00+08:00", "eventTimeZoneOffset": "+08:00",
        "action": "OBSERVE", "bizStep": "shipping", "readPoint": {"id": place},
        "quantityList": [{"epcClass": f"https://id.gs1.org/01/{gtin}/10/R-1", "quantity": 2, "uom": "KGM"}],
    }  # fmt: skip
    vocab = {"type": "urn:epcglobal:epcis:vtype:ReadPoint", "vocabularyElementList": [
        {"id": place, "attributes": [{"id": "urn:epcglobal:cbv:mda#name", "attribute": "杭州西湖仓"}]}]}  # fmt: skip
    doc = doc | {"epcisHeader": {"epcisMasterData": {"vocabularyList": [vocab]}}, "epcisBody": {"eventList": [shipped]}}
    r = httpx.post(url + "/v1/epcis/capture", json=doc, headers=m, timeout=60)
    assert r.status_code == 201, r.text
    r = httpx.post(f"{url}/v1/batches/{gtin}/R-1/recall", json={"reason": "微生物超标"}, headers=m, timeout=60)
    assert r.is_success, r.text
    scan = code.replace("https://id.gs1.org", url)
    with other_arbiter((dep, None), accounts) as second:
        (keys / "second.json").write_text(Path(keystore_of(second, tmp_path)).read_text())
        args = (str(keys), PASSWORD, str(run_id), str(case_id), "DD-2026-0001", event, scan)
        report = journey("roles_journey.mjs", url, *args)
    for name, seen in report["screens"].items():
        assert seen["scroll_width"] <= 390 or "desktop" in name, (name, seen)  # nothing widens the phone
        assert seen["english"] == [], (name, seen["english"])  # no English on the Chinese pages
    # 1. signed off in the page, by the auditor's own key, and read back in both languages
    assert f"第 {run_id} 次对账等待您签署确认" in report["auditor_attention"], report["auditor_attention"]
    assert report["signoff_status"] == f"已签署确认第 {run_id} 次对账。", report["signoff_status"]
    assert report["unlock"]["auditor"].startswith(f"签署确认第 {run_id} 次对账"), report["unlock"]
    a = members["auditor"].address
    assert f"{a[:6]}…{a[-4:]} 于" in report["signed_row_zh"] and "签署" in report["signed_row_zh"], report
    assert f"Signed off by {a[:6]}…{a[-4:]} on" in report["signed_row_en"], report["signed_row_en"]
    run = httpx.get(f"{url}/v1/audit/reconciliation/runs/{run_id}", headers=auditor, timeout=60).json()
    assert run["signed_off"]["auditor"] == a and run["signed_off"]["note"] == "已核对，差异已记录", run
    # 2. the refused operator, in Chinese; the second run stays unsigned
    assert report["forbidden_zh"] == "出错：您的角色不能执行此操作", report["forbidden_zh"]
    other = httpx.get(f"{url}/v1/audit/reconciliation/runs/{runs[1].json()['id']}", headers=auditor).json()
    assert other["signed_off"] is None
    # 3. the case from the list, its first signature collected for the second arbiter, ruled
    assert f"#{case_id}" in report["cases_en"] and "CN¥2.00" in report["cases_en"], report["cases_en"]
    assert "个案件等待裁决" in report["arbiter_attention"], report["arbiter_attention"]
    assert report["prefilled"] == 1 and "已收集 1 / " in report["collected_zh"], report
    assert report["ruling_status"].startswith("完成"), report["ruling_status"]
    assert [c for c in report["ruling_calls"] if "ruleCase" in c], report["ruling_calls"]
    assert dep.contract("GuaranteeVault").functions.cases(case_id).call()[3] is False
    # 4. the carrier's delivery, signed by its own key: the order is delivered, the window open
    assert report["deliver_order"] == "DD-2026-0001" and report["deliver_status"].startswith("已确认送达：DD-2026-0001")
    assert [c for c in report["signed_calls"] if "confirmDeliver" in c], report["signed_calls"]
    assert "delivered" in report["carrier_row_en"].lower(), report["carrier_row_en"]
    o = httpx.get(url + "/v1/orders/DD-2026-0001", headers=platform, timeout=60).json()
    assert o["status"] == "delivered" and o["delivery_event"], o
    # lists: the audit log newest first, charts with axes and every day, orders searched/sorted/exported
    assert "/signoff" in report["audit_first"], report["audit_first"]
    assert (
        "未解决差异" in report["recon_chart"] and "对账批次" in report["recon_chart"] and "0" in report["recon_chart"]
    )
    assert report["scans_chart"]["bars"] == 30 and "扫码次数" in report["scans_chart"]["ticks"], report["scans_chart"]
    assert report["orders_rows"] == ["DD-2026-0002", "DD-2026-0001"], report["orders_rows"]
    lines = report["orders_csv"].strip().splitlines()
    assert lines[0].startswith("order_id,") and [x.split(",")[0] for x in lines[1:]] == ["DD-2026-0002", "DD-2026-0001"]
    detail = report["order_detail"]
    assert "订单详情 DD-2026-0002" in detail and "¥1,234.56" in detail and "平台费率" in detail, detail
    # the scan page after a recall: what to do; a report sent from its form, kept for the merchant
    assert "停止食用" in report["scan"]["zh"]["advice"] and "12315" in report["scan"]["zh"]["advice"], report["scan"]
    assert "refund" in report["scan"]["en"]["advice"], report["scan"]
    assert "杭州西湖仓" in report["scan"]["zh"]["chain"] and "sgln" not in report["scan"]["zh"]["chain"], report["scan"]
    assert report["scan"]["zh"]["thanks"].startswith("已收到您的举报") and "received" in report["scan"]["en"]["thanks"]
    reports = httpx.get(url + "/v1/scan/reports", headers=m, timeout=60).json()
    assert [x["message"] for x in reports] == ["the seal peels off in one piece", "防伪标签可以整片揭下"], reports
    assert reports[1]["serial"] == code.split("/21/")[1].split("?")[0] and reports[1]["place"] == "上海某超市"
