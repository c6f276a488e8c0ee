"""The EPCIS 2.0 REST binding under /epcis/: capture jobs, the SimpleEventQuery, resource trees,
named queries, on a real node and database."""

from __future__ import annotations

import json
import random
from pathlib import Path
from urllib.parse import quote

import pytest

from ledger.trace.epcis.hashid import document_hash_ids
from ledger.trace.epcis.samples import document

from .helpers import login, make_client, new_gtin

FIXTURES = Path(__file__).parents[1] / "fixtures" / "epcis"
EXAMPLES = sorted(FIXTURES.glob("Example_*.jsonld"))


@pytest.fixture
def api(deployment, chain_node, tmp_path, members):
    c = make_client(deployment, chain_node, tmp_path, anchor_interval_s=0)
    heads = {who: login(c, members[who]) for who in ("producer", "logistics", "merchant_a", "auditor")}
    return c, heads


def events_of(r) -> list[dict]:
    assert r.status_code == 200, r.text
    return r.json()["epcisBody"]["queryResults"]["resultsBody"]["eventList"]


def capture(c, h, doc, behaviour: str | None = None):
    headers = h | ({"GS1-Capture-Error-Behaviour": behaviour} if behaviour else {})
    r = c.post("/epcis/capture", json=doc, headers=headers)
    assert r.status_code == 202, r.text
    job = c.get(r.headers["location"], headers=h)
    assert job.status_code == 200
    return job.json()


def test_capture_jobs_and_discovery(api):
    c, h = api
    r = c.options("/epcis/capture")
    assert r.status_code == 204 and "POST" in r.headers["allow"]
    assert r.headers["gs1-epcis-capture-limit"].isdigit() and r.headers["gs1-capture-error-behaviour"] == "rollback"
    assert r.headers["gs1-epcis-version"] == "2.0" and r.headers["gs1-cbv-version"] == "2.0"
    for method, path in (("DELETE", "/epcis/events"), ("PUT", "/epcis/capture"), ("DELETE", "/epcis/queries")):
        r = c.request(method, path, headers=h["producer"])  # a 405 names every method the path serves
        allowed = set(r.headers["allow"].split(", "))
        assert r.status_code == 405 and allowed == set(c.options(path).headers["allow"].split(", ")), path
    doc = json.loads(EXAMPLES[0].read_text())
    job = capture(c, h["producer"], doc)
    assert job["running"] is False and job["success"] is True and job["errors"] == []
    assert job["eventIDs"] == document_hash_ids(doc)
    listed = c.get("/epcis/capture", headers=h["producer"]).json()
    assert job["captureID"] in [j["captureID"] for j in listed]
    # another member does not see the job
    assert c.get(f"/epcis/capture/{job['captureID']}", headers=h["logistics"]).status_code == 404
    # an invalid document under rollback: 400 problem, nothing stored
    bad = document(random.Random(3), 3)
    bad["epcisBody"]["eventList"][1]["eventTime"] = "soon"
    r = c.post("/epcis/capture", json=bad, headers=h["producer"])
    assert r.status_code == 400 and r.headers["content-type"] == "application/problem+json"
    assert r.json()["type"] == "epcisException:ValidationException" and "eventTime" in r.json()["detail"]
    # ... under proceed: the two valid events are stored, the job says which one failed
    job = capture(c, h["producer"], bad, "proceed")
    assert job["success"] is False and len(job["eventIDs"]) == 2
    assert job["errors"][0]["pointer"] == "/epcisBody/eventList/1"
    # no credentials: a 401 problem; a version we do not speak: 406
    assert c.get("/epcis/events").json()["type"] == "epcisException:SecurityException"
    r = c.get("/epcis/events", headers=h["auditor"] | {"GS1-EPCIS-Version": "1.2"})
    assert r.status_code == 406 and r.json()["type"] == "epcisException:NotAcceptableException"


