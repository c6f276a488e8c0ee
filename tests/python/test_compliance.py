"""Compliance through the API: GB 32100 credit codes (both check characters, the pilot allow-list),
trading parties, the trace-record profile, captures checked against it (flagged, or refused when
strict), genealogy trace, the per-batch report (zh/en) with its retention date, a recall draft."""

from __future__ import annotations

import base64
import re
import time
import zlib

import pytest

from .helpers import login, make_client, new_gtin

_ESC = re.compile(rb"\\([0-7]{1,3}|.)", re.S)

VALID = "91350100M000100Y43"  # GB 32100's own example
TENCENT = "91440300708461136T"
PILOT = "91350100M000100Y4X"  # VALID with a wrong final check character
CTX = ["https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld"]
SUPPLIER, SHOP = "urn:epc:id:pgln:0614141.00001", "urn:epc:id:pgln:0614141.00002"


@pytest.fixture
def c(deployment, chain_node, tmp_path):
    return make_client(deployment, chain_node, tmp_path)


def _doc(*events: dict) -> dict:
    return {"@context": CTX, "type": "EPCISDocument", "schemaVersion": "2.0",
            "creationDate": "2026-11-01T00:00:00Z", "epcisBody": {"eventList": list(events)}}  # fmt: skip


def _cls(gtin: str, lot: str, n: int = 10) -> list[dict]:
    return [{"epcClass": f"https://id.gs1.org/01/{gtin}/10/{lot}", "quantity": n, "uom": "KGM"}]


def _made(gtin: str, lot: str, **more) -> dict:
    return {"type": "ObjectEvent", "eventTime": "2026-11-01T08:00:00+08:00", "eventTimeZoneOffset": "+08:00",
            "action": "ADD", "bizStep": "commissioning", "quantityList": _cls(gtin, lot),
            "bizLocation": {"id": "urn:epc:id:sgln:0614141.00001.0"}, "certificationInfo": "urn:cn:samr:qs:2026-0001",
            "ilmd": {"cbvmda:bestBeforeDate": "2027-01-10", "cbvmda:netContent": "500 g"}} | more  # fmt: skip


def _shipped(gtin: str, lot: str, order: str = "ORD-1", **more) -> dict:
    return {"type": "ObjectEvent", "eventTime": "2026-11-03T08:00:00+08:00", "eventTimeZoneOffset": "+08:00",
            "action": "OBSERVE", "bizStep": "shipping", "quantityList": _cls(gtin, lot, 4),
            "bizLocation": {"id": "urn:epc:id:sgln:0614141.00001.0"},
            "bizTransactionList": [{"type": "po", "bizTransaction": f"urn:epcglobal:cbv:bt:0614141000005:{order}"}],
            "sourceList": [{"type": "owning_party", "source": SUPPLIER}],
            "destinationList": [{"type": "owning_party", "destination": SHOP}]} | more  # fmt: skip


def _pdf_text(pdf: bytes) -> bytes:
    """The text a reportlab PDF shows, its literal strings unescaped (UTF-16BE for CJK)."""
    assert pdf.startswith(b"%PDF-")
    streams = re.findall(rb"stream\r?\n(.*?)endstream", pdf, re.S)
    raw = b"".join(zlib.decompress(base64.a85decode(m.strip().removesuffix(b"~>"))) for m in streams)
    unescape = lambda m: bytes([int(m[1], 8)]) if m[1][:1].isdigit() else m[1]  # noqa: E731
    return b"".join(_ESC.sub(unescape, t) for t in re.findall(rb"\((.*?)(?<!\\)\) Tj", raw, re.S))


def _party(c, h, urn, code=VALID, **more):
    body = {"urn": urn, "credit_code": code, "name": "福州示范食品有限公司", "address": "福州市鼓楼区 1 号",
            "contact": "0591-12345678"} | more  # fmt: skip
    return c.put("/v1/compliance/parties", json=body, headers=h)


