"""A carrier confirms a delivery on a 390x844 phone in Chinese and in English (`test_console`'s served
stack, Debian chromium): with no delivery event captured yet the page says how one gets there and
records the hand-over itself (an EPCIS event naming the order, captured with the carrier's own
signature, which confirms the delivery); the
API's refusals of a wrong event (another member's, another order's) or a mistyped order are said in
the page's language with what to do (the Chinese page read "出错：输入有误" or "您的角色不能执行此操作"
alone; phone trial); the right event delivers the order. No English on the Chinese page."""

from __future__ import annotations

import json

import httpx

from ledger.trace.epcis.samples import delivery_document

from .test_console import PASSWORD, console, journey, keystore_of  # noqa: F401


def test_a_carrier_delivers_on_a_phone(console, accounts, tmp_path):  # noqa: F811
    url, _, members, headers = console
    platform, carrier = headers(members["platform"]), members["logistics"].address
    mine, other = members["merchant_b"], members["merchant_a"]
    orders = ("ZH-1", "ZH-2", "EN-1", "EN-2", "ZH-3", "EN-3")
    for oid, merchant in (*((o, mine) for o in orders), ("A-1", other)):
        order = {"order_id": oid, "merchant": merchant.address, "amount_fen": 880, "carrier": carrier}
        r = httpx.post(url + "/v1/orders", json=order, headers=platform | {"Idempotency-Key": oid}, timeout=60)
        assert r.status_code == 201, r.text
    keystore = keystore_of(members["logistics"], tmp_path)
    # no delivery event captured yet: the page says how one gets into the list, and records the
    # hand-over itself (its default then), signed with the carrier's key
    record = json.dumps([{"name": "record", "order": "ZH-3"}])
    empty = journey("deliver_journey.mjs", url, keystore, PASSWORD, "zh", record)
    assert "EPCIS 采集接口" in empty["hint"] and "写明订单号" in empty["hint"], empty["hint"]
    assert "现在在本页记录这次交付" in empty["hint"], empty["hint"]
    assert empty["said"]["record"].startswith("已确认送达：ZH-3"), empty["said"]
    assert all(v["scroll_width"] <= 390 and v["english"] == [] for v in empty["screens"].values()), empty["screens"]
    _recorded_by_the_carrier(url, headers(members["logistics"]), "ZH-3", carrier)
    assert empty["described"] == ["找不到（order XX-1 not found）", "与当前状态冲突"], empty["described"]
    # the merchants' receiving events: merchant_a's names no order (listed: merchant_a has an open
    # order of this carrier), merchant_b's each name one order
    digests = {}
    for name, who, doc in (
        ("a", other, delivery_document([], "901")),
        ("ZH-1", mine, delivery_document([("po", "ZH-1")], "902")),
        ("ZH-2", mine, delivery_document([("po", "ZH-2")], "903")),
        ("EN-1", mine, delivery_document([("po", "EN-1")], "904")),
        ("EN-2", mine, delivery_document([("po", "EN-2")], "905")),
    ):
        r = httpx.post(url + "/v1/epcis/capture", json=doc, headers=headers(who), timeout=60)
        assert r.status_code == 201, r.text
        digests[name] = r.json()["events"][0]["hashId"].split(";")[1][:64]
    said = {}
    for lang in ("zh", "en"):
        one, two = f"{lang.upper()}-1", f"{lang.upper()}-2"
        steps = [
            {"name": "recorder", "order": one, "pick": digests["a"]},
            {"name": "other_order", "order": one, "pick": digests[two]},
            {"name": "typo", "order": one, "pick": digests[one], "typed": f"{lang.upper()}-9"},
            {"name": "right", "order": one, "pick": digests[one]},
        ] + ([{"name": "record", "order": "EN-3", "pick": "now"}] if lang == "en" else [])
        report = journey("deliver_journey.mjs", url, keystore, PASSWORD, lang, json.dumps(steps))
        assert report["hint"] is None, report["hint"]  # events listed: no word of how to capture one
        assert report["described"][0] == {"zh": "找不到", "en": "Not found"}[lang] + (
            "（order XX-1 not found）" if lang == "zh" else " (order XX-1 not found)"
        ), report["described"]
        for name, seen in report["screens"].items():
            assert seen["scroll_width"] <= 390 and seen["english"] == [], (name, seen)
        said[lang] = report["said"]
        order = {"zh": "订单", "en": "Order"}[lang]  # the order first: what a phone's closed list shows of it
        assert report["chosen"]["right"].startswith(f"{order} {one} · "), report["chosen"]
    zh, en = said["zh"], said["en"]
    recorder = "不是由您或订单 ZH-1 的商家记录的，不能证明这笔订单已送达：请选择您或该商家记录的事件。"
    assert zh["recorder"] == f"事件 0x{digests['a'][:8]}… {recorder}", zh
    assert zh["other_order"].startswith(f"事件 0x{digests['ZH-2'][:8]}… 记录的是其他订单的送达，不是订单 ZH-1 的"), zh
    assert zh["typo"].startswith("找不到订单 ZH-9：请核对订单号"), zh
    assert zh["right"].startswith("已确认送达：ZH-1"), zh
    assert en["recorder"].startswith(f"Event 0x{digests['a'][:8]}… was recorded neither by you nor by order EN-1's"), en
    assert en["other_order"].startswith(f"Event 0x{digests['EN-2'][:8]}… records the delivery of other orders"), en
    assert en["typo"].startswith("No order EN-9: check the order number"), en
    assert en["right"].startswith("Delivery confirmed: EN-1"), en
    assert en["record"].startswith("Delivery confirmed: EN-3"), en
    _recorded_by_the_carrier(url, headers(members["logistics"]), "EN-3", carrier)
    for oid in ("ZH-1", "EN-1"):
        assert httpx.get(f"{url}/v1/orders/{oid}", headers=platform, timeout=60).json()["status"] == "delivered"


def _recorded_by_the_carrier(url: str, carrier_headers: dict, order_id: str, carrier: str) -> None:
    """The order was delivered with an event the carrier recorded: a receiving step naming the order."""
    o = httpx.get(f"{url}/v1/orders/{order_id}", headers=carrier_headers, timeout=60).json()
    assert o["status"] == "delivered" and o["delivery_event"], o
    digest = o["delivery_event"].split(";")[1][:64]
    got = httpx.get(f"{url}/v1/epcis/events/{digest}", headers=carrier_headers, timeout=60).json()
    event = got["event"]
    assert got["recorder"] == carrier and event["bizStep"].endswith("receiving"), got
    assert [t["bizTransaction"].rsplit("/", 1)[1] for t in event["bizTransactionList"]] == [order_id], event