def test_simple_event_query_parameters(api):
    c, h = api
    doc = json.loads(EXAMPLES[0].read_text())
    capture(c, h["producer"], doc)
    for path in EXAMPLES[1:]:
        capture(c, h["producer"], json.loads(path.read_text()))
    get = lambda **p: events_of(c.get("/epcis/events", params=p, headers=h["auditor"]))  # noqa: E731
    shipping = get(EQ_bizStep="shipping")
    assert shipping and all(e["bizStep"] in ("shipping", "urn:epcglobal:cbv:bizstep:shipping") for e in shipping)
    assert get(EQ_bizStep="urn:epcglobal:cbv:bizstep:shipping") == shipping  # URN, short name, one term
    both = get(EQ_bizStep="shipping|receiving")
    assert len(both) > len(shipping)
    assert all(e["type"] == "AggregationEvent" for e in get(eventType="AggregationEvent"))
    hit = get(MATCH_epc="urn:epc:id:sgtin:0614141.107346.2018")
    assert hit and all(
        "urn:epc:id:sgtin:0614141.107346.2018" in e.get("epcList", []) + e.get("childEPCs", []) for e in hit
    )
    item, company = (get(MATCH_epc=f"urn:epc:idpat:sgtin:0614141.{p}") for p in ("107346.*", "*.*"))
    assert item and all(e in company for e in item)  # the company's items also as Digital Links (EPCIS 8.2.7.1.1)
    assert any("https://id.gs1.org/01/70614141123451/21/2018" in e.get("epcList", []) for e in company)
    # extension fields: declared by the client's GS1-Extensions prefix, or as a full IRI
    ext = get(**{"EQ_http://ns.example.com/epcis/myField": "Example of a vendor/user extension"})
    assert ext and all(e["example:myField"] == "Example of a vendor/user extension" for e in ext)
    assert len(ext) < len(get(perPage="1000"))
    r = c.get("/epcis/events", params={"EXISTS_ex:myField": ""},
              headers=h["auditor"] | {"GS1-Extensions": "ex=http://ns.example.com/epcis/"})  # fmt: skip
    assert events_of(r) == ext
    early = get(LT_eventTime="2005-04-04T00:00:00Z")
    assert all(e["eventTime"] < "2005-04-04" for e in early)
    # orderBy with paging: every event once, in descending event time
    seen, url, params = [], "/epcis/events", {"orderBy": "eventTime", "orderDirection": "DESC", "perPage": "2"}
    while url:
        r = c.get(url, params=params, headers=h["auditor"])
        seen += events_of(r)
        link = r.headers.get("link")
        url, params = (link[1 : link.index(">")].split("127.0.0.1:8000", 1)[-1], None) if link else (None, None)
    times = [e["eventTime"] for e in seen]
    assert len(seen) == len({e["eventID"] for e in seen}) == len(get(perPage="1000"))
    from ledger.trace.epcis.binding.event_match import when

    assert [when(t) for t in times] == sorted((when(t) for t in times), reverse=True)
    assert len(get(eventCountLimit="3", orderBy="eventTime", perPage="2")) == 2
    r = c.get("/epcis/events", params={"eventCountLimit": "3"}, headers=h["auditor"])  # no orderBy: refused
    assert r.status_code == 400 and r.json()["type"] == "epcisException:QueryParameterException"
    # errors: an unknown parameter, a bad time, too many results
    r = c.get("/epcis/events", params={"EQ_nonsense": "x"}, headers=h["auditor"])
    assert r.status_code == 400 and r.json()["type"] == "epcisException:QueryParameterException"
    r = c.get("/epcis/events", params={"GE_eventTime": "yesterday"}, headers=h["auditor"])
    assert r.status_code == 400
    assert get(eventType="https://ns.example.com/epcis/SealEvent") == []  # an extension event type: none here
    # a parameter named twice is a QueryParameterException (EPCIS 2.0), not the last one taken
    r = c.get("/epcis/events?EQ_bizStep=shipping&EQ_bizStep=receiving", headers=h["auditor"])
    assert r.status_code == 400 and r.json()["type"] == "epcisException:QueryParameterException"
    r = c.get("/epcis/events", params={"maxEventCount": "1"}, headers=h["auditor"])
    assert r.status_code == 413 and r.json()["type"] == "epcisException:QueryTooLargeException"
    # an event by its ID, and the resource trees
    one = shipping[0]
    r = c.get(f"/epcis/events/{quote(one['eventID'], safe='')}", headers=h["auditor"])
    assert events_of(r) == [one]
    steps = c.get("/epcis/bizSteps", headers=h["auditor"]).json()
    assert steps["type"] == "Collection" and "https://ref.gs1.org/cbv/BizStep-shipping" in steps["member"]
    r = c.get(f"/epcis/bizSteps/{quote('https://ref.gs1.org/cbv/BizStep-shipping', safe='')}/events",
              headers=h["auditor"])  # fmt: skip
    assert events_of(r) == shipping
    epcs = c.get("/epcis/epcs", headers=h["auditor"]).json()
    assert epcs["type"] == "Collection" and "https://id.gs1.org/01/10614141073464/21/2018" in epcs["member"]
    r = c.get(f"/epcis/epcs/{quote('urn:epc:id:sgtin:0614141.107346.2018', safe='')}/events", headers=h["auditor"])
    assert events_of(r) == hit
    types = c.get("/epcis/eventTypes", headers=h["auditor"]).json()
    assert types["type"] == "Collection" and "ObjectEvent" in types["member"] and "@context" in types
    assert c.get("/epcis/", headers=h["auditor"]).json()["member"][:2] == ["events", "eventTypes"]
    assert c.get("/epcis/eventTypes/ObjectEvent", headers=h["auditor"]).json()["member"] == ["events"]
    assert all(e["type"] == "ObjectEvent" for e in events_of(
        c.get("/epcis/eventTypes/ObjectEvent/events", headers=h["auditor"])))  # fmt: skip
    # a member sees only its own events
    assert events_of(c.get("/epcis/events", headers=h["merchant_a"])) == []