def test_credit_codes_name_what_failed_and_pilots_are_reported_as_such(c, members, accounts):
    h = login(c, members["merchant_a"])
    for code in (VALID, TENCENT, "91110108551385082q"):
        r = c.get(f"/v1/compliance/credit-codes/{code}", headers=h)
        assert r.status_code == 200 and r.json()["status"] == "valid", r.text
    for code, failed in (
        ("91350100M000100Y4", "length"),
        ("91350100M000100YI3", "characters"),  # I is not among GB 32100's characters
        ("9135AB00M000100Y43", "division"),
        ("911100001000055306", "organisation_check"),  # GB 11714 wants 8, not 0
        (PILOT, "final_check"),
    ):
        r = c.get(f"/v1/compliance/credit-codes/{code}", headers=h)
        assert r.status_code == 422 and r.json()["detail"][0]["failed"] == failed, (code, r.text)
    # the pilot allow-list is the governance's: a merchant may not extend it
    pilot = {"code": PILOT, "note": "Fuzhou pilot 2015"}
    assert c.post("/v1/compliance/pilot-codes", json=pilot, headers=h).status_code == 403
    governor = login(c, accounts[0])
    r = c.post("/v1/compliance/pilot-codes", json={"code": VALID, "note": "x"}, headers=governor)
    assert r.status_code == 422 and "needs no place" in r.text
    r = c.post("/v1/compliance/pilot-codes", json={"code": "911100001000055306", "note": "x"}, headers=governor)
    assert r.status_code == 422 and r.json()["detail"][0]["failed"] == "organisation_check"
    assert c.post("/v1/compliance/pilot-codes", json=pilot, headers=governor).status_code == 201
    r = c.get(f"/v1/compliance/credit-codes/{PILOT}", headers=h)
    assert r.status_code == 200 and r.json()["status"] == "pilot"


def test_parties_are_refused_whole_for_a_bad_code_or_field(c, members):
    h = login(c, members["merchant_a"])
    r = _party(c, h, SUPPLIER, code="911100001000055306")
    assert r.status_code == 422 and r.json()["detail"][0]["field"] == "credit_code"
    assert _party(c, h, SUPPLIER, name="  ").json()["detail"][0]["field"] == "name"
    for field, value in (("name", "福州\u202e司公"), ("address", "1 号\r\n2 号"), ("contact", "0591\u200b")):
        r = _party(c, h, SUPPLIER, **{field: value})
        assert r.status_code == 422 and r.json()["detail"][0]["field"] == field, r.text
        assert "U+" in r.text, r.text
    assert _party(c, h, "not a urn").status_code == 422
    assert c.get("/v1/compliance/parties", params={"urn": SUPPLIER}, headers=h).status_code == 404
    assert _party(c, h, SUPPLIER, member=members["merchant_b"].address).status_code == 403
    r = _party(c, h, SUPPLIER, member=members["merchant_a"].address)
    assert r.status_code == 200 and r.json()["credit_status"] == "valid"
    other = login(c, members["merchant_b"])
    assert _party(c, other, SUPPLIER, code=TENCENT).status_code == 403  # not the registrant's to change
    assert c.get("/v1/compliance/parties", params={"urn": SUPPLIER}, headers=other).json()["credit_code"] == VALID


def test_a_party_under_an_assigned_company_prefix_is_its_holders_to_name(c, members, deployment, accounts):
    """Whoever registered a party's URN first named it, and the name shows on the public scan page of
    any product whose events name the party: another company's URN, registered first, put a member's
    words under that company's name. Under a prefix governance assigned, the holder names it."""
    from .helpers import govern

    dep, _ = deployment
    a, b = login(c, members["merchant_a"]), login(c, members["merchant_b"])
    prefix = f"{693000 + time.time_ns() % 1000}"  # a prefix of this test's own
    urn, link = f"urn:epc:id:pgln:{prefix}.92061", f"https://id.gs1.org/417/{prefix}0000017"
    taken_early = f"urn:epc:id:pgln:{prefix}.00007"
    assert _party(c, b, taken_early, name="假冒工厂").status_code == 200  # before the prefix was assigned
    govern(
        deployment, accounts, dep.contract("Provenance").functions.assignPrefix(prefix, members["merchant_a"].address)
    )
    for name in (urn, link):
        r = _party(c, b, name, name="假冒工厂 Fake Factory")
        assert r.status_code == 403 and members["merchant_a"].address in r.json()["detail"], r.text
        assert _party(c, a, name).status_code == 200
    assert _party(c, b, taken_early, name="still mine?").status_code == 403  # no longer the first registrant's
    assert _party(c, a, taken_early).status_code == 200  # the holder takes it over
    assert (
        c.get("/v1/compliance/parties", params={"urn": taken_early}, headers=b).json()["name"] == "福州示范食品有限公司"
    )
    assert _party(c, b, "urn:epc:id:pgln:0614199.00001").status_code == 200  # no holder: the first registrant's


def test_the_profile_labels_every_element_in_both_languages(c):
    schema = c.get("/v1/compliance/profile").json()
    assert schema["$schema"].endswith("2020-12/schema") and len(schema["properties"]) == 22
    for prop in schema["properties"].values():
        assert prop["title"] and prop["x-title-zh"] and prop["x-epcis"] and prop["x-clause"]
    kinds = schema["x-required-by-kind"]
    assert "certificationInfo" in schema["properties"]["inspection_cert"]["x-epcis"]
    assert (
        "inspection_cert" in kinds["purchase"]["required"] and "supplier_credit_code" in kinds["logistics"]["required"]
    )


