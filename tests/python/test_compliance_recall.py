"""The record's signature and its recall. The recording member's EIP-191 signature over an event's
hash ID, checked, kept and shown verified in the batch's report. A recall drafted from a forward
trace, executed through governance: the draft lists the council's
proposals (the council admitted as an inspector first, since Provenance lets inspectors recall, then
one `recall_batch` per affected batch); two of three governors approve each and the chain holds
every batch recalled, by the Governance contract, with the reason."""

from __future__ import annotations

import pytest
from eth_account import Account
from eth_account.messages import encode_defunct

from ledger.chain.client import connect
from ledger.chain.deploy import deploy

from .helpers import login, make_client
from .test_compliance import _cls, _doc, _made, _scene, _shipped


@pytest.fixture
def c(deployment, chain_node, tmp_path):
    return make_client(deployment, chain_node, tmp_path)


def _govern(c, governors, action: dict, reason: str) -> dict:
    g1, g2 = governors
    r = c.post("/v1/governance/proposals", json={"action": action, "reason": reason}, headers=g1)
    assert r.status_code == 201, r.text
    assert r.json()["action"] == action  # read back from the chain as proposed
    r = c.post(f"/v1/governance/proposals/{r.json()['id']}/approvals", headers=g2)
    assert r.status_code == 200 and r.json()["status"] == "executed", r.text
    return r.json()


def test_a_recall_draft_is_executed_by_the_council(anvil_factory, tmp_path, accounts):
    node = anvil_factory()
    path = tmp_path / "deployment.json"
    dep, _ = deploy(connect(node.url), path)
    c = make_client((dep, path), node, tmp_path, anchor_interval_s=0)
    members = {label: accounts[m["account_index"]] for label, m in dep.manifest["members"].items()}
    h, gtin = _scene(c, members)
    into_a = _made(gtin, "A") | {"type": "TransformationEvent", "inputQuantityList": _cls(gtin, "R"),
                                 "outputQuantityList": _cls(gtin, "A")}  # fmt: skip
    del into_a["quantityList"], into_a["action"]
    assert c.post("/v1/epcis/capture", json=_doc(_made(gtin, "R"), into_a), headers=h).status_code == 201
    ask = {"gtin": gtin, "lot": "R", "reason": "aflatoxin B1 over limit"}
    draft = c.post("/v1/compliance/recalls/draft", json=ask, headers=h).json()
    council = dep.contract("Governance").address
    ids = {b["lot"]: b["batch_id"] for b in draft["batches"]}
    assert draft["governance_actions"] == [
        {"type": "admit_member", "address": council, "roles": ["inspector"]},
        {"type": "recall_batch", "batch_id": ids["A"], "reason": "aflatoxin B1 over limit"},
        {"type": "recall_batch", "batch_id": ids["R"], "reason": "aflatoxin B1 over limit"},
    ]
    governors = [login(c, a) for a in accounts[:2]]
    # a malformed recall is refused naming the field, nothing proposed
    bad = {"type": "recall_batch", "batch_id": "0x12", "reason": "x"}
    r = c.post("/v1/governance/proposals", json={"action": bad, "reason": "x"}, headers=governors[0])
    assert r.status_code == 422 and r.json()["detail"][0]["field"] == "body.action.batch_id"
    # without the inspector role the council's recall would revert: said before the last approval
    first = c.post("/v1/governance/proposals", json={"action": draft["governance_actions"][1], "reason": "early"},
                   headers=governors[0]).json()  # fmt: skip
    assert first["last_approval"]["ok"] is False and "MissingRole" in first["last_approval"]["error"]
    for action in draft["governance_actions"]:
        _govern(c, governors, action, f"recall {gtin}: aflatoxin")
    prov = dep.contract("Provenance")
    for batch_id in ids.values():
        assert prov.functions.batch(bytes.fromhex(batch_id[2:])).call()[3] is True
    (log,) = [x for x in dep.logs(prov.events.BatchRecalled) if "0x" + x["args"]["batchId"].hex() == ids["A"]]
    assert log["args"]["by"] == council and log["args"]["reason"] == "aflatoxin B1 over limit"
    after = c.post("/v1/compliance/recalls/draft", json=ask, headers=h).json()
    assert all(b["recalled"] for b in after["batches"]) and after["governance_actions"] == after["calls"] == []


def test_the_recorder_signs_its_records_and_the_report_shows_them_verified(c, members):
    h, gtin = _scene(c, members)
    r = c.post("/v1/epcis/capture", json=_doc(_made(gtin, "R"), _shipped(gtin, "R")), headers=h)
    made, shipped = (e["hashId"] for e in r.json()["events"])
    digest = lambda hash_id: hash_id.split(";")[1].split("?")[0]  # noqa: E731
    text = lambda hash_id: f"traceledger: I recorded the EPCIS event {hash_id}"  # noqa: E731

    def sign(who: str, hash_id: str) -> str:
        signed = Account.sign_message(encode_defunct(text=text(hash_id)), members[who].key)
        return "0x" + signed.signature.hex().removeprefix("0x")

    url = f"/v1/compliance/events/{digest(made)}/signature"
    # another key's signature, a signature of another event, a malformed one: 422 saying which, nothing kept
    r = c.put(url, json={"signature": sign("merchant_b", made)}, headers=h)
    assert r.status_code == 422 and f"signed by {members['merchant_b'].address}" in r.text, r.text
    r = c.put(url, json={"signature": sign("merchant_a", shipped)}, headers=h)
    assert r.status_code == 422 and "recorded by" in r.text
    assert c.put(url, json={"signature": "0x1234"}, headers=h).status_code == 422
    assert c.get(f"/v1/compliance/events/{digest(made)}", headers=h).json()["signature"] is None
    # only the recorder signs its record; others do not learn of it
    other = login(c, members["merchant_b"])
    assert c.put(url, json={"signature": sign("merchant_b", made)}, headers=other).status_code == 404
    r = c.put(url, json={"signature": sign("merchant_a", made)}, headers=h)
    assert r.status_code == 200 and r.json()["signer"] == members["merchant_a"].address, r.text
    got = c.get(f"/v1/compliance/events/{digest(made)}", headers=login(c, members["auditor"])).json()
    assert got["signature"]["verified"] is True and got["recorder"] == members["merchant_a"].address

    report = c.get(f"/v1/compliance/batches/{gtin}/R/report", params={"lang": "en"}, headers=h).json()
    assert report["signatures"] == {"signed": 1, "unsigned": [shipped], "not_verified": []}
    assert report["signed_by"][0]["signed"] == 1 and report["signed_by"][0]["events"] == 2
    page = c.get(f"/v1/compliance/batches/{gtin}/R/report", params={"format": "html"}, headers=h).text
    assert "记录者电子签名（已验证）: 1 / 2 条记录" in page
