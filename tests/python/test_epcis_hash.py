"""CBV 2.0 event hash IDs: ours equal the reference implementation's (PyPI
`epcis-event-hash-generator`, run in its own environment `.venv-epcis-ref`) on GS1's example
documents and on generated documents covering the standard's breadth."""

from __future__ import annotations

import copy
import json
import random
import subprocess
from pathlib import Path

import pytest

from ledger.paths import ROOT
from ledger.trace.epcis.canonical import abbreviations, namespaces_of, utc_millis
from ledger.trace.epcis.hashid import document_hash_ids, hash_id, prehash
from ledger.trace.epcis.identifiers import canonical
from ledger.trace.epcis.samples import CONTEXT, document

REFERENCE_PYTHON = ROOT / ".venv-epcis-ref" / "bin" / "python"
EXAMPLES = sorted((Path(__file__).parents[1] / "fixtures" / "epcis").glob("Example_*.jsonld"))


def reference_hashes(docs: list[dict]) -> list[list[list[str]]]:
    if not REFERENCE_PYTHON.exists():
        pytest.fail(f"{REFERENCE_PYTHON} missing: run `make test` (it builds .venv-epcis-ref)")
    out = subprocess.run(
        [str(REFERENCE_PYTHON), str(ROOT / "tools" / "epcis_reference_hashes.py")],
        input=json.dumps(docs),
        capture_output=True,
        text=True,
        check=True,
        timeout=300,
    )
    return json.loads(out.stdout)


def test_gs1_examples_hash_like_the_reference():
    docs = [json.loads(p.read_text()) for p in EXAMPLES]
    assert len(docs) == 5
    for path, doc, ref in zip(EXAMPLES, docs, reference_hashes(docs), strict=True):
        assert document_hash_ids(doc) == [h for h, _ in ref], path.name
    # pinned as well, so a change in either implementation shows up as a diff here
    assert document_hash_ids(docs[0]) == [
        "ni:///sha-256;df6523665bc5e5803d6c7b84f5a04e103694d8220f2abc4f2c74310e89f31bc6?ver=CBV2.0",
        "ni:///sha-256;32547b2344d525ea60ab1b899d82a9011fd9c39bb26ed936e113066146f49941?ver=CBV2.0",
    ]


def test_generated_documents_hash_like_the_reference():
    docs = [document(random.Random(seed), 1 + seed % 3, urns=seed % 2 == 0) for seed in range(300)]
    refs = reference_hashes(docs)
    mismatches = []
    for seed, (doc, ref) in enumerate(zip(docs, refs, strict=True)):
        ns = namespaces_of(doc["@context"])
        events = doc["epcisBody"]["eventList"]
        assert len(ref) == len(events), f"reference skipped an event of document {seed}"
        for event, (ref_hash, ref_pre) in zip(events, ref, strict=True):
            if hash_id(event, ns) != ref_hash:
                mismatches.append((seed, ref_pre, prehash(event, ns)))
    assert not mismatches, mismatches[:2]


def _event(**changes) -> dict:
    e = {
        "type": "ObjectEvent",
        "eventTime": "2026-11-24T16:00:00.000+08:00",
        "eventTimeZoneOffset": "+08:00",
        "epcList": ["urn:epc:id:sgtin:0614141.107346.2017"],
        "action": "OBSERVE",
        "bizStep": "shipping",
        "disposition": "in_transit",
        "readPoint": {"id": "urn:epc:id:sgln:0614141.07346.1234"},
    }
    e.update(changes)
    return e


def test_the_same_event_written_differently_has_one_hash():
    base = hash_id(_event())
    same = [
        _event(epcList=["https://id.gs1.org/01/10614141073464/21/2017"]),
        _event(epcList=["https://brand.example.com/gtin/10614141073464/ser/2017?linkType=all"]),
        _event(eventTime="2026-11-24T08:00:00Z"),
        _event(bizStep="urn:epcglobal:cbv:bizstep:shipping"),
        _event(bizStep="https://ref.gs1.org/cbv/BizStep-shipping"),
        _event(disposition="urn:epcglobal:cbv:disp:in_transit"),
        _event(eventID="urn:uuid:1c7cd6a1-0d52-4dd5-9bb1-1d5d2b3c6a1f", recordTime="2026-11-25T00:00:00Z"),
        dict(reversed(list(_event().items()))),
        _event(errorDeclaration={"declarationTime": "2026-11-26T00:00:00Z", "reason": "incorrect_data"}),
    ]
    for variant in same:
        assert hash_id(variant) == base, variant
    different = [
        _event(epcList=["urn:epc:id:sgtin:0614141.107346.2018"]),
        _event(bizStep="receiving"),
        _event(eventTime="2026-11-24T16:00:00.001+08:00"),
        _event(action="ADD"),
    ]
    for variant in different:
        assert hash_id(variant) != base, variant


