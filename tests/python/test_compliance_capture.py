"""The trace-record profile at every capture door: `/v1/epcis/capture`, the EPCIS 2.0 binding's
`POST /epcis/capture` and `POST /epcis/events` flag each stored event (read back from
`/v1/compliance/events/{hash}`), and `X-Ledger-Profile: strict` / `?profile=strict` refuses an
incomplete document with a 422 naming the elements, nothing stored."""

from __future__ import annotations

from urllib.parse import unquote

import pytest

from .helpers import login, make_client
from .test_compliance import CTX, SHOP, SUPPLIER, TENCENT, VALID, _doc, _made, _scene, _shipped

STRICT = {"X-Ledger-Profile": "strict"}
RECEIVER = {"receiver_name", "receiver_credit_code", "receiver_address", "receiver_contact"}


@pytest.fixture
def c(deployment, chain_node, tmp_path):
    return make_client(deployment, chain_node, tmp_path)


def _bare(gtin: str, lot: str) -> dict:
    """A shipment with no transaction reference and no receiver: valid EPCIS, an incomplete record."""
    e = _shipped(gtin, lot)
    del e["bizTransactionList"], e["destinationList"]
    return e


def _flags(c, h, hash_id: str):
    return c.get(f"/v1/compliance/events/{hash_id.split(';')[1].split('?')[0]}", headers=h)


def _events_of(c, h, gtin: str, lot: str) -> int:
    r = c.get("/v1/epcis/events", params={"gtin": gtin, "lot": lot}, headers=h)
    assert r.status_code == 200, r.text
    return len(r.json()["epcisBody"]["queryResults"]["resultsBody"]["eventList"])


def test_v1_capture_flags_every_event_and_strict_refuses_naming_elements(c, members):
    h, gtin = _scene(c, members)
    for strict in (STRICT, {}):
        params = {} if strict else {"profile": "strict"}
        r = c.post("/v1/epcis/capture", json=_doc(_made(gtin, "R"), _bare(gtin, "R")), headers=h | strict,
                   params=params)  # fmt: skip
        assert r.status_code == 422 and r.json()["error"] == "incomplete_record", r.text
        named = {p["element"] for p in r.json()["detail"]}
        assert named == {"transaction_ref"} | RECEIVER, named
        assert {p["path"] for p in r.json()["detail"]} == {"$.epcisBody.eventList[1]"}
        assert _events_of(c, h, gtin, "R") == 0  # nothing stored, not even the complete event
    r = c.post("/v1/epcis/capture", json=_doc(_made(gtin, "R")), headers=h | {"X-Ledger-Profile": "lax"})
    assert r.status_code == 400 and "flag or strict" in r.text
    assert c.post("/v1/epcis/capture", json=_doc(_made(gtin, "R")), headers=h | STRICT).status_code == 201

    r = c.post("/v1/epcis/capture", json=_doc(_bare(gtin, "R"), _shipped(gtin, "R")), headers=h)
    assert r.status_code == 201, r.text
    answer = r.json()["completeness"]
    assert [f["complete"] for f in answer] == [False, True], answer
    assert set(answer[0]["missing"]) == {"transaction_ref"} | RECEIVER
    kept = _flags(c, h, answer[0]["hashId"])
    assert kept.status_code == 200 and kept.json()["missing"] == answer[0]["missing"], kept.text
    assert not kept.json()["complete"] and kept.json()["profile"] == "cn-trace-1"
    assert _flags(c, h, answer[1]["hashId"]).json()["complete"] is True
    # an event repeated within a document is stored and flagged once
    twice = _shipped(gtin, "R", "ORD-9")
    r = c.post("/v1/epcis/capture", json=_doc(twice, _bare(gtin, "R"), twice), headers=h)
    assert r.status_code == 201 and [f["complete"] for f in r.json()["completeness"]] == [True, False], r.text
    # another merchant learns nothing of the event; the auditor reads it
    assert _flags(c, login(c, members["merchant_b"]), answer[0]["hashId"]).status_code == 404
    assert _flags(c, login(c, members["auditor"]), answer[0]["hashId"]).status_code == 200