def test_named_queries(api):
    c, h = api
    capture(c, h["producer"], json.loads(EXAMPLES[0].read_text()))
    q = {"name": "shipped", "query": {"EQ_bizStep": ["shipping"], "eventType": ["ObjectEvent"]}}
    r = c.post("/epcis/queries", json=q, headers=h["producer"])
    assert r.status_code == 201 and r.headers["location"] == "http://127.0.0.1:8000/epcis/queries/shipped"
    taken = c.post("/epcis/queries", json=q, headers=h["producer"])
    assert taken.status_code == 409 and taken.json()["type"] == "epcisException:ResourceAlreadyExistsException"
    bad = {"name": "bad", "query": {"EQ_whatever": ["x"]}}
    assert c.post("/epcis/queries", json=bad, headers=h["producer"]).status_code == 400
    got = events_of(c.get("/epcis/queries/shipped/events", headers=h["producer"]))
    direct = events_of(c.get("/epcis/events?EQ_bizStep=shipping&eventType=ObjectEvent", headers=h["producer"]))
    assert got == direct and got
    assert c.get("/epcis/queries", headers=h["producer"]).json()[0]["name"] == "shipped"
    assert c.get("/epcis/queries/shipped", headers=h["logistics"]).status_code == 404  # not theirs
    assert c.delete("/epcis/queries/shipped", headers=h["producer"]).status_code == 204
    assert c.get("/epcis/queries/shipped", headers=h["producer"]).status_code == 404