def test_a_short_name_abbreviates_only_a_term_no_other_term_of_the_event_ends_in():
    terms = [f"https://ref.gs1.org/cbv/{kind}-po" for kind in ("BTT", "SDT", "ER")]
    twins = ["https://ref.gs1.org/cbv/X-lot", "https://gs1.org/voc/X-lot"]
    abbr = abbreviations(frozenset([*terms, *twins, "https://ref.gs1.org/cbv/BizStep-shipping"]))
    assert "po" not in abbr and "X-lot" not in abbr and "lot" not in abbr  # tails of three terms, of two
    assert abbr["shipping"] == abbr["BizStep-shipping"] == "https://ref.gs1.org/cbv/BizStep-shipping"
    assert abbr["SDT-po"] == terms[1]
    assert abbreviations(frozenset(terms[:1]))["po"] == terms[0]


def test_epc_lists_are_hashed_in_sorted_order():
    a = _event(epcList=["urn:epc:id:sgtin:0614141.107346.1", "urn:epc:id:sgtin:0614141.107346.2"])
    b = _event(epcList=list(reversed(a["epcList"])))
    assert hash_id(a) == hash_id(b)


def test_extensions_take_part_under_their_namespace():
    ns = namespaces_of(CONTEXT)
    with_ext = _event(**{"example:myField": "x"})
    assert "{http://ns.example.com/epcis/}myField=x" in prehash(with_ext, ns)
    assert hash_id(with_ext, ns) != hash_id(_event(), ns)
    renamed = copy.deepcopy(with_ext)
    assert hash_id(renamed, {"example": "{http://other.example/}"}) != hash_id(with_ext, ns)


@pytest.mark.parametrize(
    "value, expected",
    [
        ("urn:epc:id:sgtin:0614141.107346.2017", "https://id.gs1.org/01/10614141073464/21/2017"),
        ("urn:epc:id:sgtin:0614141.107346.a!b", "https://id.gs1.org/01/10614141073464/21/a%21b"),
        ("urn:epc:id:sscc:0614141.1234567890", "https://id.gs1.org/00/106141412345678908"),
        ("urn:epc:id:sgln:0614141.07346.0", "https://id.gs1.org/414/0614141073467"),
        ("urn:epc:id:sgln:0614141.07346.1234", "https://id.gs1.org/414/0614141073467/254/1234"),
        ("urn:epc:id:pgln:4012345.00001", "https://id.gs1.org/417/4012345000016"),
        ("urn:epc:id:giai:4000001.12345", "https://id.gs1.org/8004/400000112345"),
        ("urn:epc:class:lgtin:4012345.012345.998877", "https://id.gs1.org/01/04012345123456/10/998877"),
        ("urn:epc:idpat:sgtin:4012345.098765.*", "https://id.gs1.org/01/04012345987652"),
        ("https://example.com/gtin/614141073467/ser/2017", "https://id.gs1.org/01/00614141073467/21/2017"),
        (
            "https://id.gs1.org/01/10614141073464/10/L1/21/2017?17=261231",
            "https://id.gs1.org/01/10614141073464/21/2017",
        ),
        ("urn:epc:id:sgtin:0614141.107346", None),  # no serial
        ("https://example.com/about", None),
        ("shipping", None),
    ],
)
def test_identifiers_become_canonical_digital_link_uris(value, expected):
    assert canonical(value) == expected


