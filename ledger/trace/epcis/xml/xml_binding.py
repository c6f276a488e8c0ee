"""EPCIS XML documents (EPCIS 2.0 and EPCIS 1.2 schemas) read into the JSON-LD form capture takes,
so an event hashes, is stored and is deduplicated the same whichever form arrives first.

Parsing (`xml_parser`) is strict and never expands anything: DTD declarations, entities and
deep nesting are refused (`InvalidXml`, a 400).

The mapping follows EPCIS 2.0 section 9 (JSON/XML): EPCIS 1.2's `extension` / `baseExtension`
wrappers are unwrapped, list wrappers become JSON lists (`<epcList><epc>` -> `epcList: [...]`),
`type` attributes of business transactions, sources and destinations become `type` keys,
sensor metadata and report attributes become objects (numbers as numbers), and elements of
other namespaces become `prefix:name` keys with the document's prefixes in its `@context`
(an element with attributes keeps its text as `#text`)."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

from ledger.trace.epcis.canonical import vocabulary

from .xml_parser import Element, InvalidXml, parse

__all__ = ["InvalidXml", "to_document"]
EPCIS_NS = ("urn:epcglobal:epcis:xsd:1", "urn:epcglobal:epcis:xsd:2")
QUERY_NS = ("urn:epcglobal:epcis-query:xsd:1", "urn:epcglobal:epcis-query:xsd:2")
XSI = "http://www.w3.org/2001/XMLSchema-instance"
CONTEXT = "https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld"
EVENT_TYPES = ("ObjectEvent", "AggregationEvent", "TransactionEvent", "TransformationEvent", "AssociationEvent")
_EPC_LISTS = ("epcList", "childEPCs", "inputEPCList", "outputEPCList")
_QTY_LISTS = ("quantityList", "childQuantityList", "inputQuantityList", "outputQuantityList")
_PAIRS = {"bizTransactionList": "bizTransaction", "sourceList": "source", "destinationList": "destination"}
_NUMBERS = ("value", "minValue", "maxValue", "meanValue", "sDev", "percRank", "percValue", "quantity")


def _child(el: Element, name: str) -> Element | None:
    return next((c for c in el.children if c.name == name and not c.ns), None)


# what an EPCIS 1.2 `extension` wrapper may hold that this version knows; any other element
# without a namespace in one is reserved to future versions of the standard (the XSD's
# `##local` wildcard) and has no JSON form: it is left out
_KNOWN = {
    *EVENT_TYPES, "eventTime", "recordTime", "eventTimeZoneOffset", "eventID", "certificationInfo",
    "errorDeclaration", "declarationTime", "reason", "correctiveEventIDs", "epcList", "action", "bizStep",
    "disposition", "persistentDisposition", "readPoint", "bizLocation", "bizTransactionList", "quantityList",
    "sourceList", "destinationList", "sensorElementList", "ilmd", "parentID", "childEPCs", "childQuantityList",
    "inputEPCList", "inputQuantityList", "outputEPCList", "outputQuantityList", "transformationID", "id",
}  # fmt: skip


def _unwrapped(el: Element, wrapped: bool = False) -> list[Element]:
    """Children, with EPCIS 1.2's `extension` and `baseExtension` wrappers opened."""
    out = []
    for c in el.children:
        if not c.ns and c.name in ("extension", "baseExtension"):
            out.extend(_unwrapped(c, True))
        elif c.ns or not wrapped or c.name in _KNOWN:
            out.append(c)
    return out


def _expanded(value: str) -> str:
    """`gs1:` and `cbv:` values as the URIs the EPCIS context makes them (as the reference reads XML)."""
    for prefix, uri in (("gs1:", "https://gs1.org/voc/"), ("cbv:", "https://ref.gs1.org/cbv/")):
        if value.startswith(prefix):
            return uri + value[len(prefix) :]
    return value


_CBV_URNS = tuple(f"urn:epcglobal:cbv:{kind}:" for kind in ("bizstep", "disp", "btt", "sdt", "er"))


def _cbv(value: str) -> str:
    """A CBV URN as the bare name the JSON binding writes (`urn:epcglobal:cbv:bizstep:shipping` -> `shipping`)."""
    for prefix in _CBV_URNS:
        if value.startswith(prefix):
            return value[len(prefix) :]
    return _expanded(value)


