"""EPCIS documents as other systems write them: every form of JSON-LD `@context` (term definitions,
nested and scoped contexts, keywords, null), pair lists without a type, extension values of every
JSON type. Hash IDs stay the reference implementation's where it can read the document, and
capture never answers 5xx: a valid document is stored, anything else is a 422 naming its path."""

from __future__ import annotations

import copy
import json
import random
import subprocess
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ledger.paths import ROOT
from ledger.trace.epcis.canonical import namespaces_of
from ledger.trace.epcis.hashid import UnhashableEvent, document_events, document_hash_ids, prehash
from ledger.trace.epcis.samples import CONTEXT, document

from .helpers import login, make_client

GS1 = Path(__file__).parents[1] / "fixtures" / "epcis" / "gs1"
REFERENCE_PYTHON = ROOT / ".venv-epcis-ref" / "bin" / "python"


def reference_hash_ids(doc: dict) -> list[str]:
    out = subprocess.run(
        [str(REFERENCE_PYTHON), str(ROOT / "tools" / "epcis_reference_hashes.py")],
        input=json.dumps([doc]),
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    return [h for h, _ in json.loads(out.stdout)[0]]


def test_a_context_declares_prefixes_in_every_form_json_ld_allows():
    context = [
        "https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld",
        {
            "@version": 1.1,
            "@vocab": "http://vocab.example.com/",
            "ex": "http://ns.example.com/epcis/",
            "rail": {"@id": "urn:gs1:epcisapp:rail:", "@prefix": True},
            "rail:axleCount": {"@type": "xsd:integer"},
            "typed": {"@type": "@id"},
            "scoped": {"@id": "http://scoped.example.com/", "@context": {"inner": "http://inner.example.com/"}},
            "listy": {"@id": "http://list.example.com/", "@container": "@list", "@protected": True},
            "gone": "http://gone.example.com/",
        },
        {"gone": None},
    ]
    assert namespaces_of(context) == {
        "ex": "{http://ns.example.com/epcis/}",
        "rail": "{urn:gs1:epcisapp:rail:}",
        "scoped": "{http://scoped.example.com/}",
        "listy": "{http://list.example.com/}",
    }
    assert namespaces_of({"ex": "http://ns.example.com/epcis/"}) == {"ex": "{http://ns.example.com/epcis/}"}
    assert namespaces_of("https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld") == {}
    assert namespaces_of(None) == {}


def _prefixes_only(doc: dict) -> dict:
    """The document with its term definitions dropped from @context (the reference hasher cannot
    read them; they type values and declare no prefix, so hash IDs must not change)."""
    doc = copy.deepcopy(doc)
    doc["@context"] = [c if isinstance(c, str) else {k: v for k, v in c.items() if isinstance(v, str)}
                       for c in doc["@context"]]  # fmt: skip
    return doc


def test_gs1_transaction_events_document_hashes():
    doc = json.loads((GS1 / "Example-TransactionEvents-2020_07_03y.jsonld").read_text())
    ours = document_hash_ids(doc)
    # the second event: as the reference computes it from the document without term definitions
    second = _prefixes_only(doc)
    second["epcisBody"]["eventList"] = second["epcisBody"]["eventList"][1:]
    assert ours[1:] == reference_hash_ids(second)
    assert ours == document_hash_ids(_prefixes_only(doc))
    # the first has a bizTransaction without a type (the reference crashes on it): the value alone
    first = prehash(document_events(doc)[0], namespaces_of(doc["@context"]), "\n")
    assert "\nbizTransactionListbizTransaction=https://id.gs1.org/253/95252084000140003555480001000" in first
    assert ours[0] == "ni:///sha-256;61500fbc3a2c8f036b8bff19ac0b1737b6b258a239f2606fdb12364b7f427435?ver=CBV2.0"


def test_gs1_sensor_example_17_hashes_like_the_reference():
    doc = json.loads((GS1 / "SensorDataExample17.jsonld").read_text())
    assert (
        document_hash_ids(doc)
        == reference_hash_ids(doc)
        == ["ni:///sha-256;78f7ce4e3410f59ac8156943982d59d088aa5c9900397b3e3723a70a5e712f24?ver=CBV2.0"]
    )


@pytest.fixture
def api(deployment, chain_node, tmp_path, members):
    c = make_client(deployment, chain_node, tmp_path, anchor_interval_s=0)
    return c, login(c, members["producer"])


def test_gs1_documents_with_term_definitions_are_captured(api):
    c, producer = api
    for path in sorted(GS1.glob("*.jsonld")):
        doc = json.loads(path.read_text())
        r = c.post(
            "/v1/epcis/capture", content=path.read_bytes(), headers=producer | {"Content-Type": "application/ld+json"}
        )
        assert r.status_code == 201, (path.name, r.text)
        assert [e["hashId"] for e in r.json()["events"]] == document_hash_ids(doc)


def test_an_event_nested_too_deep_is_a_422_naming_where(api):
    c, producer = api
    doc = document(random.Random(3), 1)
    value: dict = {"example:leaf": "x"}
    for _ in range(200):
        value = {"example:n": value}
    doc["epcisBody"]["eventList"][0]["example:deep"] = value
    r = c.post("/v1/epcis/capture", json=doc, headers=producer)
    assert r.status_code == 422, r.text
    [problem] = r.json()["detail"]
    assert problem["path"].startswith("$.epcisBody.eventList[0].example:deep.example:n") and "64" in problem["reason"]


def test_what_cannot_be_hashed_names_its_event():
    doc = document(random.Random(5), 2)
    value: dict = {}
    for _ in range(5000):  # deeper than the interpreter's recursion limit (capture refuses it sooner)
        value = {"example:n": value}
    doc["epcisBody"]["eventList"][1]["example:deep"] = value
    with pytest.raises(UnhashableEvent) as caught:
        document_hash_ids(doc)
    assert caught.value.path == "$.epcisBody.eventList[1]"


# -- generated documents -------------------------------------------------------------------------

_IRI = st.sampled_from(["http://ns.example.com/epcis/", "urn:acme:ext:", "https://ext.example.cn/v2#"])
_PREFIX = st.sampled_from(["ex", "acme", "rail", "example"])
_TERM_DEFINITION = st.one_of(
    _IRI,
    _IRI.map(lambda i: {"@id": i}),
    _IRI.map(lambda i: {"@id": i, "@prefix": True, "@protected": True}),
    _IRI.map(lambda i: {"@id": i, "@context": {"inner": "http://inner.example.com/"}}),
    st.just({"@type": "xsd:integer"}),
    st.just({"@container": "@list"}),
    st.none(),
)
_CONTEXT_OBJECT = st.dictionaries(
    st.one_of(_PREFIX, _PREFIX.map(lambda p: f"{p}:field"), st.sampled_from(["@vocab", "@version", "@base"])),
    _TERM_DEFINITION,
    max_size=4,
)
_SCALAR = st.one_of(
    st.text(max_size=8), st.integers(-(10**6), 10**6), st.floats(allow_nan=False, allow_infinity=False),
    st.booleans(), st.none(), _IRI, _PREFIX.map(lambda p: f"{p}:value"),
)  # fmt: skip
_EXTENSION_VALUE = st.recursive(
    _SCALAR,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3), st.dictionaries(_PREFIX.map(lambda p: f"{p}:k"), inner, max_size=3)
    ),
    max_leaves=6,
)


