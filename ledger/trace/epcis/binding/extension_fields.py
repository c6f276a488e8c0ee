"""Where a SimpleEventQuery's extension field parameters look (EPCIS 2.0 section 8.2.7.1):
`EQ_fieldname` at the event's top level, `EQ_ILMD_`, `EQ_ERROR_DECLARATION_`, `EQ_SENSORELEMENT_`,
`EQ_SENSORMETADATA_`, `EQ_SENSORREPORT_` in those parts (GS1's Test Case Requirement 53 and query
schema), `EQ_readPoint_` / `EQ_bizLocation_` on the location (GS1's query schema); each with `INNER_`
for a field nested at any depth inside one of that part's extension fields, and as GT_/GE_/LT_/LE_
and EXISTS_. Keys are as `event_match.expand` writes them (`{namespace}local`)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

PARTS = ("ILMD", "ERROR_DECLARATION", "SENSORELEMENT", "SENSORMETADATA", "SENSORREPORT", "readPoint", "bizLocation")
_FIELD = {"ILMD": "ilmd", "ERROR_DECLARATION": "errorDeclaration", "readPoint": "readPoint",
          "bizLocation": "bizLocation"}  # fmt: skip


def nested(obj: Any, key: str) -> Iterator[Any]:
    """Every value of `key` at any depth inside `obj` (below its top level)."""
    stack = [obj]
    while stack:
        o = stack.pop()
        if isinstance(o, dict):
            for k, v in o.items():
                if k == key:
                    yield v
                if isinstance(v, dict | list):
                    stack.append(v)
        elif isinstance(o, list):
            stack.extend(x for x in o if isinstance(x, dict | list))


def parts(event: dict, where: str) -> list[Any]:
    """The parts of the event a parameter names: the event itself (""), its ILMD, error declaration,
    read point or business location, or each of its sensor elements, their metadata or reports."""
    if not where:
        return [event]
    if where in _FIELD:
        return [event.get(_FIELD[where])]
    elements = [x for x in event.get("sensorElementList") or [] if isinstance(x, dict)]
    if where == "SENSORELEMENT":
        return elements
    if where == "SENSORMETADATA":
        return [x.get("sensorMetadata") for x in elements]
    return [r for x in elements if isinstance(x.get("sensorReport"), list) for r in x["sensorReport"]]


def extension_values(event: dict, where: str, inner: bool, key: str) -> list[Any]:
    """The values of extension field `key` in the parts `where` names, at their top level or
    (`inner`) inside one of their extension fields."""
    out: list[Any] = []
    for part in parts(event, where):
        if not isinstance(part, dict):
            continue
        if not inner:
            out.extend([part[key]] if key in part else [])
        else:
            out.extend(v for k, x in part.items() if k.startswith("{") for v in nested(x, key))
    return out