def _scene(c, members):
    """merchant_a's product, two parties registered, and a genealogy R -> A -> shipped."""
    h = login(c, members["merchant_a"])
    gtin = new_gtin()
    assert c.post("/v1/products", json={"gtin": gtin, "name": "武夷岩茶"}, headers=h).status_code == 201
    for lot in ("R", "A", "B"):
        assert c.post("/v1/batches", json={"gtin": gtin, "lot": lot}, headers=h).status_code == 201
    assert _party(c, h, SUPPLIER, member=members["merchant_a"].address).status_code == 200
    assert _party(c, h, SHOP, code=TENCENT, name="深圳门店").status_code == 200
    return h, gtin


def test_captures_are_flagged_or_refused_naming_each_element(c, members):
    h, gtin = _scene(c, members)
    bare = _shipped(gtin, "R")
    del bare["bizTransactionList"], bare["destinationList"]
    r = c.post("/v1/compliance/capture?strict=true", json=_doc(bare), headers=h)
    assert r.status_code == 422, r.text
    named = {p["element"] for p in r.json()["detail"]}
    receiver = {"receiver_name", "receiver_credit_code", "receiver_address", "receiver_contact"}
    # the lot's specification is its own master data (ILMD when it is made): not made yet, so missing
    assert named == {"transaction_ref", "product_spec"} | receiver
    assert all(p["zh"] and p["path"] == "$.epcisBody.eventList[0]" for p in r.json()["detail"])
    assert c.get(f"/v1/compliance/batches/{gtin}/R/report", headers=h).status_code == 404  # nothing stored
    # dates out of order: a shelf life ending before production
    late = _made(gtin, "R", ilmd={"cbvmda:bestBeforeDate": "2026-10-01", "cbvmda:netContent": "500 g"})
    r = c.post("/v1/compliance/capture?strict=true", json=_doc(late), headers=h)
    assert r.status_code == 422 and [p["element"] for p in r.json()["detail"]] == ["shelf_life"]
    assert "2026-10-01 is before the eventTime 2026-11-01" in r.json()["detail"][0]["reason"]

    # not strict: accepted as EPCIS, flagged incomplete with the elements named
    r = c.post("/v1/compliance/capture", json=_doc(bare, _made(gtin, "R")), headers=h)
    assert r.status_code == 201, r.text
    flags = r.json()["completeness"]
    assert [f["complete"] for f in flags] == [False, True], flags
    assert "transaction_ref" in flags[0]["missing"]
    report = c.get(f"/v1/compliance/batches/{gtin}/R/report", params={"lang": "en"}, headers=h).json()
    logistics = next(s for s in report["sections"] if s["kind"] == "logistics")
    assert logistics["required"] - logistics["present"] == 5 and not report["complete"]
    assert [s["section"] for s in report["sections"]] == ["GB/T 37029 §6.1", "GB/T 37029 §6.2"]
    production = next(s for s in report["sections"] if s["kind"] == "production")
    assert production["present"] == production["required"] == 12
    assert report["retain_until"] == "2027-07-10" and report["retention_rule"] == "shelf life + 6 months"
    # a batch whose records declare no shelf life is kept 2 years past its last record
    assert c.post("/v1/compliance/capture", json=_doc(_shipped(gtin, "N")), headers=h).status_code == 201
    report = c.get(f"/v1/compliance/batches/{gtin}/N/report", headers=h).json()
    assert report["retain_until"] == "2028-11-03" and report["retention_rule"] == "no shelf life: 2 years"