@st.composite
def documents(draw) -> dict:
    doc = document(random.Random(draw(st.integers(0, 10_000))), draw(st.integers(1, 3)))
    doc["@context"] = [CONTEXT[0], *draw(st.lists(_CONTEXT_OBJECT, max_size=3))]
    for event in doc["epcisBody"]["eventList"]:
        for _ in range(draw(st.integers(0, 3))):
            event[f"{draw(_PREFIX)}:{draw(st.sampled_from(['a', 'b', 'c']))}"] = draw(_EXTENSION_VALUE)
        if draw(st.booleans()):
            event["bizTransactionList"] = [{"bizTransaction": "urn:epcglobal:cbv:bt:0614141000005:PO-1"}]
        if draw(st.booleans()):
            event["@context"] = [draw(_CONTEXT_OBJECT)]
    return doc


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(doc=documents())
def test_capture_of_generated_documents_never_answers_5xx(api, doc):
    c, producer = api
    r = c.post("/v1/epcis/capture", json=doc, headers=producer)
    assert r.status_code in (200, 201, 422), r.text
    if r.status_code == 422:
        assert r.json()["error"] == "invalid_epcis" and all(p["path"].startswith("$") for p in r.json()["detail"])
    else:
        assert [e["hashId"] for e in r.json()["events"]] == list(dict.fromkeys(document_hash_ids(doc)))
