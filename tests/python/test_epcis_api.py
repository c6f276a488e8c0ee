"""EPCIS capture, query and anchoring through the API, on a real node and database."""

from __future__ import annotations

import copy
import gc
import json
import random
from datetime import UTC
from pathlib import Path

import pytest
from sqlalchemy import func, select

from ledger.store.models import EpcisEpc, EpcisEvent
from ledger.trace.epcis import reading
from ledger.trace.epcis.hashid import document_hash_ids
from ledger.trace.epcis.samples import CONTEXT, document
from ledger.trace.epcis.schema import problems

from .helpers import authorise, login, make_client, new_gtin

EXAMPLES = sorted((Path(__file__).parents[1] / "fixtures" / "epcis").glob("Example_*.jsonld"))


@pytest.fixture
def api(deployment, chain_node, tmp_path, members):
    c = make_client(deployment, chain_node, tmp_path, anchor_interval_s=0)
    heads = {who: login(c, members[who]) for who in ("producer", "logistics", "merchant_a", "merchant_b", "auditor")}
    return c, heads


def counts(c) -> tuple[int, int]:
    with c.app.state.services.sessions() as db:
        return db.scalar(select(func.count()).select_from(EpcisEvent)), db.scalar(
            select(func.count()).select_from(EpcisEpc)
        )


def test_gs1_examples_are_captured_unchanged_once(api):
    c, h = api
    for path in EXAMPLES:
        doc = json.loads(path.read_text())
        r = c.post(
            "/v1/epcis/capture",
            content=path.read_bytes(),
            headers=h["producer"] | {"Content-Type": "application/ld+json"},
        )
        n = len(doc["epcisBody"]["eventList"])
        assert r.status_code == 201, r.text
        body = r.json()
        assert body["stored"] == n and [e["hashId"] for e in body["events"]] == document_hash_ids(doc)
        again = c.post("/v1/epcis/capture", json=doc, headers=h["logistics"])
        assert again.status_code == 200 and again.json()["duplicates"] == n and again.json()["stored"] == 0
    # each stored event comes back as it came (vendor extensions included), with its hash as eventID
    # and this repository's recordTime (EPCIS 2.0 7.4.1)
    q = c.get(
        "/v1/epcis/events",
        params={"epc": "urn:epc:id:sgtin:0614141.107346.2018", "eventType": "ObjectEvent"},
        headers=h["auditor"],
    )
    assert q.status_code == 200 and q.headers["content-type"].startswith("application/ld+json")
    events = q.json()["epcisBody"]["queryResults"]["resultsBody"]["eventList"]
    original = json.loads(EXAMPLES[0].read_text())["epcisBody"]["eventList"]
    for got, sent, hid in zip(events, original, document_hash_ids(json.loads(EXAMPLES[0].read_text())), strict=True):
        assert got == sent | {"eventID": sent.get("eventID", hid), "recordTime": got["recordTime"]}
        assert got["recordTime"] > "2026"
    assert events[1]["example:myField"] == "Example of a vendor/user extension"
    # GS1's examples carry eventIDs from a draft of the hash algorithm; dedup uses our CBV 2.0 hash
    assert events[1]["eventID"] != document_hash_ids(json.loads(EXAMPLES[0].read_text()))[1]
    assert problems(q.json()) == []  # the answer is itself valid EPCIS


def test_an_invalid_document_is_refused_whole(api):
    c, h = api
    doc = document(random.Random(7), 3)
    doc["epcisBody"]["eventList"][2]["eventTime"] = "soon"
    del doc["epcisBody"]["eventList"][1]["eventTimeZoneOffset"]
    before = counts(c)
    r = c.post("/v1/epcis/capture", json=doc, headers=h["producer"])
    assert r.status_code == 422 and r.json()["error"] == "invalid_epcis"
    paths = {p["path"] for p in r.json()["detail"]}
    assert paths == {"$.epcisBody.eventList[2].eventTime", "$.epcisBody.eventList[1].eventTimeZoneOffset"}
    assert counts(c) == before  # the two valid events were not stored either


