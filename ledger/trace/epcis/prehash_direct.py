"""The CBV 2.0 pre-hash string of an event straight from its JSON, for the shapes events have.

`hashid.prehash` reaches the string in two generic passes: JSON -> the tree the XML binding would
give (`hash_tree`), then the tree -> fields in CBV order, with the reference implementation's rules
for what a field leaves unconsumed. Profiled on 20,000 generated events (pyinstrument), the two
passes took ~80 % of the time, most of it in building and re-walking tuples of one-leaf nodes.

`direct` builds the same string in one pass over the JSON for the shapes EPCIS 2.0 defines: scalar
fields, EPC lists, quantity elements, persistent dispositions, read point / location, sensor
elements, pair lists (business transactions, sources, destinations) and extensions. On anything
else (a field of an unexpected type, an unknown key inside a standard field, `#text`, comments,
two keys that qualify to one name, ...) it returns None and the generic passes decide. The tests
compare both on every GS1 example and on generated events, and both with the reference.
"""

from __future__ import annotations

from .canonical import UNREAD, VOCABULARY_PREFIXES, canonical_value, utc_millis
from .hash_tree import UNSORTED, Converter, rest

# CBV's order of the fields `direct` orders itself (hashid.PROPERTY_ORDER without the pair lists,
# which the reference hashes with the extensions)
_ORDER = ("eventTime", "eventTimeZoneOffset", "certificationInfo", "parentID", "epcList", "inputEPCList",
          "childEPCs", "quantityList", "childQuantityList", "inputQuantityList", "outputEPCList",
          "outputQuantityList", "action", "transformationID", "bizStep", "disposition", "persistentDisposition",
          "readPoint", "bizLocation", "sensorElementList")  # fmt: skip
_POSITION = {n: i for i, n in enumerate(_ORDER)}
_LEAVES = frozenset(("eventTime", "eventTimeZoneOffset", "certificationInfo", "parentID", "action",
                     "transformationID", "bizStep", "disposition"))  # fmt: skip
_EPC_LISTS = frozenset(("epcList", "inputEPCList", "childEPCs", "outputEPCList"))
_QTY_LISTS = frozenset(("quantityList", "childQuantityList", "inputQuantityList", "outputQuantityList"))
_PAIRS = {"bizTransactionList": "bizTransaction", "sourceList": "source", "destinationList": "destination"}
_SKIPPED = frozenset(UNREAD)
_AWKWARD = frozenset(("#text", "rdfs:comment", "comment", *UNSORTED))


def _positions(*names: str) -> dict[str, int]:
    """Each of an element's own fields to its place in CBV's order."""
    return {n: i for i, n in enumerate(names)}


_QTY = _positions("epcClass", "quantity", "uom")
_ID = _positions("id")
_METADATA = _positions("time", "startTime", "endTime", "deviceID", "deviceMetadata", "rawData", "dataProcessingMethod",
                       "bizRules")  # fmt: skip
_REPORT = _positions("type", "exception", "deviceID", "deviceMetadata", "rawData", "dataProcessingMethod", "time",
                     "microorganism", "chemicalSubstance", "value", "component", "stringValue", "booleanValue",
                     "hexBinaryValue", "uriValue", "minValue", "maxValue", "meanValue", "sDev", "percRank",
                     "percValue", "uom", "coordinateReferenceSystem")  # fmt: skip
_TIMES = frozenset(("eventTime", "time", "startTime", "endTime"))  # hashid._is_time of every name used here


class _Other(Exception):
    """A shape `direct` leaves to the generic passes."""


def _text(conv: Converter, v) -> str:
    """Converter.value's text of a scalar, stripped (a dict or list is no scalar)."""
    if type(v) is str:
        if v.startswith(VOCABULARY_PREFIXES):
            conv.vocabulary.add(v)
        v = conv.abbr.get(v, v)
        i = v.find(":")
        if i > 0 and v[:i] in conv.ns:
            v = conv.ns[v[:i]].strip("{}") + v[i + 1 :]
        return v.strip()
    if isinstance(v, dict | list):
        raise _Other
    return str(conv.value(v)[0]).strip()


def _flat(conv: Converter, obj, positions: dict[str, int]) -> str:
    """A standard field's element of scalar fields: its own fields in CBV's order (`positions`), then
    extensions sorted."""
    if type(obj) is not dict or not _AWKWARD.isdisjoint(obj):
        raise _Other
    own, ext = [], []
    for key, v in obj.items():
        if key in positions:
            text = _text(conv, v)
            if text:
                own.append((positions[key], key + "=" + (utc_millis(text) if key in _TIMES else canonical_value(text))))
            continue
        name = conv.keys.get(key) or conv.keys.setdefault(key, _qualified(conv, key))
        # an extension here is hashed after the fields only beside others, and only as a leaf
        if not ("{" in name and "/}" in name) or len(obj) < 2 or name.endswith("List") or "action" in name:
            raise _Other
        if "eventTime" in name:
            raise _Other
        text = _text(conv, v)
        ext.append(name + ("=" + canonical_value(text) if text else ""))
    own.sort()
    ext.sort()
    return "".join([s for _, s in own]) + "".join(ext)


def _qualified(conv: Converter, key: str) -> str:
    i = key.find(":")
    return conv.ns[key[:i]] + key[i + 1 :] if i > 0 and key[:i] in conv.ns else key


def _members(v) -> list:
    return v if type(v) is list else [v]


