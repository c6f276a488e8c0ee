"""EPCIS 2.0 documents checked against GS1's JSON Schema before anything of them is stored.

`problems(doc)` lists every violation as a JSON path (`$.epcisBody.eventList[3].eventTime`) and
the reason. A valid document passes through a compiled validator (fastjsonschema, ~0.2 ms per
event); only a refused one is walked again by `jsonschema` to name every problem.
`check_capture(body)` turns a capture request (an `EPCISDocument`, or one bare event) into a
document and its events, or raises `InvalidEpcis` with all problems at once.

A document that came as XML is checked against the JSON Schema widened where GS1's XML schema
(XSD) allows more (`_as_xsd_allows`), so a document valid under the XSD is captured: a
`persistentDisposition` on every event type, any URI (or none) as a sensor report's `type`, any
URI as its `exception` and `component`, `ilmd` whatever the action, and a document of master data
with no events.
"""

from __future__ import annotations

import json
import re
import threading
from functools import cache
from pathlib import Path

import fastjsonschema
from jsonschema import Draft7Validator
from jsonschema.exceptions import ValidationError

from ledger.errors import LedgerError
from ledger.trace.epcis import date_times

SCHEMA_PATH = Path(__file__).with_name("EPCIS-JSON-Schema.json")
EVENT_TYPES = ("ObjectEvent", "AggregationEvent", "TransformationEvent", "AssociationEvent", "TransactionEvent")
MAX_PROBLEMS = 100


class InvalidEpcis(LedgerError):
    """Not a valid EPCIS 2.0 document; `problems` holds [{"path", "reason"}, ...]."""

    def __init__(self, problems: list[dict[str, str]]):
        self.problems = problems
        first = problems[0]
        more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
        super().__init__(f"not a valid EPCIS 2.0 document: {first['path']}: {first['reason']}{more}")


def _schema(xml: bool) -> dict:
    schema = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    return _as_xsd_allows(schema) if xml else schema


def _as_xsd_allows(schema: dict) -> dict:
    """GS1's JSON Schema where it is narrower than GS1's EPCIS 2.0 XSD: the XSD allows
    `persistentDisposition` on every event type (the JSON Schema only on Object and
    Transformation events), types a sensor report's `type`, `exception` and `component` as any
    URI (the JSON Schema lists bare names, so `gs1:EffectiveDoseRate` fails it) and its `type`
    as optional, and allows `ilmd` on an ObjectEvent whatever its action."""
    d = schema["definitions"]
    for kind in EVENT_TYPES:
        own = d[kind]["allOf"][1]
        own["properties"].setdefault("persistentDisposition", {"$ref": "#/definitions/persistentDisposition"})
        names = own["propertyNames"]["anyOf"][1]["enum"]
        if "persistentDisposition" not in names:
            names.append("persistentDisposition")
    for name in ("measurementType", "sensorAlertType", "component"):
        d[name] = {"type": "string"}  # xsd:anyURI (bare GS1 names are what `gs1:` names become)
    d["sensorReport"]["required"] = []  # the XSD's `type` attribute is optional
    # the JSON Schema allows `ilmd` only with action ADD; the XSD on any ObjectEvent
    d["ObjectEvent"]["allOf"] = [x for x in d["ObjectEvent"]["allOf"] if "ilmd" not in json.dumps(x.get("anyOf", ""))]
    return schema


@cache
def validator(xml: bool = False) -> Draft7Validator:
    schema = _schema(xml)
    Draft7Validator.check_schema(schema)
    return Draft7Validator(schema, format_checker=date_times.checker())


_COMPILING = threading.Lock()


def _fast(xml: bool = False):
    """The compiled validator, compiled once per process: a capture arriving while the warm-up
    thread compiles (~1 s of CPU) waits for it rather than compiling a second one beside it."""
    with _COMPILING:
        return _compiled(xml)


@cache
def _compiled(xml: bool, detailed: bool = False):
    """Undetailed, a refusal raises with its message alone: the validator that accepts builds no
    value, path and schema for each exception it raises and catches on the way (an `anyOf`'s
    branches, the `if`s that pick an event's type: ~12 an event, ~5 us). The same checks either
    way; the detailed one is compiled only to name a refusal that jsonschema does not see."""
    formats = {"date-time": date_times.fast_date_time}
    return fastjsonschema.compile(_enums_first(_schema(xml)), formats=formats, detailed_exceptions=detailed)


