"""A recall drafted from a forward trace, executed through governance: the draft lists the council's
proposals (the council admitted as an inspector first, since Provenance lets inspectors recall, then
one `recall_batch` per affected batch); two of three governors approve each and the chain holds
every batch recalled, by the Governance contract, with the reason."""

from __future__ import annotations

from ledger.chain.client import connect
from ledger.chain.deploy import deploy

from .helpers import login, make_client
from .test_compliance import _cls, _doc, _made, _scene


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