def _sensor_element(conv: Converter, element) -> str:
    if type(element) is not dict or not element.keys() <= {"sensorMetadata", "sensorReport"}:
        raise _Other
    out = ""
    if "sensorMetadata" in element:
        meta = _flat(conv, element["sensorMetadata"], _METADATA)
        out = "sensorMetadata" + meta if meta else ""
    reports = []
    for report in _members(element.get("sensorReport", [])):
        s = _flat(conv, report, _REPORT)
        if s:
            reports.append("sensorReport" + s)
    reports.sort()
    return out + "".join(reports)


def _standard(conv: Converter, key: str, v) -> str:
    """The pre-hash string of one field CBV orders ("" when it adds nothing)."""
    if key in _LEAVES:
        text = _text(conv, v)
        return key + "=" + (utc_millis(text) if key == "eventTime" else canonical_value(text)) if text else ""
    if key in _EPC_LISTS:
        epcs = []
        for x in v if type(v) is list else (v,):  # a loop, not map and a generator: ~3 % of a hash ID
            t = _text(conv, x)
            if t:
                epcs.append("epc=" + canonical_value(t))
        epcs.sort()
        return key + "".join(epcs) if epcs else ""
    if key in _QTY_LISTS:
        members = []
        for m in _members(v):
            if not m:  # an empty element is no quantityElement (and stays unconsumed)
                raise _Other
            s = _flat(conv, m, _QTY)
            if s:
                members.append("quantityElement" + s)
        members.sort()
        return key + "".join(members) if members else ""
    if key == "persistentDisposition":
        if type(v) is not dict or not v.keys() <= {"set", "unset"}:
            raise _Other
        parts = []
        for part in ("set", "unset"):
            texts = (_text(conv, x) for x in _members(v.get(part, [])))
            parts += sorted(part + "=" + canonical_value(t) for t in texts if t)
        return key + "".join(parts) if parts else ""
    if key in ("readPoint", "bizLocation"):
        s = _flat(conv, v, _ID)
        return key + s if s else ""
    # sensorElementList
    elements = sorted(s for s in (_sensor_element(conv, e) for e in _members(v)) if s)
    return key + "".join("sensorElement" + s for s in elements) if elements else ""


def _pair_list(conv: Converter, key: str, v) -> str:
    """A list of (type, value) pairs: each pair's fields in the order they came, the pairs sorted."""
    if type(v) is not list:
        raise _Other
    value_key, pairs = _PAIRS[key], []
    for m in v:
        if type(m) is not dict or not m or not m.keys() <= {"type", value_key}:
            raise _Other
        s = ""
        for k, x in m.items():
            text = _text(conv, x)
            s += k + ("=" + canonical_value(text) if text else "")
        pairs.append(s)
    pairs.sort()
    return key + "".join(pairs)


def direct(event: dict, conv: Converter) -> str | None:
    """`hashid.prehash(event, ...)` (join "", JSON) in one pass, or None for a shape left to it."""
    if type(event.get("eventTime")) is not str and type(event.get("action")) is not str:
        return None  # without either, the reference orders a top level's extensions otherwise
    head: list[tuple[int, str]] = []
    rest: list[str] = []
    seen: set[str] = set()
    try:
        for key, v in event.items():
            if key in _SKIPPED:
                continue
            if key in _POSITION:
                if type(v) is list and not v:
                    continue
                s = _standard(conv, key, v)
                if s:
                    head.append((_POSITION[key], s))
            elif key in _PAIRS:
                if type(v) is list and not v:
                    continue
                rest.append(_pair_list(conv, key, v))
            elif key in _AWKWARD:
                return None
            else:  # an extension, ilmd, ...: the generic passes' own rules, on this field alone
                name = conv.keys.get(key) or conv.keys.setdefault(key, _qualified(conv, key))
                if name in seen or (name != key and not name.startswith("{")):
                    return None
                seen.add(name)
                rest.extend(_rest_of(conv, key, name, v))
    except _Other:
        return None
    head.sort()
    rest.sort()
    return "".join([s for _, s in head]) + "".join(rest)


_RENAMED = frozenset(("inputEPC", "outputEPC", "inputQuantity", "outputQuantity", "childQuantity", "quantity",
                      "childEPCs"))  # fmt: skip


def _plain(name: str) -> bool:
    """A name the XML shape leaves as it is (no list to group, no element to rename)."""
    return not name.endswith("List") and name not in _RENAMED


def _rest_of(conv: Converter, key: str, name: str, v) -> list[str]:
    """A field CBV does not order (an extension, ilmd): `name=value`, or `name` and its own fields
    sorted, for a scalar or an object of scalars; anything deeper by the generic passes' rule."""
    if _plain(name):
        if type(v) is not dict and type(v) is not list:
            text = _text(conv, v)
            return [name + ("=" + canonical_value(text) if text else "")]
        if type(v) is dict and _AWKWARD.isdisjoint(v):
            fields = []
            for k, x in v.items():
                if type(x) is dict or type(x) is list:
                    break
                sub = conv.keys.get(k) or conv.keys.setdefault(k, _qualified(conv, k))
                if not _plain(sub):
                    break
                text = _text(conv, x)
                fields.append(sub + ("=" + canonical_value(text) if text else ""))
            else:
                fields.sort()
                return [name + "".join(fields)]
    return [rest([node], "") for node in conv.children({key: v})]  # the generic passes' rule