def _enums_first(node):
    """The same schema with each `anyOf`'s plain lists of names tried first. An `anyOf` holds
    whatever order its branches come in, and the compiled validator stops at the first that
    holds: an event's every member name was tried as a URI first (an exception each, ~40 an
    event, the larger part of validating one) before the list of the event type's names."""
    if isinstance(node, list):
        return [_enums_first(x) for x in node]
    if not isinstance(node, dict):
        return node
    out = {k: _enums_first(v) for k, v in node.items()}
    if isinstance(out.get("anyOf"), list):
        out["anyOf"] = sorted(out["anyOf"], key=lambda b: not (isinstance(b, dict) and "enum" in b and "$ref" not in b))
    return out


def warm_up() -> None:
    _fast()
    _fast(True)


def json_path(parts) -> str:
    out = "$"
    for p in parts:
        out += f"[{p}]" if isinstance(p, int) else (f".{p}" if str(p).isidentifier() else f"[{json.dumps(p)}]")
    return out


def _leaves(error: ValidationError):
    """The most specific failures under `error`: a failed anyOf/oneOf names its branches' reasons."""
    if error.context:
        # keep the branches that got furthest into the instance; they say what was meant
        deepest = max(len(e.absolute_path) for e in error.context)
        for e in error.context:
            if len(e.absolute_path) == deepest:
                yield from _leaves(e)
    else:
        yield error


def problems(doc, xml: bool = False) -> list[dict[str, str]]:
    try:
        _fast(xml)(doc)
        return []
    except fastjsonschema.JsonSchemaException:
        pass
    found = _all_problems(doc, xml)
    if found:
        return found
    # the two validators agree on what they refuse; if only the fast one did, say what it saw
    with _COMPILING:
        detailed = _compiled(xml, True)
    try:
        detailed(doc)
    except fastjsonschema.JsonSchemaException as exc:
        return [{"path": "$" + str(exc.name).removeprefix("data"), "reason": str(exc.message)}]
    return [{"path": "$", "reason": "refused by the compiled validator"}]  # the same checks: not reached


def _all_problems(doc, xml: bool) -> list[dict[str, str]]:
    seen: set[tuple[str, str]] = set()
    out: list[dict[str, str]] = []
    for error in sorted(validator(xml).iter_errors(doc), key=lambda e: list(map(str, e.absolute_path))):
        for leaf in _leaves(error):
            for item in _described(leaf):
                if item not in seen:
                    seen.add(item)
                    out.append({"path": item[0], "reason": item[1]})
                if len(out) >= MAX_PROBLEMS:
                    return out
    return out


def _described(error: ValidationError):
    """(path, reason) pairs; a missing member is named by its own path."""
    if error.validator == "required" and isinstance(error.instance, dict):
        for name in error.validator_value:
            if name not in error.instance:
                yield json_path([*error.absolute_path, name]), "required member is missing"
        return
    yield json_path(error.absolute_path), _reason(error)


def _reason(error: ValidationError) -> str:
    message = error.message
    return message if len(message) <= 300 else message[:297] + "..."


MAX_DEPTH = 64  # GS1's own examples nest extensions about 10 levels deep


def too_deep(value, limit: int) -> str | None:
    """The path of the first object or array nested deeper than `limit`, if any. Iterative, so a
    hostile document cannot exhaust the stack here (the validators below recurse). A document
    within the limit (every captured one) is walked without building a path for each container
    (~13 -> ~7 us an event); only a refused one is walked again to name the place."""
    return _deep_path(value, limit) if _scan(value, limit)[0] else None


def _scan(value, limit: int) -> tuple[bool, bool]:
    """In one walk (the names cost ~3 us an event more): whether `value` nests deeper than
    `limit`, and whether a member's name holds a character no IRI holds (`_NOT_IRI`)."""
    level, depth, names = [value], 0, []
    while level:
        if depth > limit:
            return True, False
        below = []
        for v in level:
            if isinstance(v, dict):
                names.append("".join(v))
                below.extend(x for x in v.values() if isinstance(x, dict | list))
            elif isinstance(v, list):
                below.extend(x for x in v if isinstance(x, dict | list))
        level, depth = below, depth + 1
    return False, _NOT_IRI.search("".join(names)) is not None


