"""The auditor's explorer and in-console verification: on-chain records by kind read from the node,
with filters and links to their block and transaction; a code URI and an EPCIS document verified
against the chain as `ledger verify` does, a tampered one failing the check it should; members and
parameters in force as the contracts answer."""

from __future__ import annotations

import copy
import uuid

import pytest

from ledger.chain import explorer

from .helpers import login, make_client, new_gtin


@pytest.fixture
def api(deployment, chain_node, tmp_path, members):
    c = make_client(deployment, chain_node, tmp_path, anchor_interval_s=0)
    return c, {who: login(c, members[who]) for who in ("merchant_a", "auditor", "producer")}


def test_records_by_kind_with_filters_and_links_to_block_and_transaction(api, deployment, members):
    c, h = api
    merchant = members["merchant_a"].address
    r = c.get("/v1/chain/records", params={"kind": "governance", "subject": merchant}, headers=h["auditor"])
    assert r.status_code == 200, r.text
    found = r.json()["records"]
    admitted = [x for x in found if x["event"] == "MemberAdmitted"]
    assert admitted and all(merchant in x["args"].values() for x in found)
    assert all(x["contract"] in ("Governance", "Membership") for x in found)
    tx = c.get(f"/v1/chain/transactions/{admitted[0]['tx']}", headers=h["auditor"]).json()
    assert tx["status"] == "success" and admitted[0] in tx["records"]
    block = c.get(f"/v1/chain/blocks/{admitted[0]['block']}", headers=h["auditor"]).json()
    assert block["hash"] == admitted[0]["block_hash"] and admitted[0]["tx"] in block["transactions"]
    # one event name, newest first, paged further back by `next`, without gaps or repeats
    everything = c.get("/v1/chain/records", params={"event": "MemberAdmitted"}, headers=h["auditor"]).json()
    assert len(everything["records"]) >= 3  # the bootstrap members, at least
    seen, params = [], {"event": "MemberAdmitted", "limit": 2}
    while True:
        page = c.get("/v1/chain/records", params=params, headers=h["auditor"]).json()
        assert all(x["event"] == "MemberAdmitted" for x in page["records"])
        seen += page["records"]
        if page["next"] is None or not page["records"]:
            break
        params = {"event": "MemberAdmitted", "limit": 2} | {k: v for k, v in page["next"].items() if v is not None}
    assert seen == everything["records"]  # admissions share blocks: the cursor keeps the log index
    assert [(x["block"], x["log_index"]) for x in seen] == sorted(
        ((x["block"], x["log_index"]) for x in seen), reverse=True
    )
    # bounded, and for read-all roles only
    wide = {"from_block": 0, "to_block": explorer.MAX_BLOCKS + 5}
    assert c.get("/v1/chain/records", params=wide, headers=h["auditor"]).status_code == 422
    assert c.get("/v1/chain/records", params={"kind": "nope"}, headers=h["auditor"]).status_code == 422
    backwards = {"from_block": 100, "to_block": 50}  # was 200 and nothing (outside probe)
    assert c.get("/v1/chain/records", params=backwards, headers=h["auditor"]).status_code == 422
    # a subject of digits other than ASCII's is a text that matches nothing (`²` was a 500: isdigit() then int())
    for odd in ("\u00b2", "\uff13\uff11\uff13\uff13\uff17"):
        r = c.get("/v1/chain/records", params={"kind": "governance", "subject": odd}, headers=h["auditor"])
        assert r.status_code == 200 and r.json()["records"] == [], r.text
    assert c.get("/v1/chain/records", headers=h["merchant_a"]).status_code == 403
    assert c.get("/v1/chain/records").status_code == 401
    assert c.get(f"/v1/chain/transactions/0x{'ab' * 32}", headers=h["auditor"]).status_code == 404
    assert c.get("/v1/chain/blocks/999999999", headers=h["auditor"]).status_code == 404