def test_both_capture_doors_parse_documents_with_the_collector_paused(api, monkeypatch):
    c, h = api
    parsed = []
    real = reading.parse
    monkeypatch.setattr(reading, "parse", lambda raw: parsed.append(len(raw)) or real(raw))
    docs = [json.dumps(document(random.Random(seed), 2)).encode() for seed in (71, 72)]
    head = h["producer"] | {"Content-Type": "application/ld+json"}
    assert c.post("/v1/epcis/capture", content=docs[0], headers=head).status_code == 201
    assert c.post("/epcis/capture", content=docs[1], headers=head).status_code == 202
    assert parsed == [len(docs[0]), len(docs[1])]
    bad = c.post("/v1/epcis/capture", content=b'{"epcisBody": ', headers=head)
    assert bad.status_code == 422 and gc.isenabled()  # not JSON: refused as before, the collector running


def test_only_recording_members_capture(api, members):
    c, h = api
    doc = document(random.Random(8))
    assert c.post("/v1/epcis/capture", json=doc).status_code == 401
    r = c.post("/v1/epcis/capture", json=doc, headers=h["auditor"])
    assert r.status_code == 403 and "producer" in r.json()["detail"]
    assert counts(c) == (0, 0)


def test_too_large_a_document_is_refused(deployment, chain_node, tmp_path, members):
    c = make_client(deployment, chain_node, tmp_path, anchor_interval_s=0, epcis_max_events=2)
    r = c.post("/v1/epcis/capture", json=document(random.Random(9), 3), headers=login(c, members["producer"]))
    assert r.status_code == 413 and "at most 2" in r.json()["detail"]


def test_events_are_anchored_and_each_proves_itself_on_chain(api, deployment):
    c, h = api
    dep, _ = deployment
    docs = [document(random.Random(100 + i), 3) for i in range(5)]
    hashes = []
    for d in docs:
        r = c.post("/v1/epcis/capture", json=d, headers=h["logistics"])
        assert r.status_code == 201
        hashes += [e["hashId"] for e in r.json()["events"]]
    pending = c.get(f"/v1/epcis/proofs/{hashes[0].split(';')[1][:64]}").json()
    assert pending["status"] == "pending"
    anchors = c.post("/v1/epcis/anchor", headers=h["logistics"]).json()["anchors"]
    assert sum(a["leafCount"] for a in anchors) == len(set(hashes)) == 15
    assert c.post("/v1/epcis/anchor", headers=h["logistics"]).json()["anchors"] == []
    prov = dep.contract("Provenance")
    for hid in hashes:
        p = c.get(f"/v1/epcis/proofs/{hid.split(';')[1][:64]}").json()
        assert p["status"] == "anchored" and p["hashId"] == hid
        assert p["eventHash"] == "0x" + hid.split(";")[1][:64]
        assert prov.functions.verifyEvent(p["root"], p["eventHash"], p["path"]).call()
        receipt = dep.w3.eth.get_transaction_receipt(p["tx"])
        assert receipt["blockNumber"] == p["block"]
    # a proof for another event does not pass
    p0 = c.get(f"/v1/epcis/proofs/{hashes[0].split(';')[1][:64]}").json()
    p1 = c.get(f"/v1/epcis/proofs/{hashes[1].split(';')[1][:64]}").json()
    assert not prov.functions.verifyEvent(p0["root"], p1["eventHash"], p0["path"]).call()


def test_anchoring_by_count_and_by_age(deployment, chain_node, tmp_path, members):
    from datetime import datetime, timedelta

    c = make_client(deployment, chain_node, tmp_path, anchor_interval_s=0, anchor_max_events=4, anchor_max_age_s=60)
    h = login(c, members["producer"])
    anchorer = c.app.state.services.anchorer
    c.post("/v1/epcis/capture", json=document(random.Random(1), 3), headers=h)
    assert anchorer.anchor_once() is None  # 3 < 4 and young
    c.post("/v1/epcis/capture", json=document(random.Random(2), 2), headers=h)
    first = anchorer.anchor_once()
    assert first is not None and first.leaf_count == 4
    assert anchorer.anchor_once() is None  # one left, young
    later = datetime.now(UTC) + timedelta(seconds=61)
    last = anchorer.anchor_once(now=later)
    assert last is not None and last.leaf_count == 1
    assert anchorer.pending() == 0