def _number(text: str) -> int | float | str:
    """As JSON has it; InvalidXml for `INF`, `NaN`, beyond a double (xsd:double reads them; `INF` was a 500)."""
    try:
        d = Decimal(text.strip())
    except InvalidOperation:
        return text.strip()
    if not d.is_finite() or abs(d) > Decimal("1.7976931348623157e308"):
        raise InvalidXml(f"{text.strip()[:40]!r} is not a finite number (EPCIS JSON has no such number)")
    return int(d) if d == d.to_integral_value() and "." not in text and "e" not in text.lower() else float(d)


class _Converter:
    def __init__(self, prefixes: dict[str, str]):
        self.by_ns = {ns: p for p, ns in prefixes.items() if p}
        self.taken = set(prefixes)  # every prefix the document declares, whichever namespace it kept
        self.used: dict[str, str] = {}

    def key(self, ns: str, name: str) -> str:
        prefix = self.by_ns.get(ns)
        if prefix is None:  # a default namespace, or a prefix declared again for another namespace
            n = len(self.used) + 1
            while f"ns{n}" in self.taken:  # a made prefix never one the document declares (`ns1`
                n += 1  # of urn:C made for urn:D stored the element under the wrong namespace)
            prefix = f"ns{n}"
            self.taken.add(prefix)
            self.by_ns[ns] = prefix
        self.used[prefix] = ns
        return f"{prefix}:{name}"

    def attrs(self, el: Element, numbers: tuple[str, ...] = ()) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for (ns, name), v in el.attrs.items():
            key = self.key(ns, name) if ns else name  # xsi:type too: the reference hashes it
            if name in numbers and not ns:
                out[key] = _number(v)
            elif name == "booleanValue" and not ns:
                out[key] = v.strip() in ("true", "1")
            else:
                out[key] = _expanded(v)
        return out

    def extension(self, el: Element) -> Any:
        """A user extension element as JSON."""
        attrs = self.attrs(el)
        if not el.children and not attrs:
            return _expanded(el.text.strip())
        body: dict[str, Any] = attrs
        for c in el.children:
            self.put(body, self.key(c.ns, c.name) if c.ns else c.name, self.extension(c))
        if el.text.strip():
            body["#text"] = _expanded(el.text.strip())
        return body

    @staticmethod
    def put(body: dict, key: str, value: Any) -> None:
        if key in body:
            body[key] = body[key] if isinstance(body[key], list) else [body[key]]
            body[key].append(value)
        else:
            body[key] = value

    def extensions_of(self, el: Element, body: dict) -> None:
        for c in _unwrapped(el):
            if c.ns:
                self.put(body, self.key(c.ns, c.name), self.extension(c))

    def event(self, el: Element) -> dict[str, Any]:
        event: dict[str, Any] = {"type": el.name}
        for c in _unwrapped(el):
            if c.ns:
                self.put(event, self.key(c.ns, c.name), self.extension(c))
            elif c.name in _EPC_LISTS:
                event[c.name] = [e.text.strip() for e in c.children if not e.ns]
            elif c.name in _QTY_LISTS:
                event[c.name] = [self.quantity(q) for q in c.children if not q.ns]
            elif c.name in _PAIRS:
                event[c.name] = [self.pair(p, _PAIRS[c.name]) for p in c.children if not p.ns]
            elif c.name in ("readPoint", "bizLocation"):
                event[c.name] = self.location(c)
            elif c.name == "persistentDisposition":
                event[c.name] = self.lists(c, ("set", "unset"))
            elif c.name == "errorDeclaration":
                event[c.name] = self.error_declaration(c)
            elif c.name == "sensorElementList":
                event[c.name] = [self.sensor_element(s) for s in c.children if not s.ns]
            elif c.name == "ilmd":
                event[c.name] = {}
                self.extensions_of(c, event[c.name])
            elif c.name == "certificationInfo":
                self.put(event, c.name, c.text.strip())
            elif c.name in ("bizStep", "disposition"):
                event[c.name] = _cbv(c.text.strip())
            else:
                event[c.name] = _expanded(c.text.strip())
        return event

    def quantity(self, q: Element) -> dict:
        out: dict[str, Any] = {}
        for c in q.children:
            if c.text.strip():  # an empty (xsi:nil) quantity is no quantity
                out[c.name] = _number(c.text) if c.name == "quantity" else c.text.strip()
        return out

    def pair(self, p: Element, name: str) -> dict:
        out: dict[str, Any] = {}
        if ("", "type") in p.attrs:
            out["type"] = _cbv(p.attrs[("", "type")])
        out[name] = p.text.strip()
        return out

    def location(self, el: Element) -> dict:
        out: dict[str, Any] = {}
        for c in _unwrapped(el):
            if c.ns:
                self.put(out, self.key(c.ns, c.name), self.extension(c))
            else:
                out[c.name] = c.text.strip()
        return out

    def lists(self, el: Element, names: tuple[str, ...]) -> dict:
        out: dict[str, list] = {}
        for c in el.children:
            if c.name in names and not c.ns:
                out.setdefault(c.name, []).append(_cbv(c.text.strip()))
        return out

    def error_declaration(self, el: Element) -> dict:
        out: dict[str, Any] = {}
        for c in _unwrapped(el):
            if c.ns:
                self.put(out, self.key(c.ns, c.name), self.extension(c))
            elif c.name == "correctiveEventIDs":
                out[c.name] = [x.text.strip() for x in c.children if not x.ns]
            elif c.name == "reason":
                out[c.name] = _cbv(c.text.strip())
            else:
                out[c.name] = c.text.strip()
        return out

    def sensor_element(self, el: Element) -> dict:
        out: dict[str, Any] = {}
        for c in el.children:
            if c.ns:
                self.put(out, self.key(c.ns, c.name), self.extension(c))
            elif c.name == "sensorMetadata":
                out[c.name] = self.attrs(c)
            elif c.name == "sensorReport":
                report = self.attrs(c, _NUMBERS)
                for k in ("type", "component", "exception"):  # the JSON binding's bare GS1 vocabulary names
                    v = report.get(k)
                    bare = v.removeprefix("https://gs1.org/voc/") if isinstance(v, str) else None
                    if bare != v and bare in vocabulary()["terms"][f"sensorElementList/sensorReport/{k}"]:
                        report[k] = bare  # a name the context does not know stays the URI it is
                out.setdefault(c.name, []).append(report)
        return out


