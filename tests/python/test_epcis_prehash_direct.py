"""`prehash_direct` (the one-pass pre-hash string) against the generic two passes it stands in for:
the same string for every event, or None and the generic passes decide. The generic passes are
checked against GS1's reference implementation in test_epcis_hash.py."""

from __future__ import annotations

import copy
import json
import random
from pathlib import Path

from ledger.trace.epcis.canonical import abbreviations, expanded_terms, namespaces_of
from ledger.trace.epcis.hash_tree import Converter
from ledger.trace.epcis.hashid import document_events, prehash
from ledger.trace.epcis.prehash_direct import direct
from ledger.trace.epcis.samples import CONTEXT, document

FIXTURES = sorted((Path(__file__).parents[1] / "fixtures" / "epcis").glob("**/*.jsonld"))
NS = namespaces_of(CONTEXT)
_SHAPE_ERRORS = (TypeError, ValueError, KeyError, IndexError, AttributeError, RecursionError)


def _both(event: dict, ns: dict) -> tuple[str | None, str | None, bool]:
    """(generic string or None if it raises, prehash's string or None if it raises, direct took it)."""
    took = direct(event, Converter(ns, abbreviations(frozenset(expanded_terms(event))))) is not None
    out = []
    for generic in (True, False):
        try:
            out.append(prehash(event, ns, generic=generic))
        except _SHAPE_ERRORS:
            out.append(None)
    return out[0], out[1], took


def test_every_gs1_example_and_generated_event_gives_the_generic_string():
    docs = [json.loads(p.read_text()) for p in FIXTURES]
    docs += [document(random.Random(seed), 50, urns=seed % 2 == 0) for seed in range(40)]
    taken = 0
    for doc in docs:
        ns = namespaces_of(doc.get("@context"))
        for event in document_events(doc):
            generic, fast, took = _both(event, ns | namespaces_of(event.get("@context")))
            assert fast == generic, json.dumps(event)[:500]
            taken += took
    assert taken >= 1900  # the generated events all take the one pass


def _mutations(event: dict, r: random.Random) -> dict:
    """The event with one field given an unusual shape."""
    e = copy.deepcopy(event)
    odd = [None, "", "  ", 0, 1.50, True, [], [""], {}, {"#text": "x"}, {"comment": "c"}, ["a", {"b": 1}],
           {"example:x": "1"}, {"example:xList": ["1"]}, {"id": "urn:epc:id:sgln:0614141.07346.1", "example:y": "2"},
           [{"epcClass": "urn:epc:class:lgtin:4012345.012345.998877", "example:q": "1"}], [{}],
           [{"type": "po", "bizTransaction": "x", "extra": "y"}], [{"bizTransaction": "x", "type": "po"}],
           {"set": ["a", "b"], "unset": "c"}, "urn:epcglobal:cbv:bizstep:shipping", "shipping",
           # a vocabulary URI outside the typed fields, and its tails, which it makes abbreviations
           "https://ref.gs1.org/cbv/BizStep-odd_step", "odd_step", "BizStep-odd_step", {"example:v": "https://gs1.org/voc/Odd-term"},
           "term", {"#text": "https://ref.gs1.org/cbv/Disp-odd"}, "odd", {"comment": "https://gs1.org/voc/Odd-note"},
           "note", {"reason": "https://ref.gs1.org/cbv/ER-odd_reason"}, "odd_reason"]  # fmt: skip
    key = r.choice([*e, "example:new", "ilmd", "rdfs:comment", "bizTransaction", "example:aList", "quantity",
                    "errorDeclaration", "eventID"])  # fmt: skip
    e[key] = copy.deepcopy(r.choice(odd))
    if r.random() < 0.3:  # and deeper: inside a sensor element, a quantity or a pair
        for lst in ("sensorElementList", "quantityList", "bizTransactionList", "childQuantityList"):
            if isinstance(e.get(lst), list) and e[lst] and isinstance(e[lst][0], dict):
                e[lst][0][r.choice(["example:z", "#text", "foo", "sensorReport", "uom"])] = copy.deepcopy(r.choice(odd))
    return e


def test_unusual_shapes_give_the_generic_string_or_are_left_to_it():
    r = random.Random(31)
    events = [e for s in range(20) for e in document(random.Random(s), 20)["epcisBody"]["eventList"]]
    taken = left = 0
    for _ in range(4000):
        event = _mutations(r.choice(events), r)
        if r.random() < 0.4:  # two fields: a vocabulary URI in one may abbreviate the other
            event = _mutations(event, r)
        generic, fast, took = _both(event, NS)
        assert fast == generic
        taken, left = taken + took, left + (not took)
    assert taken > 500 and left > 500  # both ways were exercised
