"""Who may record about a product is decided by its merchant, on chain: a competitor's events about
a merchant's batch are refused at capture, and an event whose recorder the merchant does not (or no
longer does) authorise never shows on the product's scan page."""

from __future__ import annotations

from ledger.chain.indexer import Indexer
from ledger.trace.epcis import capture as captures
from ledger.trace.epcis.verify import verify_events

from .helpers import authorise, login, make_client, new_gtin
from .test_resolver import epcis_event, scan


def _about_batch(step: str, gtin: str, lot: str) -> dict:
    e = epcis_event(step, "2026-11-01T09:00:00+08:00", "OBSERVE")
    e["quantityList"] = [{"epcClass": f"https://id.gs1.org/01/{gtin}/10/{lot}", "quantity": 5}]
    return e


def test_recorders_are_the_merchants_to_choose(deployment, chain_node, tmp_path, members):
    dep, _ = deployment
    c = make_client(deployment, chain_node, tmp_path, scan_cache_s=0)
    a, b = login(c, members["merchant_a"]), login(c, members["merchant_b"])
    producer = login(c, members["producer"])
    gtin = new_gtin()
    assert c.post("/v1/products", json={"gtin": gtin, "name": "Anji white tea"}, headers=a).status_code == 201
    assert c.post("/v1/batches", json={"gtin": gtin, "lot": "R-1"}, headers=a).status_code == 201
    issue = c.post(f"/v1/batches/{gtin}/R-1/codes", json={"count": 2}, headers=a).json()

    # a competitor (or any member not authorised) puts nothing on the merchant's batch
    for who in (b, producer):
        r = c.post("/v1/epcis/capture", json=_about_batch("commissioning", gtin, "R-1"), headers=who)
        assert r.status_code == 403 and r.json()["error"] == "not_authorised_recorder", r.text
        assert gtin in r.json()["detail"]
    assert c.put(f"/v1/products/{gtin}/recorders/{members['producer'].address}", headers=b).status_code == 404
    r = c.put(f"/v1/products/{gtin}/recorders/{members['auditor'].address}", headers=a)
    assert r.status_code == 422 and r.json()["error"] == "NotARecorder"

    authorise(c, a, gtin, members["producer"])
    listed = c.get(f"/v1/products/{gtin}/recorders", headers=a).json()
    assert listed["recorders"] == [members["producer"].address]
    ok = c.post("/v1/epcis/capture", json=_about_batch("commissioning", gtin, "R-1"), headers=producer)
    assert ok.status_code == 201, ok.text
    # an event stored without the check (as before it existed) by the competitor
    svc = c.app.state.services
    with svc.sessions() as db:
        doc = _about_batch("shipping", gtin, "R-1")
        captures.capture(db, doc, [doc], members["merchant_b"].address)
    c.post("/v1/epcis/anchor", headers=a)
    # an auditor checking the competitor's event against the chain alone finds it unauthorised
    checks = verify_events(doc, dep, lambda digest: c.get(f"/v1/epcis/proofs/{digest}").json())
    assert [ch.ok for ch in checks] == [False] and "has not authorised" in checks[0].detail
    Indexer(dep, svc.engine, confirmations=0).run()
    page = scan(c, issue["sample"][0]).json()
    recorders = {e["recorder"] for e in page["supply_chain"]}
    assert recorders == {members["producer"].address}, page["supply_chain"]

    # the merchant stops authorising the producer: its events leave the page
    r = c.delete(f"/v1/products/{gtin}/recorders/{members['producer'].address}", headers=a)
    assert r.status_code == 200 and r.json()["recorders"] == []
    Indexer(dep, svc.engine, confirmations=0).run()
    assert scan(c, issue["sample"][0]).json()["supply_chain"] == []
    r = c.post("/v1/epcis/capture", json=_about_batch("inspecting", gtin, "R-1"), headers=producer)
    assert r.status_code == 403
    # the merchant itself always records about its own product, even after "removing" itself as a
    # recorder (the chain lets it: `mayRecord`); its events stay on the scan page
    me = members["merchant_a"].address
    assert c.delete(f"/v1/products/{gtin}/recorders/{me}", headers=a).status_code == 200
    assert c.post("/v1/epcis/capture", json=_about_batch("inspecting", gtin, "R-1"), headers=a).status_code == 201
    Indexer(dep, svc.engine, confirmations=0).run()
    assert {e["recorder"] for e in scan(c, issue["sample"][0]).json()["supply_chain"]} == {me}