def _events_parent(root: Element) -> Element | None:
    body = _child(root, "EPCISBody")
    if body is None:
        return None
    if root.ns in QUERY_NS or root.name == "EPCISQueryDocument":
        results = next((c for c in body.children if c.name == "QueryResults"), None)
        rb = _child(results, "resultsBody") if results is not None else None
        return _child(rb, "EventList") if rb is not None else None
    return _child(body, "EventList")


def _master_data(root: Element, conv: _Converter) -> list[dict] | None:
    header = _child(root, "EPCISHeader")
    if header is None:
        return None
    stack, found = [header], None
    while stack and found is None:
        el = stack.pop()
        found = next((c for c in el.children if c.name == "VocabularyList"), None)
        stack.extend(el.children)
    if found is None:
        return None
    out = []
    for vocab in found.children:
        elements = []
        vel = _child(vocab, "VocabularyElementList")
        for v in vel.children if vel is not None else []:
            attributes = [{"id": a.attrs.get(("", "id"), ""), "attribute": a.text.strip()}
                          for a in v.children if a.name == "attribute"]  # fmt: skip
            kids = _child(v, "children")
            children = [k.text.strip() for k in kids.children] if kids is not None else []
            elements.append({"id": v.attrs.get(("", "id"), ""), "attributes": attributes, "children": children})
        out.append({"type": vocab.attrs.get(("", "type"), ""), "vocabularyElementList": elements})
    return out


def to_document(data: bytes) -> dict:
    """The EPCISDocument (JSON-LD form) an EPCIS 1.2 or 2.0 XML capture or query document holds."""
    root, prefixes = parse(data)
    if root.name not in ("EPCISDocument", "EPCISQueryDocument") or root.ns not in ("", *EPCIS_NS, *QUERY_NS):
        raise InvalidXml(f"the root is {{{root.ns}}}{root.name}: expected epcis:EPCISDocument (EPCIS 1.2 or 2.0)")
    parent = _events_parent(root)
    if parent is None and _child(root, "EPCISBody") is None:
        raise InvalidXml("no EPCISBody in the document")
    conv = _Converter(prefixes)
    events = []
    for el in _unwrapped(parent) if parent is not None else []:  # the XSD's EventList is optional
        if el.ns or el.name not in EVENT_TYPES:
            raise InvalidXml(f"unknown event element {el.name!r} in the EventList")
        events.append(conv.event(el))
    doc: dict[str, Any] = {
        "type": "EPCISDocument",
        "schemaVersion": "2.0",
        "creationDate": root.attrs.get(("", "creationDate"), ""),
        "epcisBody": {"eventList": events},
    }
    master = _master_data(root, conv)
    if master:
        doc["epcisHeader"] = {"epcisMasterData": {"vocabularyList": master}}
    doc = {"@context": [CONTEXT, dict(sorted(conv.used.items()))] if conv.used else [CONTEXT]} | doc
    return doc
