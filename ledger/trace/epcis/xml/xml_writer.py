"""Stored events written as an EPCIS 2.0 XML query document (`Accept: application/xml`).

The JSON binding's fields go back to their XML elements (EPCIS 2.0 section 9): lists to their
wrappers, `type` keys of business transactions, sources and destinations to attributes, sensor
metadata and reports to attributes, bare CBV names to CBV URNs, and `prefix:name` extensions
to elements of the namespaces the events' documents declared (an extension object's keys without
a prefix, and `xsi:` keys, as attributes; `#text` as its text). An extension named by an absolute
IRI becomes an element of that IRI's namespace (a prefix made here); a name XML cannot hold is
left out: a member's name is never written into the document as it is (`ex:a><bizStep>...`, captured
before names were checked, wrote elements of its own into an answer: found from outside)."""

from __future__ import annotations

import json
import re
from datetime import datetime
from typing import Any
from xml.sax.saxutils import escape, quoteattr

from ledger.store.models import EpcisEvent
from ledger.trace.epcis.canonical import namespaces_of
from ledger.trace.epcis.query import as_captured

_CBV = {"bizStep": "urn:epcglobal:cbv:bizstep:", "disposition": "urn:epcglobal:cbv:disp:",
        "bizTransactionList": "urn:epcglobal:cbv:btt:", "sourceList": "urn:epcglobal:cbv:sdt:",
        "destinationList": "urn:epcglobal:cbv:sdt:", "reason": "urn:epcglobal:cbv:er:"}  # fmt: skip
_ORDER = ("eventTime", "recordTime", "eventTimeZoneOffset", "eventID", "certificationInfo", "errorDeclaration",
          "parentID", "epcList", "childEPCs", "inputEPCList", "quantityList", "childQuantityList",
          "inputQuantityList", "outputEPCList", "outputQuantityList", "action", "transformationID", "bizStep",
          "disposition", "persistentDisposition", "readPoint", "bizLocation", "bizTransactionList", "sourceList",
          "destinationList", "sensorElementList", "ilmd")  # fmt: skip
_EPCS = ("epcList", "childEPCs", "inputEPCList", "outputEPCList")
_PAIRS = {"bizTransactionList": "bizTransaction", "sourceList": "source", "destinationList": "destination"}


_NCNAME = r"[^\W\d][\w.\-]*"  # an XML name without a colon (Unicode letters, digits, _ . -)
_QNAME = re.compile(rf"(?:{_NCNAME}:)?{_NCNAME}\Z")
_IRI = re.compile(rf"((?:[a-zA-Z][\w+.\-]*://|urn:)[^\s<>\"]*[/#:])({_NCNAME})\Z")  # namespace, local name


def _cbv(field: str, value: Any) -> str:
    text = str(value)
    prefix = _CBV.get(field)
    return prefix + text if prefix and ":" not in text else text


def _attr_value(v: Any) -> str:
    return ("true" if v else "false") if isinstance(v, bool) else str(v)