def test_a_root_anchored_before_a_crash_is_adopted_not_anchored_twice(api, deployment, members):
    c, h = api
    dep, _ = deployment
    svc = c.app.state.services
    c.post("/v1/epcis/capture", json=document(random.Random(3), 2), headers=h["producer"])
    # the anchor transaction was mined, then the process died before the database learned of it
    with svc.sessions() as db:
        digests = db.scalars(select(EpcisEvent.digest).order_by(EpcisEvent.id)).all()
    from ledger.trace.merkle import MerkleTree

    root = MerkleTree([bytes.fromhex(d[2:]) for d in digests]).root
    platform = members["platform"]
    dep.sender(platform).transact(dep.contract("Provenance").functions.anchor(root, 2, "epcis:events/1-2"))
    anchor = svc.anchorer.anchor_once(force=True)
    assert anchor.root == "0x" + root.hex() and anchor.leaf_count == 2
    assert svc.anchorer.pending() == 0


def test_queries(api, members):
    c, h = api
    gtin = new_gtin()
    assert c.post("/v1/products", json={"gtin": gtin, "name": "Tea"}, headers=h["merchant_a"]).status_code == 201
    _authorise_recorders(c, h["merchant_a"], gtin)

    def ev(step, when, epc):
        return {
            "type": "ObjectEvent",
            "eventTime": when,
            "eventTimeZoneOffset": "+08:00",
            "epcList": [epc],
            "action": "OBSERVE",
            "bizStep": step,
        }

    item = f"https://id.gs1.org/01/{gtin}/21/S1"
    doc = {
        "@context": CONTEXT,
        "type": "EPCISDocument",
        "schemaVersion": "2.0",
        "creationDate": "2026-11-24T00:00:00Z",
        "epcisBody": {
            "eventList": [
                ev("commissioning", "2026-11-01T08:00:00+08:00", item),
                ev("shipping", "2026-11-02T08:00:00+08:00", item),
                ev("receiving", "2026-11-03T08:00:00+08:00", f"https://shop.example.com/01/{gtin}/10/L9/21/S2"),
                ev("shipping", "2026-11-04T08:00:00+08:00", "urn:epc:id:sgtin:0614141.107346.2017"),
            ]
        },
    }
    doc["epcisBody"]["eventList"][2]["quantityList"] = [
        {"epcClass": f"https://id.gs1.org/01/{gtin}/10/L9", "quantity": 5}
    ]
    assert c.post("/v1/epcis/capture", json=doc, headers=h["producer"]).status_code == 201

    def q(who="auditor", **params):
        r = c.get("/v1/epcis/events", params=params, headers=h[who])
        assert r.status_code == 200, r.text
        return [e["bizStep"] for e in r.json()["epcisBody"]["queryResults"]["resultsBody"]["eventList"]]

    assert q(epc=item) == ["commissioning", "shipping"]
    assert q(epc=f"https://example.org/gtin/{gtin}/ser/S1?x=1") == ["commissioning", "shipping"]
    assert q(gtin=gtin, lot="L9") == ["receiving"]
    assert q(bizStep="shipping") == ["shipping", "shipping"]
    assert q(bizStep="https://ref.gs1.org/cbv/BizStep-shipping", gtin=gtin) == ["shipping"]
    assert q(GE_eventTime="2026-11-02T00:00:00Z", LT_eventTime="2026-11-03T00:00:00Z") == ["shipping"]
    assert q(merchant=members["merchant_a"].address) == ["commissioning", "shipping", "receiving"]
    # members see what they recorded and what concerns their products; nothing else
    assert q("merchant_a") == ["commissioning", "shipping", "receiving"]
    assert q("merchant_b") == []
    assert q("producer") == ["commissioning", "shipping", "receiving", "shipping"]
    # pages
    r = c.get("/v1/epcis/events", params={"perPage": 3}, headers=h["auditor"])
    assert len(r.json()["epcisBody"]["queryResults"]["resultsBody"]["eventList"]) == 3
    token = r.headers["GS1-Next-Page-Token"]
    r2 = c.get("/v1/epcis/events", params={"perPage": 3, "nextPageToken": token}, headers=h["auditor"])
    assert len(r2.json()["epcisBody"]["queryResults"]["resultsBody"]["eventList"]) == 1
    assert "GS1-Next-Page-Token" not in r2.headers
    # bad input: a precise 422
    bad = c.get("/v1/epcis/events", params={"gtin": gtin[:-1] + str((int(gtin[-1]) + 1) % 10)}, headers=h["auditor"])
    assert bad.status_code == 422 and f"expected {gtin[-1]}" in bad.json()["detail"][0]["reason"]
    assert c.get("/v1/epcis/events", params={"GE_eventTime": "2026-11-02"}, headers=h["auditor"]).status_code == 422
    assert c.get("/v1/epcis/events").status_code == 401