def test_epcs_in_digital_link_form_when_the_client_asks(api):
    """GS1-EPC-Format: Always_GS1_Digital_Link turns the EPC URNs of answers into GS1 Digital Link
    URIs (JSON and XML) without changing any event's hash ID; otherwise events come as captured."""
    c, h = api
    doc = json.loads(EXAMPLES[0].read_text())  # EPC URNs: sgtins, an sgln read point and location
    capture(c, h["producer"], doc)
    urns = [e for e in doc["epcisBody"]["eventList"][0]["epcList"]]
    assert all(u.startswith("urn:epc:id:sgtin:") for u in urns)
    plain = c.get("/epcis/events", params={"MATCH_epc": urns[0]}, headers=h["producer"])
    assert plain.headers["gs1-epc-format"] == "Never_Translates" and events_of(plain)[0]["epcList"] == urns
    ask = h["producer"] | {"GS1-EPC-Format": "Always_GS1_Digital_Link"}
    r = c.get("/epcis/events", params={"MATCH_epc": urns[0]}, headers=ask)
    assert r.headers["gs1-epc-format"] == "Always_GS1_Digital_Link"
    [event] = events_of(r)
    assert all(e.startswith("https://id.gs1.org/01/") and "/21/" in e for e in event["epcList"]), event["epcList"]
    assert event["readPoint"]["id"].startswith("https://id.gs1.org/414/")
    assert event["eventID"] == events_of(plain)[0]["eventID"]

    def computed(answer):  # the CBV 2.0 hash ID of the answer's event, from the answer alone
        return document_hash_ids({"@context": answer.json()["@context"], "epcisBody": {"eventList": events_of(answer)}})

    assert computed(r) == computed(plain) == document_hash_ids(doc)[:1]  # the same event, the same hash ID
    xml = c.get("/epcis/events", params={"MATCH_epc": urns[0]}, headers=ask | {"Accept": "application/xml"})
    assert xml.headers["gs1-epc-format"] == "Always_GS1_Digital_Link" and b"https://id.gs1.org/01/" in xml.content
    # an EPC URN cannot be made from a Digital Link in general (no company prefix length): as captured
    urn = c.get(
        "/epcis/events", params={"MATCH_epc": urns[0]}, headers=h["producer"] | {"GS1-EPC-Format": "Always_EPC_URN"}
    )
    assert urn.headers["gs1-epc-format"] == "Never_Translates" and events_of(urn)[0]["epcList"] == urns


def _observed(gtin: str, serials: range) -> dict:
    events = [
        {"type": "ObjectEvent", "eventTime": "2026-11-03T09:00:00+08:00", "eventTimeZoneOffset": "+08:00",
         "action": "OBSERVE", "epcList": [f"https://id.gs1.org/01/{gtin}/21/{s}"]}
        for s in serials
    ]  # fmt: skip
    context = ["https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld"]
    return {"@context": context, "type": "EPCISDocument", "schemaVersion": "2.0",
            "creationDate": "2026-11-03T09:00:00Z", "epcisBody": {"eventList": events}}  # fmt: skip


def test_proceed_refuses_many_events_as_fast_as_it_stores_them(api):
    """Under `proceed`, 400 events about a product the caller may not record about are each listed
    as refused in no more than 3x the time 400 events of an unregistered product take to be stored,
    both measured here (each refusal used to capture the rest again: quadratic)."""
    import time

    c, h = api
    theirs, free = new_gtin(), new_gtin()  # merchant_a's product, authorising no recorder; nobody's
    r = c.post("/v1/products", json={"gtin": theirs, "name": "Green tea"}, headers=h["merchant_a"])
    assert r.status_code == 201
    took = {}
    for kind, gtin in (("stored", free), ("refused", theirs)):
        doc = _observed(gtin, range(400))
        doc["epcisBody"]["eventList"].append(_observed(free, range(1000, 1001))["epcisBody"]["eventList"][0])
        t = time.perf_counter()
        job = capture(c, h["producer"], doc, "proceed")
        took[kind] = time.perf_counter() - t
        ok = kind == "stored"
        assert job["success"] is ok and len(job["eventIDs"]) == (401 if ok else 1)
        assert len(job["errors"]) == (0 if ok else 400)
    assert {e["status"] for e in job["errors"]} == {403} and theirs in job["errors"][399]["detail"]
    mine = events_of(c.get("/epcis/events", params={"perPage": "1000"}, headers=h["producer"]))
    assert not [e for e in mine if theirs in e["epcList"][0]]
    assert took["refused"] < 3 * took["stored"], took


def _at(places: dict[str, tuple[str, list[str]]], reads: list[str]) -> dict:
    """A document declaring `places` ({location: (its sst attribute, its children)}) with one event
    read at each of `reads`."""
    elements = [{"id": p, "attributes": [{"id": "urn:epcglobal:cbv:mda:sst", "attribute": sst}], "children": kids}
                for p, (sst, kids) in places.items()]  # fmt: skip
    doc = _observed(new_gtin(), range(len(reads)))
    for e, where in zip(doc["epcisBody"]["eventList"], reads, strict=True):
        e["readPoint"] = {"id": where}
    vocab = {"type": "urn:epcglobal:epcis:vtype:ReadPoint", "vocabularyElementList": elements}
    return doc | {"epcisHeader": {"epcisMasterData": {"vocabularyList": [vocab]}}}