REFERENCE_IDS = [
    "urn:epc:id:sgtin:0614141.107346.2017",
    "urn:epc:id:sgtin:0614141.107346.a!b(c)",
    "urn:epc:id:sscc:0614141.1234567890",
    "urn:epc:id:sgln:0614141.07346.0",
    "urn:epc:id:sgln:0614141.07346.1234",
    "urn:epc:id:sgln:061414112345..x",
    "urn:epc:id:grai:0614141.12345.400",
    "urn:epc:id:giai:4000001.12345",
    "urn:epc:id:gsrn:0614141.1234567890",
    "urn:epc:id:gsrnp:0614141.1234567890",
    "urn:epc:id:gdti:0614141.12345.400",
    "urn:epc:id:cpi:0614141.123ABC.123456789",
    "urn:epc:id:sgcn:4012345.67890.04711",
    "urn:epc:id:ginc:0614141.xyz47",
    "urn:epc:id:gsin:0614141.123456789",
    "urn:epc:id:itip:4012345.012345.01.02.987",
    "urn:epc:id:upui:1234567.089456.51qIgY)%3C%26Jp3*j7%27SDB",
    "urn:epc:id:pgln:1234567.89012",
    "urn:epc:class:lgtin:4012345.012345.998877",
    "urn:epc:idpat:sgtin:4012345.098765.*",
    "urn:epc:idpat:grai:0614141.12345.*",
    "urn:epc:idpat:gdti:0614141.12345.*",
    "urn:epc:idpat:sgcn:4012345.67890.*",
    "urn:epc:idpat:cpi:0614141.123ABC.*",
    "urn:epc:idpat:itip:4012345.012345.01.02.*",
    "urn:epc:idpat:upui:1234567.089456.*",
    "https://id.gs1.org/01/09520123456788/21/12345",
    "https://example.com/gtin/9520123456788/lot/A1/ser/7?s=1",
    "https://example.com/01/09520123456788/22/2A/10/ABC/21/12345",
    "http://a.example/sscc/106141412345678908",
    "https://example.com/gln/0614141073467/254/1",
    "https://id.gs1.org/8004/0614141xyz",
    "https://id.gs1.org/01/12345670",
    "urn:epc:id:sgtin:0614141.107346",
    "urn:epc:id:sgtin:06141411.07346.1",
    "https://example.com/about/us",
    "urn:uuid:1-2.3",
]


def test_identifiers_match_the_reference_normaliser():
    code = "import json,sys\nfrom epcis_event_hash_generator.dl_normaliser import normaliser\n"
    code += "print(json.dumps([normaliser(u) for u in json.load(sys.stdin)]))"
    out = subprocess.run(
        [str(REFERENCE_PYTHON), "-c", code], input=json.dumps(REFERENCE_IDS), capture_output=True, text=True, check=True
    )
    assert [canonical(u) for u in REFERENCE_IDS] == json.loads(out.stdout)


def test_timestamps_become_utc_milliseconds():
    assert utc_millis("2005-04-03T20:33:31.116-06:00") == "2005-04-04T02:33:31.116Z"
    assert utc_millis("2026-11-24T08:00:00Z") == "2026-11-24T08:00:00.000Z"
    assert utc_millis("2026-11-24T08:00:00.1234567+00:00") == "2026-11-24T08:00:00.123Z"
    # rounding up into the next second (the reference implementation crashes on this one)
    assert utc_millis("2026-12-31T23:59:59.9996Z") == "2027-01-01T00:00:00.000Z"


def test_a_lone_event_hashes_as_it_does_once_captured():
    from ledger.trace.epcis.schema import check_capture

    lone = {"@context": CONTEXT[0], **_event()}
    doc, _ = check_capture(copy.deepcopy(lone))  # capture makes its @context the document's
    assert document_hash_ids(lone) == document_hash_ids(doc) == [hash_id(_event())]


def test_urns_of_digits_other_than_ascii_name_no_gs1_key():
    """str.isdigit() takes `²` (int() refuses it: the check digit raised) and `３`; EPC URNs hold ASCII digits."""
    assert canonical("urn:epc:id:sscc:0614141.1234567890") == "https://id.gs1.org/00/106141412345678908"
    for odd in (
        "urn:epc:id:sscc:\u00b2\u00b2\u00b2\u00b2\u00b2\u00b2\u00b2.1234567890",
        "urn:epc:id:sscc:0614141.\u00b9234567890",
        "urn:epc:id:sgtin:\uff10\uff16\uff11\uff14\uff11\uff14\uff11.107346.2017",
    ):
        assert canonical(odd) is None, odd
        hash_id(_event(epcList=[odd]), {})  # an event naming one still hashes