def test_one_event_with_its_proof_for_those_who_may_see_it(api):
    c, h = api
    doc = copy.deepcopy(json.loads(EXAMPLES[2].read_text()))
    hid = c.post("/v1/epcis/capture", json=doc, headers=h["producer"]).json()["events"][0]["hashId"]
    digest = hid.split(";")[1][:64]
    r = c.get(f"/v1/epcis/events/{digest}", headers=h["producer"])
    assert r.status_code == 200 and r.json()["proof"]["status"] == "pending"
    assert r.json()["event"]["example:myField"] == doc["epcisBody"]["eventList"][0]["example:myField"]
    assert c.get(f"/v1/epcis/events/{digest}", headers=h["merchant_b"]).status_code == 404
    assert c.get(f"/v1/epcis/events/{'0' * 64}", headers=h["auditor"]).status_code == 404
    assert c.get("/v1/epcis/events/xyz", headers=h["auditor"]).status_code == 422


@pytest.fixture
def pg_client(deployment, chain_node, tmp_path, pg_url):
    """The API on PostgreSQL (its own schema), anchoring only when asked."""
    return make_client(deployment, chain_node, tmp_path, database_url=pg_url, anchor_interval_s=0)


def test_capture_anchor_and_query_on_postgresql(pg_client, members):
    c = pg_client
    h = login(c, members["producer"])
    doc = json.loads(EXAMPLES[3].read_text())
    r = c.post("/v1/epcis/capture", json=doc, headers=h)
    assert r.status_code == 201 and r.json()["stored"] == 1
    assert c.post("/v1/epcis/capture", json=doc, headers=h).json()["duplicates"] == 1
    hid = r.json()["events"][0]["hashId"]
    assert c.post("/v1/epcis/anchor", headers=h).json()["anchors"][0]["leafCount"] == 1
    proof = c.get(f"/v1/epcis/proofs/{hid.split(';')[1][:64]}").json()
    assert proof["status"] == "anchored" and proof["path"] == []  # a root of one leaf is the leaf
    q = c.get("/v1/epcis/events", params={"epc": "urn:epc:id:sgtin:0614141.107346.2017"}, headers=h)
    assert [e["type"] for e in q.json()["epcisBody"]["queryResults"]["resultsBody"]["eventList"]] == [
        "AggregationEvent"
    ]
    # a lone event of a registered batch goes into the batch's hash chain
    batch_id = _batch_with_a_pending_event(c, members, h)
    [entry] = c.post("/v1/epcis/anchor", headers=h).json()["anchors"]
    assert entry["method"] == "batchChain" and entry["batchId"] == batch_id and entry["index"] == 0