def test_master_data_is_its_declarers_own(api):
    """Two members declare one location differently: each keeps its own declaration (the later
    one overwrote the first), and HASATTR_/EQATTR_/WD_ over a member's own events read only its
    own master data (they revealed another member's values and hierarchy); auditors read all."""
    c, h = api
    site, depot, dock, vault = (f"urn:epc:id:sgln:0614141.{n:05d}.0" for n in (1, 2, 3, 4))
    p = capture(c, h["producer"], _at({site: ("201", [depot]), vault: ("999", [])}, [site]))
    x = capture(c, h["logistics"], _at({site: ("202", [dock])}, [site, depot, dock, vault]))
    assert p["success"] and x["success"]

    def ids(who, **params):
        return {e["eventID"] for e in events_of(c.get("/epcis/events", params=params, headers=h[who]))}

    e_p, (e_site, e_depot, e_dock, e_vault) = p["eventIDs"][0], x["eventIDs"]
    # each member's own declaration of `site`, not the other's
    assert ids("producer", EQATTR_readPoint_sst="201") == {e_p}
    assert ids("producer", EQATTR_readPoint_sst="202") == set()
    assert ids("logistics", EQATTR_readPoint_sst="202") == {e_site}
    # the producer's values and hierarchy do not show through the logistics member's own events
    assert ids("logistics", EQATTR_readPoint_sst="201") == set()
    assert ids("logistics", EQATTR_readPoint_sst="999") == ids("logistics", HASATTR_readPoint="sst") - {e_site} == set()
    assert ids("logistics", WD_readPoint=site) == {e_site, e_dock}
    assert ids("producer", WD_readPoint=site) == {e_p}
    # an auditor reads every member's declarations: an element matches if any declaration does
    assert ids("auditor", EQATTR_readPoint_sst="201") == {e_p, e_site}
    assert ids("auditor", EQATTR_readPoint_sst="999") == {e_vault}
    assert ids("auditor", WD_readPoint=site) == {e_p, e_site, e_depot, e_dock}
    # a named query reads its runner's master data too
    r = c.post("/epcis/queries", json={"name": "sst201", "query": {"EQATTR_readPoint_sst": "201"}},
               headers=h["logistics"])  # fmt: skip
    assert r.status_code == 201, r.text
    assert events_of(c.get("/epcis/queries/sst201/events", headers=h["logistics"])) == []


def test_json_nested_thousands_deep_is_a_400_at_every_door(api):
    """4 KB of `[` was a RecursionError, a 500, at the binding's doors (found from outside)."""
    c, h = api
    deep = b"[" * 5000 + b"]" * 5000
    heads = h["producer"] | {"Content-Type": "application/json"}
    for path in ("/epcis/capture", "/epcis/events", "/epcis/queries", "/v1/epcis/capture"):
        r = c.post(path, content=deep, headers=heads)
        assert r.status_code == 400, (path, r.text)
        assert "deep" in r.text or "pars" in r.text, (path, r.text)
    ext = h["auditor"] | {"GS1-Extensions": "[" * 5000 + "]" * 5000}  # a header read as JSON when it is JSON
    assert c.get("/epcis/events", headers=ext).status_code == 200