def test_trace_report_and_recall_draft_follow_the_genealogy(c, members):
    h, gtin = _scene(c, members)
    make = {"type": "TransformationEvent", "eventTime": "2026-11-02T08:00:00+08:00",
            "eventTimeZoneOffset": "+08:00", "bizStep": "commissioning", "inputQuantityList": _cls(gtin, "R"),
            "outputQuantityList": _cls(gtin, "A"), "bizLocation": {"id": "urn:epc:id:sgln:0614141.00001.0"},
            "certificationInfo": "urn:cn:samr:qs:2026-0002", "ilmd": {"cbvmda:bestBeforeDate": "2027-03-01",
                                                          "cbvmda:netContent": "250 g"}}  # fmt: skip
    onward = make | {"inputQuantityList": _cls(gtin, "A"), "outputQuantityList": _cls(gtin, "B")}
    doc = _doc(_made(gtin, "R"), make, onward, _shipped(gtin, "A"))
    r = c.post("/v1/compliance/capture?strict=true", json=doc, headers=h)
    assert r.status_code == 201 and all(f["complete"] for f in r.json()["completeness"]), r.text
    # a transformation back into R closes a cycle: refused, strict or not
    loop = make | {"inputQuantityList": _cls(gtin, "A"), "outputQuantityList": _cls(gtin, "R")}
    r = c.post("/v1/compliance/capture", json=_doc(loop), headers=h)
    assert r.status_code == 422 and "cycle" in r.json()["detail"][0]["reason"]
    # and within one document: X -> Y -> X
    x_to_y = make | {"inputQuantityList": _cls(gtin, "X"), "outputQuantityList": _cls(gtin, "Y")}
    y_to_x = make | {"inputQuantityList": _cls(gtin, "Y"), "outputQuantityList": _cls(gtin, "X")}
    r = c.post("/v1/compliance/capture", json=_doc(x_to_y, y_to_x), headers=h)
    assert r.status_code == 422, r.text
    looped = {p["path"] for p in r.json()["detail"] if "cycle" in p["reason"]}
    assert looped == {"$.epcisBody.eventList[0]", "$.epcisBody.eventList[1]"}
    assert c.get("/v1/compliance/trace", params={"gtin": gtin, "lot": "X"}, headers=h).json()["eventCount"] == 0

    forward = c.get("/v1/compliance/trace", params={"gtin": gtin, "lot": "R"}, headers=h).json()
    assert [b["lot"] for b in forward["batches"]] == ["A", "B", "R"] and forward["eventCount"] == 4
    one = c.get("/v1/compliance/trace", params={"gtin": gtin, "lot": "R", "scope": "one_step"}, headers=h).json()
    assert [b["lot"] for b in one["batches"]] == ["A", "R"]  # one step forward: A, not A's own outputs
    assert forward["shipments"][0]["destination"] == SHOP and SHOP in forward["parties"]
    back = c.get("/v1/compliance/trace", params={"gtin": gtin, "lot": "B", "direction": "backward"}, headers=h).json()
    assert [b["lot"] for b in back["batches"]] == ["A", "B", "R"]
    item = c.get("/v1/compliance/trace", params={"epc": f"urn:epc:class:lgtin:{gtin[1:8]}.{gtin[0]}{gtin[8:13]}.A",
                                                 "direction": "backward", "scope": "one_step"}, headers=h)  # fmt: skip
    assert item.status_code == 200 and {b["lot"] for b in item.json()["batches"]} >= {"A", "R"}, item.text
    auditor, other = login(c, members["auditor"]), login(c, members["merchant_b"])
    assert c.get("/v1/compliance/trace", params={"gtin": gtin, "lot": "R"}, headers=auditor).status_code == 200
    assert c.get("/v1/compliance/trace", params={"gtin": gtin, "lot": "R"}, headers=other).status_code == 404
    assert c.get("/v1/compliance/trace", params={"gtin": "12x", "lot": "R"}, headers=h).status_code == 422

    report = c.get(f"/v1/compliance/batches/{gtin}/R/report", headers=auditor).json()
    assert report["complete"] and report["retain_until"] == "2027-07-10", report
    assert report["signed_by"][0]["credit_code"] == VALID and report["unanchored_events"] == 2
    assert c.post("/v1/epcis/anchor", headers=h).status_code in (200, 201)
    report = c.get(f"/v1/compliance/batches/{gtin}/R/report", headers=auditor).json()
    assert report["unanchored_events"] == 0 and report["anchored"][0]["block"] > 0
    page = c.get(f"/v1/compliance/batches/{gtin}/R/report", params={"format": "html"}, headers=auditor).text
    assert "追溯合规报告" in page and "GB/T 37029 §6.1" in page and "12 项要素，已具备 12" in page
    page = c.get(f"/v1/compliance/batches/{gtin}/R/report", params={"format": "html", "lang": "en"}, headers=h).text
    assert "kept until: 2027-07-10" in page and "福州示范食品有限公司" in page
    assert c.get(f"/v1/compliance/batches/{gtin}/R/report", headers=other).status_code == 404
    pdfs = {}
    for lang in ("zh", "en"):
        r = c.get(f"/v1/compliance/batches/{gtin}/R/report", params={"format": "pdf", "lang": lang}, headers=h)
        assert r.status_code == 200 and r.headers["content-type"] == "application/pdf"
        pdfs[lang] = _pdf_text(r.content)
    assert "追溯合规报告".encode("utf-16-be") in pdfs["zh"] and "保存至: 2027-07-10".encode("utf-16-be") in pdfs["zh"]
    assert b"kept until: 2027-07-10" in pdfs["en"] and b"12 elements required, present: 12" in pdfs["en"]

    draft = c.post("/v1/compliance/recalls/draft", json={"gtin": gtin, "lot": "R", "reason": "aflatoxin"}, headers=h)
    assert draft.status_code == 200, draft.text
    d = draft.json()
    assert [b["lot"] for b in d["batches"]] == ["A", "B", "R"] and d["merchants"] == [members["merchant_a"].address]
    assert len(d["calls"]) == 3 and d["calls"][0]["args"][1] == "aflatoxin" and all(b["batch_id"] for b in d["batches"])
    assert d["shipments"][0]["destination"] == SHOP