def test_events_verify_against_the_chain_alone(api, deployment):
    from ledger.trace.epcis.verify import verify_events

    c, h = api
    dep, _ = deployment
    doc = document(random.Random(77), 4)
    assert c.post("/v1/epcis/capture", json=doc, headers=h["producer"]).status_code == 201

    def fetch(digest):
        r = c.get(f"/v1/epcis/proofs/{digest}")
        return r.json() if r.status_code == 200 else {"status": "unknown to the service"}

    assert [ch.ok for ch in verify_events(doc, dep, fetch)] == [False] * 4  # pending: not yet provable
    c.post("/v1/epcis/anchor", headers=h["producer"])
    checks = verify_events(doc, dep, fetch)
    assert [ch.ok for ch in checks] == [True] * 4, checks
    # an event changed after the fact has no proof; a proof lifted from another event does not pass
    tampered = copy.deepcopy(doc)
    tampered["epcisBody"]["eventList"][0]["eventTime"] = "2020-01-01T00:00:00Z"
    assert not verify_events(tampered, dep, fetch)[0].ok

    def lying(digest):
        p = fetch(digest)
        other = fetch(next(d for d in _digests(doc) if d != digest))
        return p | {"path": other["path"]} if other["path"] != p["path"] else p | {"path": [p["root"]]}

    assert not verify_events(doc, dep, lying)[0].ok


def _digests(doc):
    return [h.split(";")[1][:64] for h in document_hash_ids(doc)]


def test_anchor_command_anchors_what_is_pending(deployment, chain_node, tmp_path, members, monkeypatch, capsys):
    from ledger.cli.main import main

    _, manifest = deployment
    c = make_client(deployment, chain_node, tmp_path, anchor_interval_s=0)
    c.post("/v1/epcis/capture", json=document(random.Random(5), 3), headers=login(c, members["inspector"]))
    monkeypatch.setenv("LEDGER_RPC_URL", chain_node.url)
    monkeypatch.setenv("LEDGER_MANIFEST", str(manifest))
    monkeypatch.setenv("LEDGER_DATABASE_URL", c.app.state.services.settings.database_url)
    main(["anchor"])
    assert "anchored 3 events in root 0x" in capsys.readouterr().out
    assert c.app.state.services.anchorer.pending() == 0


def _batch_event(gtin: str, lot: str, step: str) -> dict:
    return {
        "@context": ["https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld"],
        "type": "ObjectEvent",
        "eventTime": "2026-11-03T09:00:00+08:00",
        "eventTimeZoneOffset": "+08:00",
        "action": "OBSERVE",
        "bizStep": step,
        "quantityList": [{"epcClass": f"https://id.gs1.org/01/{gtin}/10/{lot}", "quantity": 3}],
    }


def _register_batch(c, merchant: dict, lot: str) -> tuple[str, str]:
    """A new product of the merchant and its batch `lot`, on chain and here: (gtin, batch id)."""
    gtin = new_gtin()
    assert c.post("/v1/products", json={"gtin": gtin, "name": "Green tea"}, headers=merchant).status_code == 201
    _authorise_recorders(c, merchant, gtin)
    return gtin, c.post("/v1/batches", json={"gtin": gtin, "lot": lot}, headers=merchant).json()["batch_id"]


def _authorise_recorders(c, merchant: dict, gtin: str) -> None:
    """The merchant authorises the development producer, carrier and inspector for its product."""
    m = c.app.state.services.chain.deployment().manifest["members"]
    authorise(c, merchant, gtin, *(m[label]["address"] for label in ("producer", "logistics", "inspector")))


def _batch_with_a_pending_event(c, members, recorder: dict) -> str:
    """merchant_a's new batch with one event about it captured by `recorder`; its batch id."""
    gtin, batch_id = _register_batch(c, login(c, members["merchant_a"]), "B-1")
    assert c.post("/v1/epcis/capture", json=_batch_event(gtin, "B-1", "packing"), headers=recorder).status_code == 201
    return batch_id


@pytest.fixture
def lone_batch(api):
    """merchant_a's product and batch, registered on chain and here."""
    c, h = api
    gtin, batch_id = _register_batch(c, h["merchant_a"], "LJ-1")
    return gtin, "LJ-1", batch_id