def test_a_code_is_verified_against_the_chain_and_a_forged_one_fails(api, members):
    c, h = api
    gtin = new_gtin()
    assert c.post("/v1/products", json={"gtin": gtin, "name": "Tea"}, headers=h["merchant_a"]).status_code == 201
    assert c.post("/v1/batches", json={"gtin": gtin, "lot": "V-1"}, headers=h["merchant_a"]).status_code == 201
    issue = c.post(f"/v1/batches/{gtin}/V-1/codes", json={"count": 4}, headers=h["merchant_a"]).json()
    # the product's records, found by its GTIN as written (leading zero and all)
    mine = c.get("/v1/chain/records", params={"kind": "batches", "subject": gtin}, headers=h["auditor"]).json()
    assert {x["event"] for x in mine["records"]} == {"ProductRegistered", "BatchRegistered"}, mine
    uri = issue["sample"][0]
    r = c.post("/v1/audit/verify/code", json={"uri": uri}, headers=h["auditor"])
    assert r.status_code == 200, r.text
    out = r.json()
    assert out["ok"] is True, out
    names = [x["name"] for x in out["checks"]]
    assert {"root anchored on chain", "signature", "anchored by the product's merchant"} <= set(names)
    # the signature does not cover another serial: that check fails, the rest are still shown
    serial = uri.split("/21/")[1].split("?")[0]
    forged = uri.replace(f"/21/{serial}?", f"/21/{issue['sample'][1].split('/21/')[1].split('?')[0]}?")
    assert forged != uri
    bad = c.post("/v1/audit/verify/code", json={"uri": forged}, headers=h["auditor"]).json()
    assert bad["ok"] is False and any(x["name"] == "signature" and not x["ok"] for x in bad["checks"]), bad
    unknown = c.post("/v1/audit/verify/code", json={"uri": uri.replace("/V-1/", "/V-9/")}, headers=h["auditor"])
    assert unknown.json()["ok"] is False
    # the recall shows as a failed check, read from the chain
    listed = c.get("/v1/batches", params={"gtin": gtin}, headers=h["merchant_a"]).json()
    assert [(b["lot"], b["recalled"]) for b in listed] == [("V-1", False)]
    c.post(f"/v1/batches/{gtin}/V-1/recall", json={"reason": "mould"}, headers=h["merchant_a"])
    listed = c.get("/v1/batches", params={"gtin": gtin}, headers=h["merchant_a"]).json()
    assert [(b["lot"], b["recalled"]) for b in listed] == [("V-1", True)]  # as the chain says
    assert c.get("/v1/batches", params={"gtin": gtin}, headers=login(c, members["merchant_b"])).json() == []
    recalled = c.post("/v1/audit/verify/code", json={"uri": uri}, headers=h["auditor"]).json()
    assert recalled["ok"] is False and any("recall" in x["name"] and not x["ok"] for x in recalled["checks"])
    assert c.post("/v1/audit/verify/code", json={"uri": uri}, headers=h["merchant_a"]).status_code == 403
    assert c.post("/v1/audit/verify/code", json={"uri": 7}, headers=h["auditor"]).status_code == 422


def _document() -> dict:
    return {
        "@context": ["https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld"],
        "type": "EPCISDocument",
        "schemaVersion": "2.0",
        "creationDate": "2026-11-03T09:00:00+08:00",
        "epcisBody": {
            "eventList": [
                {
                    "type": "ObjectEvent",
                    "eventTime": "2026-11-03T09:00:00+08:00",
                    "eventTimeZoneOffset": "+08:00",
                    "epcList": [f"urn:epc:id:sgtin:0614141.107346.{uuid.uuid4().int % 10**12}"],
                    "action": "OBSERVE",
                    "bizStep": "shipping",
                }
            ]
        },
    }


def test_an_epcis_document_is_verified_against_the_chain(api):
    c, h = api
    doc = _document()
    assert c.post("/v1/epcis/capture", json=doc, headers=h["producer"]).status_code == 201
    # each member sees its own anchoring status; auditors see everyone's
    assert c.get("/v1/epcis/status", headers=h["producer"]).json() == {"events": 1, "pending": 1, "anchors": 0}
    assert c.get("/v1/epcis/status", headers=h["merchant_a"]).json() == {"events": 0, "pending": 0, "anchors": 0}
    assert c.get("/v1/epcis/status", headers=h["auditor"]).json()["events"] == 1
    pending = c.post("/v1/audit/verify/events", json=doc, headers=h["auditor"]).json()
    assert pending["ok"] is False and "not anchored yet" in pending["checks"][0]["detail"]
    assert c.post("/v1/epcis/anchor", headers=h["producer"]).status_code == 200
    assert c.get("/v1/epcis/status", headers=h["producer"]).json() == {"events": 1, "pending": 0, "anchors": 1}
    out = c.post("/v1/audit/verify/events", json=doc, headers=h["auditor"]).json()
    assert out["ok"] is True and len(out["checks"]) == 1 and "anchored by" in out["checks"][0]["detail"], out
    changed = copy.deepcopy(doc)
    changed["epcisBody"]["eventList"][0]["bizStep"] = "receiving"  # not what was anchored
    assert c.post("/v1/audit/verify/events", json=changed, headers=h["auditor"]).json()["ok"] is False
    broken = {"type": "EPCISDocument", "epcisBody": {"eventList": [{"type": "ObjectEvent", "eventTime": 5}]}}
    r = c.post("/v1/audit/verify/events", json=broken, headers=h["auditor"])
    assert r.status_code == 422 and any(
        d["field"] == "$.epcisBody.eventList[0].eventTime" for d in r.json()["detail"]
    ), r.text
    assert (
        c.post("/v1/audit/verify/events", json={"epcisBody": {"eventList": []}}, headers=h["auditor"]).status_code
        == 422
    )


def test_members_and_parameters_in_force(api, deployment, members):
    c, h = api
    listed = {m["address"]: m["roles"] for m in c.get("/v1/governance/members", headers=h["merchant_a"]).json()}
    assert "merchant" in listed[members["merchant_a"].address] and "auditor" in listed[members["auditor"].address]
    p = c.get("/v1/governance/parameters", headers=h["merchant_a"]).json()
    s = deployment[0].contract("OrderSettlement")
    assert p["platform_fee_cap_bps"] == s.functions.platformFeeCapBps().call()
    assert p["return_window_s"] == s.functions.returnWindow().call() and len(p["referral_cap_bps"]) == 3
    assert isinstance(p["minimum_deposits_fen"], dict)
