"""EPCs in query answers as the client prefers them (the `GS1-EPC-Format` header of the EPCIS 2.0
REST binding): as captured, or, on `Always_GS1_Digital_Link`, every GS1 key written as an EPC URN
(instance or class level) given as its canonical GS1 Digital Link URI (`identifiers.canonical`,
the same translation the CBV 2.0 hash IDs rest on, so an event's hash ID is unchanged).

`Always_EPC_URN` cannot be honoured in general: a Digital Link URI does not say where the GS1
company prefix ends, which an EPC URN needs. Such answers stay as captured, and say so
(`Never_Translates`)."""

from __future__ import annotations

from typing import Any

from .identifiers import canonical

ALWAYS_DL = "Always_GS1_Digital_Link"
AS_CAPTURED = "Never_Translates"
_LISTS = ("epcList", "childEPCs", "inputEPCList", "outputEPCList")
_QUANTITIES = ("quantityList", "childQuantityList", "inputQuantityList", "outputQuantityList")
_ENTRIES = (("sourceList", "source"), ("destinationList", "destination"), ("bizTransactionList", "bizTransaction"))


def _dl(value: Any) -> Any:
    if isinstance(value, str) and value.startswith(("urn:epc:id:", "urn:epc:class:")):
        return canonical(value) or value
    return value


def _each(items: Any, key: str) -> Any:
    if not isinstance(items, list):
        return items
    return [dict(x, **{key: _dl(x[key])}) if isinstance(x, dict) and key in x else x for x in items]


def to_digital_link(event: dict[str, Any]) -> dict[str, Any]:
    """The event with its EPC URNs (EPCs, parent, classes, locations, sources and destinations,
    business transactions) as GS1 Digital Link URIs; anything else as it was."""
    out = dict(event)
    for key in _LISTS:
        if isinstance(out.get(key), list):
            out[key] = [_dl(v) for v in out[key]]
    if "parentID" in out:
        out["parentID"] = _dl(out["parentID"])
    for key in _QUANTITIES:
        if key in out:
            out[key] = _each(out[key], "epcClass")
    for key in ("readPoint", "bizLocation"):
        if isinstance(out.get(key), dict) and "id" in out[key]:
            out[key] = dict(out[key], id=_dl(out[key]["id"]))
    for key, field in _ENTRIES:
        if key in out:
            out[key] = _each(out[key], field)
    return out


def answer_format(preference: str | None) -> str:
    """What an answer does for a client's `GS1-EPC-Format` preference (absent, or any other value:
    as captured)."""
    return ALWAYS_DL if preference == ALWAYS_DL else AS_CAPTURED
