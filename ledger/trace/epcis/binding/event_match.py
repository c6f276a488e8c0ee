"""How one SimpleEventQuery parameter matches one captured event (EPCIS 2.0 section 8.2.7.1):
identifiers and EPC patterns, quantities, extension fields at the top level, inside
extensions, in ILMD or in an error declaration, sensor reports, and master data attributes.

Each function here answers for one event (a dict as captured, its extension prefixes expanded
by `expand`); `ledger.trace.epcis.binding.simple_query` builds them from the query's parameters."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from ledger.clock import to_utc
from ledger.trace.epcis.binding import epc_patterns, sensor_units
from ledger.trace.epcis.canonical import namespaces_of
from ledger.trace.epcis.capture import full_term
from ledger.trace.epcis.identifiers import canonical

Event = dict[str, Any]
Test = Callable[[Event], bool]

# where identifiers are, per MATCH_ parameter: (list fields, single fields)
EPC_FIELDS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "epc": (("epcList", "childEPCs"), ()),
    "parentID": ((), ("parentID",)),
    "inputEPC": (("inputEPCList",), ()),
    "outputEPC": (("outputEPCList",), ()),
    "anyEPC": (("epcList", "childEPCs", "inputEPCList", "outputEPCList"), ("parentID",)),
}
CLASS_FIELDS: dict[str, tuple[str, ...]] = {
    "epcClass": ("quantityList", "childQuantityList"),
    "inputEPCClass": ("inputQuantityList",),
    "outputEPCClass": ("outputQuantityList",),
    "anyEPCClass": ("quantityList", "childQuantityList", "inputQuantityList", "outputQuantityList"),
}


def identifier(value: str) -> str:
    """An identifier as stored for queries: its canonical Digital Link URI if it names a GS1 key."""
    return canonical(value) or value


class IdMatcher:
    """Values of a MATCH_ parameter: identifiers, or EPC patterns (`urn:epc:idpat:sgtin:0614141.107346.*`
    matches every serial of that GTIN; `urn:epc:idpat:sgtin:0614141.*.*` every item of the company).
    A pattern that is no GS1 key's is matched component by component (`Pattern`)."""

    def __init__(self, values: list[str]):
        self.exact: set[str] = set()
        self.prefixes: list[str] = []
        self.patterns: list[Pattern] = []
        for v in values:
            if "*" not in v:  # an identifier, or a pattern naming every component (`idpat:` as `id:`)
                self.exact.add(identifier(v.replace("urn:epc:idpat:", "urn:epc:id:", 1)))
            elif (c := canonical(v)) is not None:
                self.exact.add(c)
                self.prefixes.append(c + "/")
                self.patterns.append(Pattern(v))  # (a GRAI's or GDTI's serial follows its key with no `/`)
            else:
                self.patterns.append(Pattern(v))

    @property
    def only_exact(self) -> bool:
        return not self.prefixes and not self.patterns

    def __call__(self, value: Any) -> bool:
        if not isinstance(value, str):
            return False
        c = identifier(value)
        if c in self.exact or any(c.startswith(p) for p in self.prefixes):
            return True
        if not self.patterns:
            return False
        parts = _COMPONENTS.split(value.replace("urn:epc:idpat:", "urn:epc:id:", 1))
        return any(p.matches(parts) or p.matches_digital_link(c) for p in self.patterns)


_COMPONENTS = re.compile(r"([.:])")  # an EPC URI's separators, kept in the split