def test_answers_carry_the_repositorys_record_time_a_query_name_and_order_by_defaults_to_desc(api):
    """EPCIS 2.0 7.4.1: a client's recordTime is ignored at capture and every event retrieved has one;
    GS1's JSON Schema and XSD require queryResults.queryName; orderDirection defaults to DESC."""
    c, h = api
    gtin = new_gtin()
    doc = _observed(gtin, range(2))
    for i, e in enumerate(doc["epcisBody"]["eventList"]):
        e["recordTime"] = "2000-01-01T00:00:00.000Z"
        e["eventTime"] = f"2026-11-2{i}T08:00:00.000Z"
    capture(c, h["producer"], doc)
    epc = doc["epcisBody"]["eventList"][0]["epcList"][0]
    r = c.get("/epcis/events", params={"MATCH_anyEPC": epc}, headers=h["auditor"])
    assert r.json()["epcisBody"]["queryResults"]["queryName"] == "SimpleEventQuery"
    (event,) = events_of(r)
    assert event["recordTime"] > "2026" and event["recordTime"].endswith("Z")
    xml = c.get("/epcis/events", params={"MATCH_anyEPC": epc}, headers=h["auditor"] | {"Accept": "application/xml"})
    assert "<queryName>SimpleEventQuery</queryName>" in xml.text and "<recordTime>2000" not in xml.text
    times = [
        e["eventTime"] for e in events_of(c.get("/epcis/events", params={"orderBy": "eventTime"}, headers=h["auditor"]))
    ]
    assert times == sorted(times, reverse=True)


def test_eq_event_id_is_the_events_own_event_id(api):
    """EQ_eventID: events whose "eventID field is equal to one of the values specified" (EPCIS 2.0
    8.2.7.1). An event that declared its eventID is found by it and not by its hash ID (which its
    answers never show); one that declared none carries, and is found by, its hash ID. (Before,
    both found the first.)"""
    c, h = api
    doc = _observed(new_gtin(), range(2))
    doc["epcisBody"]["eventList"][0]["eventID"] = "urn:uuid:2f1f6bd4-5e2a-4c0e-9d0c-1f0e8b7a6c01"
    declared_hash, plain_hash = capture(c, h["producer"], doc)["eventIDs"]
    get = lambda v: events_of(c.get("/epcis/events", params={"EQ_eventID": v}, headers=h["auditor"]))  # noqa: E731
    assert [e["eventID"] for e in get("urn:uuid:2f1f6bd4-5e2a-4c0e-9d0c-1f0e8b7a6c01")] == [
        "urn:uuid:2f1f6bd4-5e2a-4c0e-9d0c-1f0e8b7a6c01"
    ]
    assert get(declared_hash) == []
    assert [e["eventID"] for e in get(plain_hash)] == [plain_hash]


@pytest.mark.parametrize("number", ["NaN", "Infinity", "-Infinity", "1e999"])
def test_numbers_json_has_not_are_a_400_at_every_door_and_in_every_filter(api, number):
    """Python's decoder reads NaN, Infinity and 1e999; stored, such a quantity made every listing
    that held it a 500 (the auditor's whole `GET /v1/epcis/events`), and `GE_quantity=NaN` was a 500
    on any event with a quantity (found by an outside probe)."""
    c, h = api
    example = FIXTURES / "Example_9.6.2-ObjectEvent.jsonld"
    capture(c, h["producer"], json.loads(example.read_text()))  # an event with a quantity to compare
    doc = json.loads(example.read_text())
    body = json.dumps(doc).replace('"quantity": 200', f'"quantity": {number}', 1)
    assert body != json.dumps(doc)
    heads = h["producer"] | {"Content-Type": "application/ld+json"}
    for path in ("/epcis/capture", "/v1/epcis/capture", "/epcis/events"):
        r = c.post(path, content=body, headers=heads)
        assert r.status_code == 400, (path, r.text)
    if number == "1e999":  # as a filter, a decimal like any other: compared, no error
        assert events_of(c.get("/epcis/events", params={"LT_quantity": number}, headers=h["auditor"]))
        return
    for name in ("GE_quantity", "EQ_quantity", "LT_quantity_KGM"):
        r = c.get("/epcis/events", params={name: number}, headers=h["auditor"])
        assert r.status_code == 400 and r.json()["type"] == "epcisException:QueryParameterException", r.text
    named = {"name": f"odd-{number}", "query": {"GE_quantity": number}}
    assert c.post("/epcis/queries", json=named, headers=h["producer"]).status_code == 400
    assert c.get("/v1/epcis/events", headers=h["auditor"]).status_code == 200