def test_a_lone_event_goes_into_its_batch_hash_chain_signed_by_its_recorder(api, deployment, members, lone_batch):
    from eth_utils import keccak

    from ledger.trace.epcis.verify import verify_events

    c, h = api
    dep, _ = deployment
    prov = dep.contract("Provenance")
    gtin, lot, batch_id = lone_batch
    batch = bytes.fromhex(batch_id[2:])
    heads = [prov.functions.batch(batch).call()[2]]
    for i, (who, step) in enumerate((("producer", "inspecting"), ("logistics", "shipping"))):
        doc = _batch_event(gtin, lot, step)
        assert c.post("/v1/epcis/capture", json=doc, headers=h[who]).status_code == 201
        [entry] = c.post("/v1/epcis/anchor", headers=h["merchant_a"]).json()["anchors"]
        assert entry["method"] == "batchChain" and entry["batchId"] == batch_id and entry["index"] == i
        digest = bytes.fromhex(_digests(doc)[0])
        # on chain: the batch's head moved by exactly this event; the log names its recorder
        _, count, head, _ = prov.functions.batch(batch).call()
        assert count == i + 1 and head == keccak(heads[-1] + digest) and entry["head"] == "0x" + head.hex()
        heads.append(head)
        proof = c.get(f"/v1/epcis/proofs/{digest.hex()}").json()
        assert proof["method"] == "batchChain" and proof["recorder"] == members[who].address
        assert proof["index"] == i and proof["tx"] == entry["tx"]

        def fetch(d):
            return c.get(f"/v1/epcis/proofs/{d}").json()

        checks = verify_events(doc, dep, fetch)
        assert [ch.ok for ch in checks] == [True], checks
        assert f"entry {i} of batch" in checks[0].detail and members[who].address in checks[0].detail
        # a service lying about the entry, the recorder or the block is caught by the chain
        for lie in ({"index": i + 1}, {"recorder": members["merchant_b"].address}, {"block": proof["block"] - 1}):
            assert not verify_events(doc, dep, lambda d, lie=lie: fetch(d) | lie)[0].ok, lie
    # the consumer-facing timeline names the entry
    with c.app.state.services.sessions() as db:
        from ledger.trace.scan_facts import epcis_rows as _epcis_rows

        rows = _epcis_rows(db, select(EpcisEvent.id))
    assert [(r["anchor"]["method"], r["anchor"]["index"]) for r in rows] == [("batch_chain", 0), ("batch_chain", 1)]


def test_events_that_cannot_go_into_a_batch_chain_go_into_a_root(api, deployment, lone_batch):
    c, h = api
    dep, _ = deployment
    gtin, lot, batch_id = lone_batch
    # merchant_b may not record about merchant_a's batch at all: refused at capture, nothing pending
    r = c.post("/v1/epcis/capture", json=_batch_event(gtin, lot, "receiving"), headers=h["merchant_b"])
    assert r.status_code == 403 and r.json()["error"] == "not_authorised_recorder"
    assert c.post("/v1/epcis/anchor", headers=h["merchant_b"]).json()["anchors"] == []
    # an event naming no registered batch
    assert (
        c.post("/v1/epcis/capture", json=_batch_event(new_gtin(), "X", "receiving"), headers=h["producer"]).status_code
        == 201
    )
    [a] = c.post("/v1/epcis/anchor", headers=h["producer"]).json()["anchors"]
    assert a["method"] == "merkle"
    # more pending than the policy records one by one
    for step in ("packing", "loading"):
        assert c.post("/v1/epcis/capture", json=_batch_event(gtin, lot, step), headers=h["producer"]).status_code == 201
    [a] = c.post("/v1/epcis/anchor", headers=h["producer"]).json()["anchors"]
    assert a["method"] == "merkle" and a["leafCount"] == 2
    assert dep.contract("Provenance").functions.batch(bytes.fromhex(batch_id[2:])).call()[1] == 0


def test_a_chain_entry_mined_before_a_crash_is_adopted_not_recorded_twice(api, deployment, members, lone_batch):
    c, h = api
    dep, _ = deployment
    prov = dep.contract("Provenance")
    gtin, lot, batch_id = lone_batch
    doc = _batch_event(gtin, lot, "inspecting")
    assert c.post("/v1/epcis/capture", json=doc, headers=h["producer"]).status_code == 201
    # the entry was mined, then the process died before the database learned of it
    digest = bytes.fromhex(_digests(doc)[0])
    dep.sender(members["producer"]).transact(prov.functions.recordEvent(bytes.fromhex(batch_id[2:]), digest))
    [entry] = c.post("/v1/epcis/anchor", headers=h["producer"]).json()["anchors"]
    assert entry["method"] == "batchChain" and entry["index"] == 0
    assert prov.functions.batch(bytes.fromhex(batch_id[2:])).call()[1] == 1  # not recorded twice