class Pattern:
    """An EPC pattern URI (Tag Data Standard: each component a value, or `*` for any one value):
    compared with an identifier component by component, in time linear in their length. (As a
    regular expression, `[^.:]+` for each `*`, a pattern of several wildcards backtracked for
    minutes on an 80-character identifier, holding the worker: found from outside.) A `*` is a
    whole component or the pattern is refused (ValueError)."""

    def __init__(self, uri: str):
        self.parts = _COMPONENTS.split(uri.replace("idpat:", "id:", 1))
        if any("*" in part and part != "*" for part in self.parts):
            raise ValueError(f"{uri[:80]!r}: in an EPC pattern, * stands for a whole component (e.g. ...0614141.*.*)")

    def matches_digital_link(self, uri: str) -> bool:
        """Whether a canonical Digital Link URI matches, read as an EPC URI cut at the pattern's
        company prefix (`urn:epc:idpat:sgtin:0614141.*.*` finds https://id.gs1.org/01/00614141...)."""
        p = self.parts
        if len(p) < 9 or p[:6] != ["urn", ":", "epc", ":", "id", ":"] or not (p[8].isdigit() or p[8] == "*"):
            return False
        urn = epc_patterns.as_urn(uri, p[6], len(p[8]) if p[8] != "*" else 7)  # (`*`: every one that follows)
        return urn is not None and self.matches(_COMPONENTS.split(urn))

    def matches(self, parts: list[str]) -> bool:
        """Whether an identifier, split by `_COMPONENTS`, matches."""
        return len(parts) == len(self.parts) and all(
            (p == "*" and v != "") or p == v for p, v in zip(self.parts, parts, strict=True)
        )


def identifiers_in(event: Event, lists: tuple[str, ...], singles: tuple[str, ...]) -> Iterator[Any]:
    for f in lists:
        v = event.get(f)
        if isinstance(v, list):
            yield from v
    for f in singles:
        yield event.get(f)


def classes_in(event: Event, fields: tuple[str, ...]) -> Iterator[dict]:
    for f in fields:
        v = event.get(f)
        if isinstance(v, list):
            yield from (q for q in v if isinstance(q, dict))


def number(value: Any) -> Decimal | None:
    """A finite number, else None: `NaN` and `Infinity` are no quantity (and a NaN compared raised, a 500)."""
    if isinstance(value, bool):
        return None
    try:
        d = Decimal(str(value))
    except (InvalidOperation, ValueError):
        return None
    return d if d.is_finite() else None