@pytest.mark.parametrize("number", ["INF", "-INF", "NaN", "sNaN", "1E+999999"])
def test_xml_numbers_json_has_not_are_a_400(api, number):
    """xsd:double reads INF and NaN; EPCIS JSON has no such number: `INF` was an OverflowError, a 500."""
    c, h = api
    heads = h["producer"] | {"Content-Type": "application/xml"}
    for name, written in (("AssociationEventExamples.xml", "<quantity>600</quantity>"),
                          ("SensorDataExamples-cases.xml", 'value="26.0"')):  # fmt: skip
        xml = (FIXTURES / "xml" / name).read_text()
        body = xml.replace(written, written.replace("600", number).replace("26.0", number), 1)
        assert body != xml
        r = c.post("/epcis/capture", content=body, headers=heads)
        assert r.status_code == 400 and "not a finite number" in r.text, (name, r.text)


def test_events_ordered_by_an_extension_field_page_by_page(api, monkeypatch):
    """orderBy "the fully qualified name of an extension field whose type is Int, Float, Time, or
    String" (EPCIS 2.0 8.2.7.1), as prefix:name (GS1-Extensions) or as its URI, both directions,
    paged: every event once, numbers in numeric order, events without the field last; eventCountLimit
    cuts the ordered list; a forged position is a 400. It was a 400 QueryParameterException."""
    c, h = api
    grades = [10, 2, 33.5, None, 7, "0004", None, 19]  # "0004" is the number 4 written as a string

    def event(i: int, grade) -> dict:
        e = {"type": "ObjectEvent", "eventTime": f"2026-12-0{1 + i % 7}T10:00:00Z", "eventTimeZoneOffset": "+00:00",
             "epcList": [f"urn:epc:id:sgtin:0614141.107346.ORD{i}"], "action": "OBSERVE"}  # fmt: skip
        return e | ({"ex:grade": grade} if grade is not None else {})

    doc = {"@context": ["https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld",
                        {"ex": "https://ns.example.com/epcis/"}],
           "type": "EPCISDocument", "schemaVersion": "2.0", "creationDate": "2026-12-08T00:00:00Z",
           "epcisBody": {"eventList": [event(i, g) for i, g in enumerate(grades)]}}  # fmt: skip
    assert capture(c, h["producer"], doc)["success"] is True
    ext = {"GS1-Extensions": "ex=https://ns.example.com/epcis/"}

    def walk(params: dict, headers: dict) -> list:
        seen, url = [], "/epcis/events"
        while url:
            r = c.get(url, params=params, headers=h["auditor"] | headers)
            seen += [e.get("ex:grade", e.get("https://ns.example.com/epcis/grade")) for e in events_of(r)]
            link = r.headers.get("link")
            url, params = (link[1 : link.index(">")].split("127.0.0.1:8000", 1)[-1], None) if link else (None, None)
        return seen

    present, ours = sorted((g for g in grades if g is not None), key=float), "urn:epc:idpat:sgtin:0614141.107346.*"
    for by, headers in (("ex:grade", ext), ("https://ns.example.com/epcis/grade", {})):
        asc = walk({"orderBy": by, "orderDirection": "ASC", "perPage": "3", "MATCH_epc": ours}, headers)
        assert asc == present + [None, None], asc
        desc = walk({"orderBy": by, "perPage": "2", "MATCH_epc": ours}, headers)  # DESC by default
        assert desc == present[::-1] + [None, None], desc
    limited = walk({"orderBy": "ex:grade", "orderDirection": "ASC", "eventCountLimit": "4", "perPage": "3",
                    "MATCH_epc": ours}, ext)  # fmt: skip
    assert limited == present[:4], limited
    from ledger.trace.epcis.binding import event_pages

    monkeypatch.setattr(event_pages, "SORT_BUDGET", 5)  # more candidates than it sorts: narrow the query
    r = c.get("/epcis/events", params={"orderBy": "ex:grade"}, headers=h["auditor"] | ext)
    assert r.status_code == 413 and "narrow the query" in r.text, r.text
    forged = {"orderBy": "ex:grade", "nextPageToken": "eyJmIjoxfQ"}
    r = c.get("/epcis/events", params=forged, headers=h["auditor"] | ext)
    assert r.status_code == 400 and "nextPageToken" in r.text, r.text