def test_a_query_keeps_each_extension_in_its_own_namespace(api):
    """Two systems both call their namespace `ex`; a third calls the first one's `acme`. One answer
    holds all their events, each still expanding to what it was captured with (same hash IDs)."""
    c, h = api
    base = CONTEXT[0]

    def doc(ctx: dict, step: str, value: str) -> dict:
        event = {
            "type": "ObjectEvent",
            "eventTime": "2026-11-05T08:00:00+08:00",
            "eventTimeZoneOffset": "+08:00",
            "epcList": ["urn:epc:id:sgtin:0614141.107346.3001"],
            "action": "OBSERVE",
            "bizStep": step,
            f"{next(iter(ctx))}:grade": value,
        }
        return {"@context": [base, ctx], "type": "EPCISDocument", "schemaVersion": "2.0"} | {
            "creationDate": "2026-11-05T00:00:00Z",
            "epcisBody": {"eventList": [event]},
        }

    docs = [
        doc({"ex": "https://a.example/epcis/"}, "packing", "ex:premium"),
        doc({"ex": "https://b.example/ns/"}, "loading", "ex:standard"),
        doc({"acme": "https://a.example/epcis/"}, "receiving", "acme:first"),
    ]
    ids = []
    for d in docs:
        r = c.post("/v1/epcis/capture", json=d, headers=h["producer"])
        assert r.status_code == 201, r.text
        ids += [e["hashId"] for e in r.json()["events"]]
    answer = c.get("/v1/epcis/events", params={"epc": "urn:epc:id:sgtin:0614141.107346.3001"}, headers=h["auditor"])
    answer = answer.json()
    assert answer["@context"][1] == {
        "ex": "https://a.example/epcis/",
        "ex_2": "https://b.example/ns/",
        "acme": "https://a.example/epcis/",
    }
    events = answer["epcisBody"]["queryResults"]["resultsBody"]["eventList"]
    assert [(e["bizStep"], {k: v for k, v in e.items() if k.endswith(":grade")}) for e in events] == [
        ("packing", {"ex:grade": "ex:premium"}),
        ("loading", {"ex_2:grade": "ex_2:standard"}),
        ("receiving", {"acme:grade": "acme:first"}),
    ]
    answer_without_ids = copy.deepcopy(answer)
    for e in answer_without_ids["epcisBody"]["queryResults"]["resultsBody"]["eventList"]:
        e.pop("eventID")  # the hash IDs the service filled in; recompute them
    assert document_hash_ids(answer_without_ids) == ids


def test_a_lone_event_waits_for_its_age_like_any_other(deployment, chain_node, tmp_path, members):
    from datetime import datetime, timedelta

    c = make_client(deployment, chain_node, tmp_path, anchor_interval_s=0, anchor_max_age_s=60)
    _batch_with_a_pending_event(c, members, login(c, members["producer"]))
    anchorer = c.app.state.services.anchorer
    assert anchorer.anchor_once() is None  # young
    entry = anchorer.anchor_once(now=datetime.now(UTC) + timedelta(seconds=61))
    assert entry.kind == "chain" and entry.chain_index == 0 and entry.submitter == members["producer"].address
    assert anchorer.pending() == 0


def test_processes_take_turns_to_anchor(api, deployment, lone_batch):
    """While another process of the deployment anchors (holds the anchoring lock), this one waits
    and then finds the work done or still to do, never half done by both."""
    import threading

    from ledger.store.locks import Locks

    c, h = api
    dep, _ = deployment
    gtin, lot, batch_id = lone_batch
    anchorer = c.app.state.services.anchorer
    assert (
        c.post("/v1/epcis/capture", json=_batch_event(gtin, lot, "packing"), headers=h["producer"]).status_code == 201
    )
    services = c.app.state.services
    with Locks(services.engine, services.locks.lock_dir).exclusive("anchoring"):  # another worker anchors
        done = threading.Event()
        t = threading.Thread(target=lambda: (anchorer.drain(), done.set()))
        t.start()
        assert not done.wait(1.0) and anchorer.pending() == 1  # waits its turn
    t.join(30)
    assert done.is_set() and anchorer.pending() == 0
    assert dep.contract("Provenance").functions.batch(bytes.fromhex(batch_id[2:])).call()[1] == 1