def when(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        t = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return to_utc(t) if t.tzinfo else None  # as UTC: SQLite compares stored times by their digits


_OPS: dict[str, Callable[[Any, Any], bool]] = {
    "GT": lambda a, b: a > b,
    "GE": lambda a, b: a >= b,
    "LT": lambda a, b: a < b,
    "LE": lambda a, b: a <= b,
}


def compare(op: str, actual: Any, wanted: list[str]) -> bool:
    """EQ_: the value equals one of `wanted` (numbers by value, times by instant, else as text);
    GT_/GE_/LT_/LE_: the value, a number or a time, against the one wanted value."""
    if isinstance(actual, list):
        return any(compare(op, a, wanted) for a in actual)
    if isinstance(actual, dict):  # an element with text and attributes (from XML): its value
        actual = actual.get("#text", actual.get("@value"))
    if op == "EQ":
        for w in wanted:
            a, b = number(actual), number(w)
            if a is not None and b is not None and a == b:
                return True
            ta, tb = when(actual), when(w)
            if ta is not None and tb is not None and ta == tb:
                return True
            if str(actual).lower() == w.lower() if isinstance(actual, bool) else actual == w:
                return True
        return False
    a, b = number(actual), number(wanted[0])
    if a is None or b is None:
        a, b = when(actual), when(wanted[0])
    return a is not None and b is not None and _OPS[op](a, b)


def expand(obj: Any, prefixes: dict[str, str]) -> Any:
    """`obj` with every extension key `prefix:local` written `{namespace}local` (keys of standard
    fields are left as they are)."""
    if isinstance(obj, list):
        return [expand(v, prefixes) for v in obj]
    if not isinstance(obj, dict):
        return obj
    own = prefixes | namespaces_of(obj["@context"]) if "@context" in obj else prefixes
    out = {}
    for k, v in obj.items():
        p, sep, local = k.partition(":")
        key = own[p] + local if sep and p in own else k
        out[key] = expand(v, own)
    return out


def field_name(name: str, prefixes: dict[str, str]) -> str:
    """A query's extension field name as `{namespace}local`: `example:myField` by the query's
    prefixes, `http://ns.example.com/epcis/myField` (or `...#myField`) split at its last / or #."""
    if name.startswith("{"):
        return name
    m = re.fullmatch(r"(https?://.*[/#])([^/#]+)", name)
    if m:
        return "{" + m.group(1) + "}" + m.group(2)
    p, sep, local = name.partition(":")
    return prefixes[p] + local if sep and p in prefixes else name


def quantity_in(element: dict, uom: str | None) -> Any:
    """A quantity element's quantity, in `uom` if one is named: as it is written in that unit, or
    converted from another unit of the same kind (`GE_quantity_KGM=1` finds 1500 GRM, as
    `GE_value_<uom>` converts sensor values); None if it is in no unit of that kind."""
    if uom is None or element.get("uom") == uom:
        return element.get("quantity")
    n = number(element.get("quantity"))
    return None if n is None else sensor_units.convert(n, element.get("uom"), uom)


def compare_quantity(op: str, quantity: Any, wanted: list[str]) -> bool:
    return quantity is not None and compare(op, quantity, wanted)


# --- sensor data ------------------------------------------------------------------------------

_SENSOR_META = {"deviceID", "deviceMetadata", "rawData", "dataProcessingMethod", "bizRules"}
_SENSOR_REPORT_EQ = {
    "type", "deviceID", "deviceMetadata", "rawData", "dataProcessingMethod", "microorganism",
    "chemicalSubstance", "stringValue", "booleanValue", "hexBinaryValue", "uriValue", "component",
}  # fmt: skip


def sensor_term(field: str, value: str) -> str:
    """A sensor report's type or component as its web vocabulary URI (`gs1:Temperature`,
    `Temperature` and `https://gs1.org/voc/Temperature` are one)."""
    if value.startswith("gs1:"):
        value = value[4:]
    return full_term(f"sensorElementList/sensorReport/{field}", value) or value


def sensor_reports(event: Event) -> Iterator[tuple[dict, dict]]:
    for element in event.get("sensorElementList") or []:
        if not isinstance(element, dict):
            continue
        meta = element.get("sensorMetadata") if isinstance(element.get("sensorMetadata"), dict) else {}
        for report in element.get("sensorReport") or [{}]:
            if isinstance(report, dict):
                yield meta, report


def sensor_value(meta: dict, report: dict, field: str) -> Any:
    """A report's own value of `field`, else its element's metadata (device, rules, times)."""
    if field in report:
        value = report[field]
    elif field in _SENSOR_META or field in ("time", "startTime", "endTime"):
        value = meta.get(field)
    else:
        return None
    return sensor_term(field, value) if field in ("type", "component") and isinstance(value, str) else value


def sensor_test(op: str, field: str, uom: str | None, wanted: list[str]) -> Callable[[dict, dict], bool]:
    """One condition on one sensor report; a report matches a query when all its conditions hold."""
    if field in ("type", "component"):
        wanted = [sensor_term(field, w) for w in wanted]

    def test(meta: dict, report: dict) -> bool:
        value = sensor_value(meta, report, field)
        if uom is not None and report.get("uom") != uom:  # another unit of the same kind: converted
            n = number(value) if field in SENSOR_MEASURES else None
            value = None if n is None else sensor_units.convert(n, report.get("uom"), uom, spread=field == "sDev")
        return value is not None and compare(op, value, wanted)

    return test


SENSOR_FIELDS = _SENSOR_REPORT_EQ | {"time", "startTime", "endTime", "percRank"}
SENSOR_MEASURES = {"value", "minValue", "maxValue", "meanValue", "sDev", "percValue"}