def _deep_path(value, limit: int) -> str | None:
    """`too_deep`'s answer for a document known to nest deeper than `limit`: the path of the first
    container (depth first, last member first) that does."""
    stack = [(value, "$", 0)]
    while stack:
        v, path, depth = stack.pop()
        if depth > limit:
            return path
        if isinstance(v, dict):
            stack.extend((x, f"{path}.{k}", depth + 1) for k, x in v.items() if isinstance(x, dict | list))
        elif isinstance(v, list):
            stack.extend((x, f"{path}[{i}]", depth + 1) for i, x in enumerate(v) if isinstance(x, dict | list))
    return None


#: characters no IRI holds (RFC 3987: spaces, controls, <>"{}|\^`): a member named with one is no
#: term or compact IRI, and would break the XML an event is answered in (`ex:a><bizStep>...` wrote
#: elements of its own into an answer: found from outside)
_NOT_IRI = re.compile(r'[\x00-\x20\x7f-\x9f<>"{}|\\^`]')


def bad_member_name(value) -> str | None:
    """The path of the first object member whose name holds a character no IRI may hold, if any."""
    stack = [(value, "$")]
    while stack:
        v, path = stack.pop()
        if isinstance(v, dict):
            if _NOT_IRI.search("".join(v)):
                bad = next(k for k in v if _NOT_IRI.search(k))
                return f"{path}[{json.dumps(bad)}]"
            stack.extend((x, f"{path}.{k}") for k, x in v.items() if isinstance(x, dict | list))
        elif isinstance(v, list):
            stack.extend((x, f"{path}[{i}]") for i, x in enumerate(v) if isinstance(x, dict | list))
    return None


def check_capture(body, xml: bool = False) -> tuple[dict, list[dict]]:
    """A valid EPCIS document and its events, or InvalidEpcis listing every problem. `xml`: it
    came as XML, and is checked as GS1's XSD allows (a document of master data alone too)."""
    if not isinstance(body, dict):
        raise InvalidEpcis([{"path": "$", "reason": "an EPCIS document or event must be a JSON object"}])
    kind = body.get("type")
    if kind in EVENT_TYPES:
        doc = _wrap(body)
    elif kind == "EPCISDocument":
        doc = body
    else:
        raise InvalidEpcis(
            [{"path": "$.type", "reason": f"expected EPCISDocument or one of {', '.join(EVENT_TYPES)}, got {kind!r}"}]
        )
    deep, misnamed = _scan(body, MAX_DEPTH)
    if deep:
        raise InvalidEpcis(
            [{"path": _deep_path(body, MAX_DEPTH), "reason": f"nested more than {MAX_DEPTH} levels deep"}]
        )
    if misnamed:
        path = bad_member_name(body)
        raise InvalidEpcis(
            [{"path": path, "reason": "a member's name holds a character no IRI holds (a space, <, >, ...)"}]
        )
    found = problems(body, xml)
    if found:
        raise InvalidEpcis(found)
    events = doc["epcisBody"]["eventList"]
    if not events and not (xml and has_master_data(doc)):
        raise InvalidEpcis([{"path": "$.epcisBody.eventList", "reason": "the document holds no events"}])
    return doc, events


def _wrap(event: dict) -> dict:
    """A bare event as the one event of a document (its @context becomes the document's)."""
    event = dict(event)
    context = event.pop("@context", None)
    return {
        "@context": context,
        "type": "EPCISDocument",
        "schemaVersion": "2.0",
        "creationDate": event.get("recordTime") or event.get("eventTime"),
        "epcisBody": {"eventList": [event]},
    }


def has_master_data(doc: dict) -> bool:
    header = doc.get("epcisHeader")
    md = header.get("epcisMasterData") if isinstance(header, dict) else None
    return isinstance(md, dict) and bool(md.get("vocabularyList"))
