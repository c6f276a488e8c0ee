"""GS1 company prefixes (an outside finding, docs/money.md): any merchant could register another
brand's GTIN first and issue codes for it that scan as genuine. Governance assigns a prefix to its
licensee; a GTIN under it is then the holder's to register, and to take back from a merchant that
registered it first, whose codes then scan as no longer genuine."""

from __future__ import annotations

import json

from ledger.chain.client import connect
from ledger.chain.deploy import deploy
from ledger.chain.indexer import Indexer
from ledger.trace.gs1 import check_digit

from .helpers import login, make_client
from .test_compliance_recall import _govern
from .test_resolver import scan

PREFIX = "0950601"


def _gtin(item: str) -> str:
    body = "0" + PREFIX + item
    return body + str(check_digit(body))


def test_a_prefix_holder_takes_its_gtin_back_and_the_squatter_s_codes_stop_scanning_genuine(
    anvil_factory, tmp_path, accounts
):
    node = anvil_factory()
    path = tmp_path / "deployment.json"
    dep, _ = deploy(connect(node.url), path)
    c = make_client((dep, path), node, tmp_path, scan_cache_s=0)
    members = {label: accounts[m["account_index"]] for label, m in dep.manifest["members"].items()}
    brand, squatter = login(c, members["merchant_a"]), login(c, members["merchant_b"])
    governors = [login(c, a) for a in accounts[:2]]
    taken = _gtin("00017")
    assert c.post("/v1/products", json={"gtin": taken, "name": "fake tea"}, headers=squatter).status_code == 201
    assert c.post("/v1/batches", json={"gtin": taken, "lot": "F-1"}, headers=squatter).status_code == 201
    issued = c.post(f"/v1/batches/{taken}/F-1/codes", json={"count": 1}, headers=squatter).json()
    assert scan(c, issued["sample"][0]).json()["verdict"] == "genuine"  # what a shopper saw until now
    direct = _gtin("00031")  # taken back below on chain directly, not through this API
    assert c.post("/v1/products", json={"gtin": direct, "name": "fake tea 3"}, headers=squatter).status_code == 201
    assert c.post("/v1/batches", json={"gtin": direct, "lot": "F-3"}, headers=squatter).status_code == 201
    direct_code = c.post(f"/v1/batches/{direct}/F-3/codes", json={"count": 1}, headers=squatter).json()["sample"][0]

    for bad in ("95060", "0950601x", 950601):  # refused naming the field, nothing proposed
        action = {"type": "assign_prefix", "prefix": bad, "holder": members["merchant_a"].address}
        r = c.post("/v1/governance/proposals", json={"action": action, "reason": "x"}, headers=governors[0])
        assert r.status_code == 422 and r.json()["detail"][0]["field"] == "body.action.prefix", r.text
    action = {"type": "assign_prefix", "prefix": PREFIX, "holder": members["merchant_a"].address}
    _govern(c, governors, action, "GS1 China licence 0950601 to the brand")

    other = _gtin("00024")
    r = c.post("/v1/products", json={"gtin": other, "name": "fake tea 2"}, headers=squatter)
    assert r.status_code == 403 and r.json()["error"] == "PrefixHeldByOther", r.text
    assert c.get(f"/v1/products/{other}", headers=squatter).status_code == 404  # nothing half-written
    assert c.post("/v1/products", json={"gtin": other, "name": "Anji tea"}, headers=brand).status_code == 201

    r = c.post(f"/v1/products/{taken}/reclaim", headers=squatter)
    assert r.status_code == 409, r.text  # its own (for now)
    assert c.post(f"/v1/products/{_gtin('99999')}/reclaim", headers=brand).status_code == 404
    r = c.post(f"/v1/products/{other}/reclaim", headers=squatter)  # the brand's, under the brand's prefix
    assert r.status_code == 403 and r.json()["error"] == "PrefixHeldByOther", r.text
    r = c.post(f"/v1/products/{taken}/reclaim", headers=brand)
    assert r.status_code == 200 and r.json()["merchant"] == members["merchant_a"].address, r.text
    assert dep.contract("Provenance").functions.productOwner(int(taken)).call() == members["merchant_a"].address
    assert c.get(f"/v1/products/{taken}", headers=squatter).status_code == 404  # the brand's now
    assert [b["lot"] for b in c.get("/v1/batches", headers=brand).json() if b["gtin"] == taken] == ["F-1"]
    assert scan(c, issued["sample"][0]).json()["verdict"] != "genuine"  # anchored by one not the owner

    # taken back with the brand's own key on chain, not through the API: once the indexer has read the
    # event, the squatter's codes stop scanning genuine all the same
    assert scan(c, direct_code).json()["verdict"] == "genuine"
    prov = dep.contract("Provenance")
    dep.sender(members["merchant_a"]).transact(prov.functions.reclaimProduct(int(direct)))
    Indexer(dep, c.app.state.services.engine, confirmations=0).run()
    answer = scan(c, direct_code).json()
    assert answer["verdict"] == "forged" and "not_the_owner" in json.dumps(answer), answer