def test_anchorers_sharing_postgresql_take_turns(pg_client, members, pg_url, tmp_path):
    """API processes on other machines share only the database: there an advisory lock decides."""
    import threading

    from sqlalchemy import create_engine

    from ledger.store.locks import Locks

    c = pg_client
    _batch_with_a_pending_event(c, members, login(c, members["producer"]))
    anchorer = c.app.state.services.anchorer
    other = Locks(create_engine(pg_url), tmp_path / "elsewhere")  # another machine: no file in common
    with other.exclusive("anchoring"):  # another machine's anchorer is at work
        done = threading.Event()
        t = threading.Thread(target=lambda: (anchorer.drain(), done.set()))
        t.start()
        assert not done.wait(1.0) and anchorer.pending() == 1
    t.join(30)
    other.close()
    assert done.is_set() and anchorer.pending() == 0


def test_anchoring_with_the_chain_down_is_503_and_leaves_events_pending(api, deployment, members, tmp_path):
    from fastapi.testclient import TestClient

    from api.app import create_app
    from api.core.settings import Settings

    c, h = api
    _batch_with_a_pending_event(c, members, h["producer"])
    assert c.post("/v1/epcis/capture", json=document(random.Random(5), 3), headers=h["producer"]).status_code == 201
    settings = c.app.state.services.settings
    down = TestClient(create_app(Settings(**(vars(settings) | {"rpc_url": "http://127.0.0.1:9"}))))
    r = down.post("/v1/epcis/anchor", headers=h["producer"])
    assert r.status_code == 503 and r.json()["error"] == "NodeUnavailable", r.text
    assert c.app.state.services.anchorer.pending() == 4  # nothing half done
    assert [a["method"] for a in c.post("/v1/epcis/anchor", headers=h["producer"]).json()["anchors"]] == ["merkle"]


def test_a_recorder_anchors_on_demand_no_sooner_than_batching_and_prepares_no_platform_anchor(
    deployment, chain_node, tmp_path, members
):
    """The platform pays for roots: a recorder's call with X-Ledger-Sign: self prepares none (409,
    nothing kept), and its calls make at most one root per LEDGER_ANCHOR_MANUAL_EVERY (429 with
    Retry-After after that); an operator anchors when it likes."""
    from ledger.store.models import PreparedTransaction

    c = make_client(deployment, chain_node, tmp_path, anchor_interval_s=0, anchor_manual_every_s=60)
    h = {who: login(c, members[who]) for who in ("producer", "platform")}
    prov = deployment[0].contract("Provenance")
    start = deployment[0].w3.eth.block_number

    def capture(seed: int) -> None:
        assert c.post("/v1/epcis/capture", json=document(random.Random(seed), 2), headers=h["producer"]).is_success

    def roots() -> int:
        return sum(e["blockNumber"] > start for e in prov.events.RootAnchored().get_logs(from_block=start))

    capture(7001)
    r = c.post("/v1/epcis/anchor", headers=h["producer"] | {"X-Ledger-Sign": "self"})
    assert r.status_code == 409 and r.json()["error"] == "not_self_signed", r.text
    with c.app.state.services.sessions() as db:
        assert db.scalar(select(func.count()).select_from(PreparedTransaction)) == 0
    assert roots() == 0
    assert len(c.post("/v1/epcis/anchor", headers=h["producer"]).json()["anchors"]) == 1
    for i in range(5):
        capture(7002 + i)
        r = c.post("/v1/epcis/anchor", headers=h["producer"])
        assert r.status_code == 429 and 0 < int(r.headers["Retry-After"]) <= 60, r.text
    assert roots() == 1 and c.get("/v1/epcis/status", headers=h["producer"]).json()["pending"] == 10
    assert len(c.post("/v1/epcis/anchor", headers=h["platform"]).json()["anchors"]) == 1
    assert roots() == 2
