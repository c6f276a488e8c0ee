"""Speed-ups of capture and hash IDs against what they stand in for (issue 31):

- the compiled schema validator with each `anyOf`'s lists of names tried first (`schema._fast`)
  refuses exactly what GS1's schema as written refuses (jsonschema on the unchanged schema);
- `identifiers._cd` (a check digit) gives `gs1.check_digit`'s;
- `schema.too_deep` (no path built per container) agrees with the walk naming the place;
- `identifiers.canonical`'s shortcut for a Digital Link URI already canonical gives what the
  general steps give (`digital_link_canonical._general`), on every identifier the generated events hold and
  on mutations of them;
- its shortcut for the commonest EPC URNs (`identifiers._plain_urn`) gives what the rules per scheme
  give, on every URN the generated events hold and on mutations of them.
"""

from __future__ import annotations

import copy
import json
import random
from pathlib import Path

import pytest

from ledger.trace.epcis import digital_link_canonical as identifiers
from ledger.trace.epcis import schema
from ledger.trace.epcis.hashid import document_events
from ledger.trace.epcis.samples import document

FIXTURES = sorted((Path(__file__).parents[1] / "fixtures" / "epcis").glob("**/*.jsonld"))
_MUTANTS = ["x", "", 7, None, [], {}, "urn:epc:id:sgtin:0614141.107346.2017", "shipping", "2020-01-01T00:00:00Z"]


def _mutated(doc: dict, rng: random.Random) -> dict:
    """`doc` with one member of one event replaced, removed, or one member added."""
    doc = copy.deepcopy(doc)
    event = rng.choice(document_events(doc))
    node = event
    for _ in range(rng.randrange(3)):  # sometimes a member deeper down
        inner = [v for v in node.values() if isinstance(v, dict)] + [
            x for v in node.values() if isinstance(v, list) for x in v if isinstance(x, dict)
        ]
        if not inner:
            break
        node = rng.choice(inner)
    op = rng.random()
    if op < 0.4 and node:
        node[rng.choice(list(node))] = rng.choice(_MUTANTS)
    elif op < 0.6 and node:
        del node[rng.choice(list(node))]
    else:
        node[rng.choice(["extra", "example:extra", "https://ns.example.com/x", "action", "bizStep", "type"])] = (
            rng.choice(_MUTANTS)
        )
    return doc


@pytest.mark.parametrize("xml", [False, True])
def test_the_fast_validator_refuses_what_the_schema_refuses(xml):
    rng = random.Random(31)
    docs = [json.loads(p.read_text()) for p in FIXTURES]
    docs += [document(random.Random(s), 8) for s in range(6)]
    checked = refused = 0
    for base in docs:
        for doc in [base] + [_mutated(base, rng) for _ in range(15)] if "epcisBody" in base else [base]:
            slow = not any(True for _ in schema.validator(xml).iter_errors(doc))
            assert (schema.problems(doc, xml) == []) == slow, json.dumps(doc)[:2000]
            checked, refused = checked + 1, refused + (not slow)
    assert checked > 150 and 0.2 * checked < refused < checked  # both verdicts well exercised


def _identifiers() -> list[str]:
    out = set()
    for seed in range(20):
        for event in document_events(document(random.Random(seed), 100, urns=seed % 2 == 0)):
            stack = [event]
            while stack:
                x = stack.pop()
                if isinstance(x, dict):
                    stack.extend(x.values())
                elif isinstance(x, list):
                    stack.extend(x)
                elif isinstance(x, str):
                    out.add(x)
    return sorted(out)


def test_the_canonical_shortcut_gives_what_the_general_steps_give():
    rng = random.Random(7)
    values = _identifiers()
    dl = [v for v in values if v.startswith("https://id.gs1.org/01/")]
    mutants = _mutants(dl, "/?#%!()*+,:;<=>\n\"'-._0123456789ACZaz", rng)
    edges = [
        dl[0].rsplit("/", 1)[0] + "/" + tail
        for tail in ("", "a" * 20, "a" * 21, "a?x=1", "a\n", "a;b=c", "gtin", "lot/", "22")
    ]
    shortcut = 0
    for v in values + mutants + edges:
        assert identifiers._digital_link(v) == identifiers._general(v), v
        shortcut += identifiers._ALREADY_CANONICAL.fullmatch(v) is not None
    assert len(dl) > 500 and shortcut > 500  # the shortcut was taken, and often not


