"""A batch's EPCIS genealogy read for carbon accounting: which events make a batch (a
TransformationEvent's outputs, a commissioning ObjectEvent), which move or hold it (shipping,
receiving, storing; directly or as a child of an aggregated parent), and how much of it each names.

Extension fields this module reads (namespace `tlc:`, https://ns.traceledger.dev/carbon/):
`tlc:transportMode`, `tlc:distanceKm`, `tlc:temperatureControl` on a shipping event,
`tlc:declaredEnergyKWh` on a TransformationEvent. Sensor reports read: `Energy` (KWH, WHR, MWH,
3B = MJ, JOU) and `Temperature` (CEL)."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal

from ledger.compliance.genealogy import INPUTS, OUTPUTS
from ledger.compliance.profile import step_name
from ledger.trace.epcis.capture import item_parts
from ledger.trace.epcis.identifiers import canonical

from .quantities import PIECES, BadQuantity, dec, energy_kwh, mass_kg, text_mass_kg

Batch = tuple[str, str]
NS = "tlc:"
_WHAT = ("epcList", "quantityList", "parentID", "childEPCs", "childQuantityList") + INPUTS + OUTPUTS


@dataclass
class Amount:
    kg: Decimal = Decimal(0)
    pieces: Decimal = Decimal(0)


@dataclass
class Ev:
    hash_id: str
    body: dict
    time: datetime
    step: str | None
    ids: set[str]


@dataclass
class Index:
    events: list[Ev] = field(default_factory=list)
    makers: dict[Batch, list[Ev]] = field(default_factory=lambda: defaultdict(list))
    commissions: dict[Batch, list[Ev]] = field(default_factory=lambda: defaultdict(list))
    moves: dict[Batch, list[Ev]] = field(default_factory=lambda: defaultdict(list))
    #: aggregated parent -> the batches it holds and how much of each
    children: dict[str, dict[Batch, Amount]] = field(default_factory=lambda: defaultdict(dict))


def _where(ev_hash: str, name: str) -> str:
    return f"event {ev_hash} {name}"


_CANONICAL: dict[str, str] = {}
_PARTS: dict[str, tuple[str | None, str | None]] = {}  # identifier -> (GTIN, lot) of its canonical form


def batch_of(uri: str) -> tuple[str | None, str | None]:
    got = _PARTS.get(uri)
    if got is None:
        if len(_PARTS) > 200_000:
            _PARTS.clear()
            _CANONICAL.clear()
        gtin, lot, _ = item_parts(canonical(uri) or uri)
        got = _PARTS[uri] = (gtin, lot)
    return got


def amounts(body: dict, names: tuple[str, ...], where: str) -> dict[Batch, Amount]:
    """How much of each batch the lists `names` of an event hold (mass or pieces)."""
    out: dict[Batch, Amount] = defaultdict(Amount)
    for name in names:
        value = body.get(name)
        for v in value if isinstance(value, list) else [value] if value is not None else []:
            uri = v.get("epcClass") if isinstance(v, dict) else v
            if not isinstance(uri, str):
                continue
            gtin, lot = batch_of(uri)
            if not gtin or not lot:
                continue
            a = out[(gtin, lot)]
            if not isinstance(v, dict):
                a.pieces += 1  # one serialised item
                continue
            if "quantity" not in v:
                raise BadQuantity(f"{where}: {name} names {uri} without a quantity")
            if v.get("uom") in PIECES:
                n = dec(v["quantity"], f"{where} {name} quantity")
                if n <= 0 or n != n.to_integral_value() or n > 10**9:
                    raise BadQuantity(f"{where}: {name} quantity {n} of {uri} is not a count of pieces")
                a.pieces += n
            else:
                a.kg += mass_kg(v["quantity"], v.get("uom"), f"{where} {name} {uri}")
    return dict(out)


def _ids(body: dict) -> set[str]:
    out = set()
    for name in _WHAT:
        value = body.get(name)
        for v in value if isinstance(value, list) else [value] if value is not None else []:
            uri = v.get("epcClass") if isinstance(v, dict) else v
            if isinstance(uri, str):
                c = _CANONICAL.get(uri) or _CANONICAL.setdefault(uri, canonical(uri) or uri)
                out.add(c)
                gtin, lot = batch_of(uri)
                if gtin and lot:
                    out.add(f"batch:{gtin}/{lot}")
    return out


def build(events: list[tuple[str, dict]]) -> Index:
    idx = Index()
    for hash_id, body in events:
        try:
            time = datetime.fromisoformat(body["eventTime"]).astimezone(UTC)
        except (KeyError, TypeError, ValueError):
            raise BadQuantity(f"event {hash_id}: no readable eventTime") from None
        ev = Ev(hash_id, body, time, step_name(body.get("bizStep")), _ids(body))
        idx.events.append(ev)
        kind, action = body.get("type"), body.get("action")
        where = _where(hash_id, "")
        if kind == "TransformationEvent":
            for b in amounts(body, OUTPUTS, where):
                idx.makers[b].append(ev)
        elif kind == "ObjectEvent" and action == "ADD":
            for b in amounts(body, ("epcList", "quantityList"), where):
                idx.commissions[b].append(ev)
        if (
            kind in ("AggregationEvent", "AssociationEvent")
            and action == "ADD"
            and isinstance(body.get("parentID"), str)
        ):
            parent = canonical(body["parentID"]) or body["parentID"]
            for b, a in amounts(body, ("childEPCs", "childQuantityList"), where).items():
                held = idx.children[parent].setdefault(b, Amount())
                held.kg, held.pieces = held.kg + a.kg, held.pieces + a.pieces
        if ev.step in ("shipping", "receiving", "storing", "departing", "arriving", "retail_selling"):
            for b in {(g, lot) for g, lot in (i[6:].split("/", 1) for i in ev.ids if i.startswith("batch:"))}:
                idx.moves[b].append(ev)
    for parent, held in idx.children.items():
        for ev in idx.events:
            if parent in ev.ids and ev.step in ("shipping", "receiving", "storing", "departing", "arriving"):
                for b in held:
                    if ev not in idx.moves[b]:
                        idx.moves[b].append(ev)
    for evs in idx.moves.values():
        evs.sort(key=lambda e: (e.time, e.hash_id))
    return idx


def readings(body: dict, kind: str) -> list[tuple[Decimal, str | None]]:
    """(value, uom) of every sensor report of measurement `kind` (`Energy`, `Temperature`)."""
    out = []
    for element in body.get("sensorElementList") or []:
        for report in element.get("sensorReport") or [] if isinstance(element, dict) else []:
            t = report.get("type") if isinstance(report, dict) else None
            name = t.rsplit("/", 1)[-1].rsplit(":", 1)[-1].removeprefix("MT-") if isinstance(t, str) else None
            if name == kind and "value" in report:
                out.append((dec(report["value"], f"sensor {kind} value"), report.get("uom")))
    return out


def energy_read(body: dict, where: str) -> Decimal | None:
    values = readings(body, "Energy")
    if not values:
        return None
    return sum((energy_kwh(v, u, f"{where} Energy reading") for v, u in values), Decimal(0))


def declared(body: dict, name: str) -> object:
    return body.get(NS + name)


def net_weight(body: dict, where: str) -> Decimal | None:
    ilmd = body.get("ilmd") if isinstance(body.get("ilmd"), dict) else {}
    text = ilmd.get("cbvmda:netWeight")
    return None if text is None else text_mass_kg(text, f"{where} ilmd cbvmda:netWeight")