def test_binding_capture_jobs_and_single_events_are_flagged_or_refused(c, members):
    h, gtin = _scene(c, members)
    r = c.post("/epcis/capture", json=_doc(_made(gtin, "A"), _bare(gtin, "A")), headers=h | STRICT)
    # the binding answers every validation failure as its 400 ValidationException, each element named
    assert r.status_code == 400 and r.json()["title"] == "incomplete record", r.text
    assert r.json()["type"] == "epcisException:ValidationException"
    for element in {"transaction_ref"} | RECEIVER:
        assert f"$.epcisBody.eventList[1]: {element}: missing" in r.json()["detail"]
    assert _events_of(c, h, gtin, "A") == 0
    assert c.get("/epcis/capture", headers=h).json() == []  # not even a job
    r = c.post("/epcis/events", json={"@context": CTX} | _bare(gtin, "A"), headers=h | STRICT)
    assert r.status_code == 400 and "$.epcisBody.eventList[0]: transaction_ref: missing" in r.json()["detail"]
    assert _events_of(c, h, gtin, "A") == 0

    r = c.post("/epcis/capture", json=_doc(_made(gtin, "A"), _bare(gtin, "A")), headers=h)
    assert r.status_code == 202, r.text
    job = c.get(f"/epcis/capture/{r.headers['Location'].rsplit('/', 1)[1]}", headers=h).json()
    made, bare = job["eventIDs"]
    assert _flags(c, h, made).json()["complete"] is True
    got = _flags(c, h, bare).json()
    assert not got["complete"] and set(got["missing"]) == {"transaction_ref"} | RECEIVER

    r = c.post("/epcis/events", json={"@context": CTX} | _bare(gtin, "B"), headers=h)
    assert r.status_code == 201, r.text
    got = _flags(c, h, unquote(r.headers["Location"].rsplit("/", 1)[1])).json()  # the event's hash ID
    assert not got["complete"] and "transaction_ref" in got["missing"], got


def test_the_scan_shows_source_and_destination_parties_by_name(c, members):
    """GB/T 38156 §5 parties on the consumer's scan: registered name and credit code (never address
    or contact), an unregistered party by its URN."""
    h, gtin = _scene(c, members)  # SUPPLIER and SHOP registered
    issue = c.post(f"/v1/batches/{gtin}/A/codes", json={"count": 2}, headers=h)
    assert issue.status_code in (200, 201), issue.text
    stranger = "urn:epc:id:pgln:0614141.00099"
    to_stranger = _shipped(gtin, "A", "ORD-2", destinationList=[{"type": "possessing_party", "destination": stranger}])
    to_stranger["eventTime"] = "2026-11-04T08:00:00+08:00"
    r = c.post("/v1/epcis/capture", json=_doc(_shipped(gtin, "A"), to_stranger), headers=h)
    assert r.status_code == 201, r.text
    path = issue.json()["sample"][0].split("://", 1)[1].split("/", 1)[1]
    chain = c.get("/" + path, headers={"Accept": "application/json"}).json()["supply_chain"]
    assert [e["source"] for e in chain] == [{"urn": SUPPLIER, "name": "福州示范食品有限公司", "credit_code": VALID}] * 2
    assert chain[0]["destination"] == {"urn": SHOP, "name": "深圳门店", "credit_code": TENCENT}
    assert chain[1]["destination"] == {"urn": stranger, "name": None, "credit_code": None}
    page = c.get("/" + path + "&lang=zh", headers={"Accept": "text/html"}).text
    named = '</small>：<span translate="no">{}</span><small>（统一社会信用代码 {}）'  # Chinese punctuation
    assert "供方" + named.format("福州示范食品有限公司", VALID) in page, page
    assert "收方" + named.format("深圳门店", TENCENT) in page
    assert f"收方</small>：<code>{stranger}</code>" in page and "0591-12345678" not in page
    page = c.get("/" + path + "&lang=en", headers={"Accept": "text/html"}).text
    assert f'to</small>: <span translate="no">深圳门店</span><small> (unified social credit code {TENCENT})' in page