class _Writer:
    def __init__(self) -> None:
        self.namespaces: dict[str, str] = {}
        self.out: list[str] = []
        self._made: dict[str, str] = {}  # namespace IRI => the prefix made for it

    def name(self, key: str) -> str | None:
        """`key` as an XML element name: as it is if it is one (`ex:temp`), a prefix made for an
        absolute IRI's namespace (`https://ns.example/epcis#temp`), else None (left out)."""
        if _QNAME.match(key):
            return key
        m = _IRI.match(key)
        if m is None:
            return None
        namespace, local = m.groups()
        prefix = self._made.get(namespace)
        if prefix is None:
            n = len(self._made) + 1
            while f"ext{n}" in self.namespaces:
                n += 1
            prefix = self._made[namespace] = f"ext{n}"
            self.namespaces[prefix] = namespace
        return f"{prefix}:{local}"

    def ext(self, key: str, value: Any, ns: dict[str, str]) -> None:
        name = self.name(key)
        if name is None:
            return
        prefix = key.split(":", 1)[0]
        if prefix in ns and name == key:
            self.namespaces.setdefault(prefix, ns[prefix])
        key = name
        for v in value if isinstance(value, list) else [value]:
            if isinstance(v, dict):
                plain = [k for k in v if (":" not in k or k.startswith("xsi:")) and k != "#text" and _QNAME.match(k)]
                attrs = "".join(f" {k}={quoteattr(_attr_value(v[k]))}" for k in plain)
                if any(k.startswith("xsi:") for k in v):
                    self.namespaces.setdefault("xsi", "http://www.w3.org/2001/XMLSchema-instance")
                self.out.append(f"<{key}{attrs}>")
                if "#text" in v:
                    self.out.append(escape(str(v["#text"])))
                for k, x in v.items():
                    if ":" in k and not k.startswith("xsi:"):
                        self.ext(k, x, ns)
                self.out.append(f"</{key}>")
            else:
                self.out.append(f"<{key}>{escape(_attr_value(v))}</{key}>")

    def simple(self, name: str, value: Any) -> None:
        self.out.append(f"<{name}>{escape(_cbv(name, value))}</{name}>")

    def event(self, e: dict, ns: dict[str, str]) -> None:
        kind = e.get("type", "ObjectEvent")
        self.out.append(f"<{kind}>")
        for name in _ORDER:
            if name in e:
                self.field(name, e[name], ns)
        for k, v in e.items():
            if ":" in k and not k.startswith("@"):
                self.ext(k, v, ns)
        self.out.append(f"</{kind}>")

    def field(self, name: str, v: Any, ns: dict[str, str]) -> None:  # noqa: PLR0912
        if name in _EPCS:
            self.out.append(f"<{name}>" + "".join(f"<epc>{escape(str(x))}</epc>" for x in v) + f"</{name}>")
        elif name.endswith("QuantityList") or name == "quantityList":
            self.out.append(f"<{name}>")
            for q in v:
                self.out.append("<quantityElement>" + "".join(f"<{k}>{escape(str(q[k]))}</{k}>"
                                for k in ("epcClass", "quantity", "uom") if k in q) + "</quantityElement>")  # fmt: skip
            self.out.append(f"</{name}>")
        elif name in _PAIRS:
            item = _PAIRS[name]
            self.out.append(f"<{name}>")
            for p in v:
                t = f" type={quoteattr(_cbv(name, p['type']))}" if "type" in p else ""
                self.out.append(f"<{item}{t}>{escape(str(p.get(item, '')))}</{item}>")
            self.out.append(f"</{name}>")
        elif name in ("readPoint", "bizLocation"):
            self.out.append(f"<{name}><id>{escape(str(v.get('id', '')))}</id>")
            for k, x in v.items():
                if ":" in k:
                    self.ext(k, x, ns)
            self.out.append(f"</{name}>")
        elif name == "persistentDisposition":
            self.out.append("<persistentDisposition>" + "".join(f"<{k}>{escape(_cbv('disposition', d))}</{k}>"
                            for k in ("set", "unset") for d in v.get(k, [])) + "</persistentDisposition>")  # fmt: skip
        elif name == "errorDeclaration":
            self.out.append("<errorDeclaration>")
            for k in ("declarationTime", "reason"):
                if k in v:
                    self.simple(k, v[k])
            if v.get("correctiveEventIDs"):
                self.out.append("<correctiveEventIDs>" + "".join(f"<correctiveEventID>{escape(x)}</correctiveEventID>"
                                for x in v["correctiveEventIDs"]) + "</correctiveEventIDs>")  # fmt: skip
            self.out.append("</errorDeclaration>")
        elif name == "sensorElementList":
            self.sensors(v, ns)
        elif name == "ilmd":
            self.out.append("<ilmd>")
            for k, x in v.items():
                if ":" in k:
                    self.ext(k, x, ns)
            self.out.append("</ilmd>")
        else:
            for x in v if isinstance(v, list) else [v]:
                self.simple(name, x)

    def sensors(self, elements: list, ns: dict[str, str]) -> None:
        self.out.append("<sensorElementList>")
        for el in elements:
            self.out.append("<sensorElement>")
            if "sensorMetadata" in el:
                self.out.append("<sensorMetadata" + self.attrs(el["sensorMetadata"], ns) + "/>")
            for r in el.get("sensorReport", []):
                self.out.append("<sensorReport" + self.attrs(r, ns) + "/>")
            for k, x in el.items():
                if ":" in k:
                    self.ext(k, x, ns)
            self.out.append("</sensorElement>")
        self.out.append("</sensorElementList>")

    def attrs(self, obj: dict, ns: dict[str, str]) -> str:
        for k in obj:
            p = k.split(":", 1)[0]
            if ":" in k and p in ns:
                self.namespaces.setdefault(p, ns[p])
        return "".join(f" {k}={quoteattr(_attr_value(v))}" for k, v in obj.items() if _QNAME.match(k))


def query_document_xml(rows: list[EpcisEvent], created: datetime, query_name: str | None) -> bytes:
    w = _Writer()
    for r in rows:
        event = as_captured(r)
        ns = {k: v[1:-1] for k, v in namespaces_of(json.loads(r.context)).items()}
        ns |= {k: v[1:-1] for k, v in namespaces_of(event.get("@context")).items()}
        w.event(event, ns)
    declared = "".join(f" xmlns:{p}={quoteattr(u)}" for p, u in sorted(w.namespaces.items()))
    name = f"<queryName>{escape(query_name)}</queryName>" if query_name else ""
    stamp = created.isoformat(timespec="milliseconds").replace("+00:00", "Z")
    head = (
        '<?xml version="1.0" encoding="UTF-8"?>'
        f'<epcisq:EPCISQueryDocument xmlns:epcisq="urn:epcglobal:epcis-query:xsd:2" '
        f'xmlns:epcis="urn:epcglobal:epcis:xsd:2"{declared} schemaVersion="2.0" creationDate="{stamp}">'
        f"<EPCISBody><epcisq:QueryResults>{name}<resultsBody><EventList>"
    )
    tail = "</EventList></resultsBody></epcisq:QueryResults></EPCISBody></epcisq:EPCISQueryDocument>"
    return (head + "".join(w.out) + tail).encode()
