"""The roles' places in the console, in Debian chromium against the served stack (`test_console`'s
fixture: a node, uvicorn with two workers, the indexer): an auditor signs a reconciliation run off
with its own key on a phone in Chinese, and the run then names who and when (also in English); an
operator whose session still lists "auditor" is refused in Chinese; two arbiters rule on a case from
the list of cases waiting, the first's signature collected by the service for the second; the
carrier confirms a delivery from its orders. Every screen fits 390 px, no English on Chinese pages."""

from __future__ import annotations

import os
import re
from datetime import datetime, timedelta, timezone
from pathlib import Path

import httpx

from ledger.privacy import poseidon

from .helpers import new_gtin, other_arbiter
from .test_console import DATABASE, PASSWORD, _indexed_to, console, journey, keystore_of  # noqa: F401


def test_sign_off_cases_and_deliveries_in_the_browser(console, accounts, tmp_path):  # noqa: F811
    url, dep, members, headers = console
    keys = tmp_path / "keys"
    keys.mkdir()
    for member in ("auditor", "platform", "arbiter", "logistics", "inspector"):  # scrypt kept light: decrypted 8 times
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
        "type": "ObjectEvent", "eventTime": _beijing_now(), "eventTimeZoneOffset": "+08:00",  # not before the order
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
    # a second batch with one long-code issue from the API: the console lists it, and its files again
    assert httpx.post(url + "/v1/batches", json={"gtin": gtin, "lot": "R-2"}, headers=m, timeout=60).is_success
    r = httpx.post(f"{url}/v1/batches/{gtin}/R-2/codes", json={"count": 1}, headers=m, timeout=60)
    assert r.status_code == 201, r.text
    earlier_serial = r.json()["sample"][0].split("/21/")[1].split("?")[0]
    # merchant_b's registered name, which the scan page shows; a disputed order waiting for a ruling
    name = "杭州西湖茶业有限公司"
    party = {"urn": "urn:epc:id:pgln:0614141.00002", "credit_code": "91350100M000100Y43", "name": name,
             "address": "杭州", "contact": "0571-1", "member": merchant.address}  # fmt: skip
    assert httpx.put(url + "/v1/compliance/parties", json=party, headers=m, timeout=60).is_success
    disputed = "FF-2026-0009"
    r = httpx.post(url + "/v1/orders", json=order | {"order_id": disputed, "amount_fen": 500, "carrier": None},
                   headers=platform | {"Idempotency-Key": disputed}, timeout=60)  # fmt: skip
    assert r.status_code == 201, r.text
    r = httpx.post(f"{url}/v1/orders/{disputed}/confirm", json={}, headers=platform, timeout=60)  # delivered
    assert r.is_success, r.text
    r = httpx.post(f"{url}/v1/orders/{disputed}/dispute", json={"reason": "买家称未收到"}, headers=platform, timeout=60)
    assert r.is_success, r.text
    scan = code.replace("https://id.gs1.org", url)
    # the shopper's hand-over code that came with DD-2026-0001: the carrier enters it at delivery
    holder = str(poseidon.holder(int.from_bytes(os.urandom(31), "big")))
    body = {"order_id": "DD-2026-0001", "gtin": gtin, "lot": "R-2", "holder": holder}
    r = httpx.post(url + "/v1/purchases/commitments", json=body, headers=platform, timeout=60)
    assert r.status_code == 201, r.text
    handover = r.json()["commitment"]
    vouched = dep.contract("PurchaseProofs").functions.vouched().call()
    with other_arbiter((dep, None), accounts) as second:
        (keys / "second.json").write_text(Path(keystore_of(second, tmp_path)).read_text())
        args = (str(keys), PASSWORD, str(run_id), str(case_id), "DD-2026-0001", event, scan, disputed, gtin, handover)
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
    said = report["forbidden_zh"]  # with the API's detail: which role the step needs (the zh page dropped it)
    assert said.startswith("出错：您的角色不能执行此操作（requires role auditor") and said.endswith("）"), said
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
    assert [c for c in report["delivery_calls"] if "confirmDeliver" in c], report["delivery_calls"]
    # and the recipient's hand-over code vouched for, also signed by the carrier's own key
    assert report["deliver_status"].endswith("收件人交付码已在链上担保。"), report["deliver_status"]
    assert [c for c in report["delivery_calls"] if "vouch" in c], report["delivery_calls"]
    proofs = dep.contract("PurchaseProofs")
    assert proofs.functions.vouched().call() == vouched + 1
    (log,) = [e for e in dep.logs(proofs.events.Vouched) if e["args"]["first"] == vouched]
    assert log["args"]["carrier"] == carrier and [str(x) for x in log["args"]["commitments"]] == [handover]
    assert "delivered" in report["carrier_row_en"].lower(), report["carrier_row_en"]
    o = httpx.get(url + "/v1/orders/DD-2026-0001", headers=platform, timeout=60).json()
    assert o["status"] == "delivered" and o["delivery_event"], o
    # lists: the audit log newest first, charts with axes and every day, orders searched/sorted/exported
    assert "/signoff" in report["audit_first"], report["audit_first"]
    assert (
        "未解决差异" in report["recon_chart"] and "对账批次" in report["recon_chart"] and "0" in report["recon_chart"]
    )
    assert report["scans_chart"]["bars"] == 30 and "扫码次数" in report["scans_chart"]["ticks"], report["scans_chart"]
    # readable on the phone: labels of ~12 px (a drawing shrunk to the screen had 7 px ones), none cut off
    assert min(report["scans_chart"]["heights"]) >= 11 and not report["scans_chart"]["outside"], report["scans_chart"]
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
    # the disputed order ruled from the arbiter's list: refunded in full (what remained), one signature
    assert disputed in report["disputes_zh"] and "¥5.00" in report["disputes_zh"], report["disputes_zh"]
    assert "个争议订单等待裁决" in report["arbiter_attention_after"], report["arbiter_attention_after"]
    assert "退给买家¥5.00" in report["oruling_figures"].replace(" ", ""), report["oruling_figures"]
    assert report["oruling_status"].startswith(f"已裁决订单 {disputed}"), report["oruling_status"]
    assert [c for c in report["oruling_calls"] if "rule" in c], report["oruling_calls"]
    o = httpx.get(f"{url}/v1/orders/{disputed}", headers=platform, timeout=60).json()
    assert o["status"] != "disputed" and o["refunded_fen"] == 500, o
    # the carrier's delivery event was picked from the list: a receiving event, not the shipping one
    assert any("收货" in x for x in report["deliver_options"]), report["deliver_options"]
    # "choose", "record the hand-over here" and the one receiving event
    assert len(report["deliver_options"]) == 3 and "现在在本页记录" in report["deliver_options"][1], report
    # codes: short by default, the trade-off said; the earlier issue's CSV and PDF again, the same code
    assert report["codes_default"] == "short" and "长码" in report["codes_tradeoff"], report["codes_tradeoff"]
    assert report["codes_status"].startswith("已发放并上链：2（0x"), report["codes_status"]
    newest, earlier = report["issues_rows"]
    assert "短码" in newest and "长码" in earlier and "已上链" in earlier, report["issues_rows"]
    assert earlier_serial in report["issue_csv"] and report["issue_pdf_head"] == "%PDF-", report["issue_csv"][:200]
    # counterfeit reports: newest first, Beijing time, for the merchant (zh) and the auditor (en)
    assert "the seal peels off" in report["reports_zh"][0] and "防伪标签" in report["reports_zh"][1], report[
        "reports_zh"
    ]
    assert "（北京时间）" in report["reports_zh"][0] and f"{gtin} / R-1 / " in report["reports_zh"][0]
    assert "疑似假冒举报" in report["merchant_attention"], report["merchant_attention"]
    assert "(Beijing)" in report["reports_en"][0] and "the seal peels off" in report["reports_en"][0], report[
        "reports_en"
    ]
    # the regulator: the reports on its landing; merchant_b's batch R-2 recalled with the inspector's own key
    assert "疑似假冒举报" in report["inspector_attention"] and report["inspector_reports"] == 2, report
    recall = report["inspector_recall"]
    assert recall["status"].startswith("完成") and f"召回批次 {gtin} / R-2" in recall["summary"], recall
    said = report["merchant_attention_recall"]  # the merchant told first thing, with the reason
    assert f"批次 {gtin} / R-2 已被检验机构召回" in said and "抽检不合格" in said, said
    listed = {b["lot"]: b for b in httpx.get(f"{url}/v1/batches", params={"gtin": gtin}, headers=m, timeout=60).json()}
    assert (listed["R-2"]["recalled_by"], listed["R-2"]["recall_reason"]) == (
        members["inspector"].address,
        "抽检不合格",
    )
    batch = httpx.get(f"{url}/v1/batches/{gtin}/R-2", headers=m, timeout=60).json()
    assert dep.contract("Provenance").functions.batch(bytes.fromhex(batch["batch_id"][2:])).call()[3] is True
    # the scan page: the merchant by its registered name, no ASCII punctuation beside Chinese
    assert "杭州西湖茶业有限公司" in report["scan_merchant"] and "91350100M000100Y43" in report["scan_merchant"]
    assert report["scan_punctuation"] == [], report["scan_punctuation"]
    assert all("北京时间" in t and not re.search(r"\d\d:\d\d:\d\d|\.\d{3}", t) for t in report["scan_times"]), report
    # the lists' API: another merchant sees none of merchant_b's issues or reports; only a carrier
    # asks for delivery events; an arbiter lists disputed orders and no other order of others
    other = headers(members["merchant_a"])
    assert all(i["gtin"] != gtin for i in httpx.get(url + "/v1/code-issues", headers=other, timeout=60).json())
    assert all(x["gtin"] != gtin for x in httpx.get(url + "/v1/scan/reports", headers=other, timeout=60).json())
    assert httpx.get(url + "/v1/deliveries/waiting", headers=m, timeout=60).status_code == 403
    seen = httpx.get(url + "/v1/orders?limit=1000", headers=headers(members["arbiter"]), timeout=60).json()
    assert all(o["status"] == "disputed" for o in seen), [(o["order_id"], o["status"]) for o in seen]
    assert "DD-2026-0002" in {o["order_id"] for o in httpx.get(url + "/v1/orders?limit=1000", headers=m).json()}


def _beijing_now() -> str:
    return datetime.now(timezone(timedelta(hours=8))).replace(microsecond=0).isoformat()
