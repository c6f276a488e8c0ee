"""EPCIS Event Hash ID (CBV 2.0 section 8.9): `ni:///sha-256;<hex>?ver=CBV2.0`.

Two systems that capture the same event compute the same ID, whatever serialisation each used:
the event is reduced to a pre-hash string of its fields in the order CBV 2.0 fixes, with
- timestamps in UTC at millisecond precision (`2005-04-04T02:33:31.116Z`),
- CBV short names and old URNs as web vocabulary URIs (`https://ref.gs1.org/cbv/BizStep-shipping`),
- EPC URNs and Digital Link URIs as canonical GS1 Digital Link URIs (`identifiers.canonical`),
- numbers without redundant zeros, lists in sorted order,
- user extensions as `{namespace}name=value`, sorted, after the standard fields;
`recordTime`, `eventID` and `errorDeclaration` do not take part (an error declaration names the
same event). The result matches the `epcis-event-hash-generator` reference implementation,
which the tests run on GS1's example documents and on generated events.
"""

from __future__ import annotations

import hashlib
from functools import lru_cache

from ledger.errors import LedgerError

from .canonical import UNREAD, abbreviations, canonical_value, expanded_terms, namespaces_of, typed_terms, utc_millis
from .hash_tree import Converter, Node
from .hash_tree import rest as _rest
from .prehash_direct import direct

_QTY = [("quantityElement", [("epcClass", None), ("quantity", None), ("uom", None)])]
_EPC = [("epc", None)]
PROPERTY_ORDER = [
    ("eventTime", None), ("eventTimeZoneOffset", None), ("certificationInfo", None), ("parentID", None),
    ("epcList", _EPC), ("inputEPCList", _EPC), ("childEPCs", _EPC), ("quantityList", _QTY),
    ("childQuantityList", _QTY), ("inputQuantityList", _QTY), ("outputEPCList", _EPC),
    ("outputQuantityList", _QTY), ("action", None), ("transformationID", None), ("bizStep", None),
    ("disposition", None), ("persistentDisposition", [("set", None), ("unset", None)]),
    ("readPoint", [("id", None)]), ("bizLocation", [("id", None)]),
    ("bizTransactionList", [(("type", None), ("bizTransaction", None))]),
    ("sourceList", [(("type", None), ("source", None))]),
    ("destinationList", [(("type", None), ("destination", None))]),
    ("sensorElementList", [("sensorElement", [
        ("sensorMetadata", [(n, None) for n in (
            "time", "startTime", "endTime", "deviceID", "deviceMetadata", "rawData", "dataProcessingMethod",
            "bizRules")]),
        ("sensorReport", [(n, None) for n in (
            "type", "exception", "deviceID", "deviceMetadata", "rawData", "dataProcessingMethod", "time",
            "microorganism", "chemicalSubstance", "value", "component", "stringValue", "booleanValue",
            "hexBinaryValue", "uriValue", "minValue", "maxValue", "meanValue", "sDev", "percRank", "percValue",
            "uom", "coordinateReferenceSystem")]),
    ])]),
]  # fmt: skip
NOT_HASHED = UNREAD
# --- pre-hash string ---------------------------------------------------------------------------


def _is_extension(name) -> bool:
    return isinstance(name, str) and "{" in name and "/}" in name


def _take_extensions(children: list) -> list:
    """Extensions inside a standard field (readPoint, sensorElement, ...) go after its own fields."""
    if len(children) <= 1 or any(isinstance(c[0], str) and ("eventTime" in c[0] or "action" in c[0]) for c in children):
        return []
    ext = [c for c in children if _is_extension(c[0])]
    for c in ext:
        children.remove(c)
    return ext


@lru_cache(maxsize=1024)
def _is_time(name: str) -> bool:
    lower = name.lower()
    return "time" in lower and "offset" not in lower


def _field(node: Node, sub_order, join: str) -> str:
    name, text, children = node
    nested = _ordered(children, sub_order, join) if sub_order else ""
    text = text.strip()
    if text:
        text = "=" + (utc_millis(text) if _is_time(name) else canonical_value(text))
    return name + text + nested if text or nested else ""


_POSITIONS: dict[int, dict] = {}


def _positions(order: list) -> dict:
    """{name: (position, sub_order)} of an order (each of them a module constant)."""
    found = _POSITIONS.get(id(order))
    if found is None:
        found = _POSITIONS[id(order)] = {name: (i, sub) for i, (name, sub) in reversed(list(enumerate(order)))}
    return found