def _mutants(values: list[str], chars: str, rng: random.Random) -> list[str]:
    """Each value three times with one character inserted or replaced."""
    out = []
    for v in values * 3:
        w, at = list(v), rng.randrange(len(v) + 1)
        if rng.random() < 0.5:
            w.insert(at, rng.choice(chars))
        else:
            w[min(at, len(w) - 1)] = rng.choice(chars)
        out.append("".join(w))
    return out


def test_the_epc_urn_shortcut_gives_what_the_rules_give():
    from ledger.trace.epcis.identifiers import _plain_urn, _urn

    urns = [v for v in _identifiers() if v.startswith("urn:epc:")]
    edges = [f"urn:epc:{kind}:{body}" for kind in ("id:sgtin", "class:lgtin", "idpat:sgtin", "id:sgln", "id:grai",
             "id:sscc", "id:giai") for body in ("061414.1073460.2017", "0614141.107346.*", "0614141.107346.0",
             "0614141.07346.a.b", "0614141..x", "0614141.1234567890", "0614141.ab", "061414.1" + "0" * 24,
             "0614141.107346." + "x" * 21, "0614141.12345.x" + "_" * 16, "٣614141.107346.1", "0614141.10734٣.1",
             "0614141.107346.A-_.9", "0614141.107346.a%2F")]  # fmt: skip
    taken = 0
    for v in urns + _mutants(urns, "./*%!09AZaz:-_\n'\"٣", random.Random(5)) + edges:
        kind, _, rest = v[8:].partition(":")
        fast = _plain_urn(v)
        if fast is not None:
            assert fast == _urn(kind, rest), v
            taken += 1
    assert len(urns) > 2000 and taken > len(urns)  # the shortcut was taken, and often not


def test_the_check_digit_of_a_hash_id_is_gs1s():
    from ledger.trace.epcis.identifiers import _cd
    from ledger.trace.gs1 import check_digit

    rng = random.Random(3)
    for digits in ["0", "٣12", "614141"] + [
        "".join(rng.choices("0123456789", k=n)) for n in range(1, 18) for _ in range(300)
    ]:
        assert _cd(digits) == digits + str(check_digit(digits)), digits


def _nested(depth: int, leaf_list: bool) -> dict:
    """A document whose one event holds an extension nested `depth` containers below it."""
    value: object = ["x"] if leaf_list else {"example:leaf": "x"}
    for i in range(depth - 1):
        value = {"example:n": value} if i % 3 else [1, value]
    doc = document(random.Random(4), 2)
    doc["epcisBody"]["eventList"][1]["example:deep"] = value
    return doc


@pytest.mark.parametrize("leaf_list", [False, True])
def test_the_depth_check_refuses_what_the_path_walk_refuses_and_names_the_same_place(leaf_list):
    """`schema.too_deep` walks level by level without paths; `schema._deep_path` is the walk that
    names the place: they agree at, below and above the limit, on every fixture too."""
    for depth in range(schema.MAX_DEPTH - 5, schema.MAX_DEPTH + 5):
        doc = _nested(depth, leaf_list)
        for limit in (schema.MAX_DEPTH, 3, 0):
            assert schema.too_deep(doc, limit) == schema._deep_path(doc, limit), (depth, limit)
    deep = schema.too_deep(_nested(schema.MAX_DEPTH, leaf_list), schema.MAX_DEPTH)
    assert deep is not None and deep.startswith("$.epcisBody.eventList[1].example:deep")
    for path in FIXTURES:
        doc = json.loads(path.read_text())
        for limit in (2, 4, 6, schema.MAX_DEPTH):
            assert schema.too_deep(doc, limit) == schema._deep_path(doc, limit), (path.name, limit)


def test_a_refusal_jsonschema_does_not_see_is_named_by_the_detailed_compiled_validator(monkeypatch):
    """The validator that accepts raises undetailed exceptions; should jsonschema find nothing
    wrong with a document it refused, the detailed one names the place (as before)."""
    doc = document(random.Random(2), 2)
    doc["epcisBody"]["eventList"][1]["eventTime"] = "soon"
    assert schema.problems(doc)[0]["path"] == "$.epcisBody.eventList[1].eventTime"  # jsonschema's
    monkeypatch.setattr(schema, "_all_problems", lambda doc, xml: [])  # as if jsonschema saw nothing
    [problem] = schema.problems(doc)
    assert problem["path"].startswith("$.epcisBody.eventList[1]") and "must" in problem["reason"], problem