def _ordered(children: list, order, join: str) -> str:
    """Fields named in `order`, each group sorted; consumed leaves leave `children`."""
    out = ""
    extensions = _take_extensions(children)
    positions = _positions(order)
    groups: dict = {}
    for c in children:  # one pass: the children of each name the order has, in the order they came
        if type(c[0]) is str and c[0] in positions:
            groups.setdefault(c[0], []).append(c)
    consumed = []
    for name in sorted(groups, key=positions.__getitem__):
        group, sub_order = groups[name], positions[name][1]
        values = []
        for child in group:
            if not sub_order and not child[2]:  # a leaf: `_field` inline, the most common case
                text = child[1].strip()
                if text:
                    values.append(name + "=" + (utc_millis(text) if _is_time(name) else canonical_value(text)))
                consumed.append(child)
                continue
            s = _field(child, sub_order, join)
            if s:
                values.append(s)
            if not child[2]:
                consumed.append(child)
        values.sort()
        if "".join(values):
            out = join.join(([out] if out else []) + values)
    if consumed:
        gone = set(map(id, consumed))
        children[:] = [c for c in children if id(c) not in gone]
    if extensions:
        out = out + join + _rest(extensions, join)
    return out


def prehash(
    event: dict, namespaces: dict[str, str] | None = None, join: str = "", xml: bool = False, generic: bool = False
) -> str:
    """The CBV 2.0 pre-hash string of one event (`join="\\n"` makes it readable). `xml`: the event
    came as XML, whose booleans read `true` / `false` (a JSON boolean reads `True`, as the
    reference implementation reads each form). `generic`: never `prehash_direct`'s one pass (its tests
    compare the two)."""
    if not join and not xml and not generic:
        # one pass for the shapes events have, on the typed fields' terms; the passes below when it
        # leaves the event (None) or met a vocabulary URI elsewhere, whose tails might abbreviate
        terms = typed_terms(event)
        convert = Converter(namespaces or {}, abbreviations(frozenset(terms)), xml)
        fields = direct(event, convert)
        if fields is not None and convert.vocabulary <= terms:
            return "eventType=" + convert.term(event.get("type", "")) + fields
    convert = Converter(namespaces or {}, abbreviations(frozenset(expanded_terms(event))), xml)
    name = convert.term(event.get("type", ""))
    if not join and not xml and not generic:
        fields = direct(event, convert)
        if fields is not None:
            return "eventType=" + name + fields
    children = convert.children(event)
    head = _ordered(children, PROPERTY_ORDER, join)
    rest = [c for c in children if c[0] not in NOT_HASHED]
    return "eventType=" + name + join + head + join + (_rest(rest, join) if rest else "")


def event_digest(event: dict, namespaces: dict[str, str] | None = None, xml: bool = False) -> str:
    """SHA-256 (hex) of the event's pre-hash string: the part of its hash ID after `sha-256;`."""
    return hashlib.sha256(prehash(event, namespaces, xml=xml).encode("utf-8")).hexdigest()


def hash_id_of(digest: str) -> str:
    return f"ni:///sha-256;{digest}?ver=CBV2.0"


def hash_id(event: dict, namespaces: dict[str, str] | None = None) -> str:
    return hash_id_of(event_digest(event, namespaces))


def document_events(doc: dict) -> list[dict]:
    """The events of an EPCISDocument (or query document), or a lone event as a list of one.
    A lone event's own @context is its document's, as when it is captured (`schema.check_capture`
    wraps it in a document): not a field of the event, so not hashed."""
    body = doc.get("epcisBody")
    if body is None:
        return [{k: v for k, v in doc.items() if k != "@context"}]
    if "eventList" in body:
        return list(body["eventList"])
    if "event" in body:
        return [body["event"]]
    results = body.get("queryResults", {}).get("resultsBody", {})
    return list(results.get("eventList", []))


class UnhashableEvent(LedgerError):
    """An event whose pre-hash string cannot be built; `path` names it in its document."""

    def __init__(self, path: str, reason: str):
        self.path, self.reason = path, reason
        super().__init__(f"{path}: {reason}")


#: what building a pre-hash string raises on a shape no valid document has
_SHAPE_ERRORS = (TypeError, ValueError, KeyError, IndexError, AttributeError, RecursionError)


def document_digests(doc: dict, xml: bool = False) -> list[str]:
    """`event_digest` of each event, with the prefixes of the document and of the event. An
    event that cannot be hashed raises `UnhashableEvent` naming its path, never anything else."""
    try:
        ns = namespaces_of(doc.get("@context"))
        events = document_events(doc)
    except _SHAPE_ERRORS as exc:
        raise UnhashableEvent("$", f"cannot read the document's events ({type(exc).__name__})") from None
    where = "$.epcisBody.eventList[{}]" if "epcisBody" in doc else "$"
    out = []
    for i, e in enumerate(events):
        try:
            own = namespaces_of(e["@context"]) if isinstance(e, dict) and "@context" in e else None
            out.append(event_digest(e, ns | own if own else ns, xml))
        except _SHAPE_ERRORS as exc:
            raise UnhashableEvent(where.format(i), f"cannot compute the event hash ID ({type(exc).__name__})") from None
    return out


def document_hash_ids(doc: dict) -> list[str]:
    return [hash_id_of(d) for d in document_digests(doc)]
