"""A batch's footprint, computed from its genealogy's events and one factor table, nothing else.

Rules (docs/carbon.md has them in full):
- a batch no TransformationEvent makes is a material: its mass times the table's factor for its
  GTIN (secondary data);
- a TransformationEvent's emissions are its inputs' (each input batch's kg CO2e per kg, as of the
  transformation, times the mass used) plus its process energy (summed device `Energy` readings:
  primary; else the merchant's declared `tlc:declaredEnergyKWh`: secondary) times the grid factor;
  they are allocated to its outputs by mass;
- each shipping event paired with its receiving adds a leg: distance x tonnes x the table's
  intensity for the mode and temperature (refrigerated when readings say <= 8 degC or it is declared);
  each storing adds tonnes x days held x the hub factor; aggregation only repackages (no emissions,
  the parent's legs are its children's);
- transport and storage before an input was used are spread over that batch's whole mass;
- anything missing (a factor, distance, receipt, mass, process energy) makes it incomplete, named
  in `missing`; a cycle or an impossible figure is an error."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal

from ledger.errors import LedgerError

from . import trace_index as ti
from .factors import TEMPERATURES, FactorTable
from .quantities import CONTEXT, MAX_DAYS, MAX_KM, bounded, dec, kg, percent

STAGES = ("materials", "processing", "transport", "storage")
C = CONTEXT
END = datetime.max.replace(tzinfo=UTC)


class GenealogyCycle(LedgerError):
    """A batch among its own inputs."""


class Parts:
    """kg CO2e by (stage, primary?) plus biogenic uptake (<= 0)."""

    __slots__ = ("v", "uptake")

    def __init__(self) -> None:
        self.v: dict[tuple[str, bool], Decimal] = defaultdict(Decimal)
        self.uptake = Decimal(0)

    def add(self, stage: str, primary: bool, amount: Decimal) -> None:
        self.v[(stage, primary)] = C.add(self.v[(stage, primary)], amount)

    def plus(self, other: Parts, k: Decimal = Decimal(1)) -> Parts:
        for key, val in other.v.items():
            self.v[key] = C.add(self.v[key], C.multiply(val, k))
        self.uptake = C.add(self.uptake, C.multiply(other.uptake, k))
        return self

    def scaled(self, k: Decimal) -> Parts:
        return Parts().plus(self, k)

    def total(self) -> Decimal:
        return sum(self.v.values(), Decimal(0))

    def primary(self) -> Decimal:
        return sum((val for (_, p), val in self.v.items() if p), Decimal(0))

    def stage(self, name: str) -> Decimal:
        return C.add(self.v[(name, True)], self.v[(name, False)])


@dataclass
class Result:
    gtin: str
    lot: str
    table: FactorTable
    declared_unit: str = "kilogram"
    mass_per_unit: Decimal = Decimal(0)
    per_unit: Parts = field(default_factory=Parts)
    missing: list[str] = field(default_factory=list)
    inputs: set[str] = field(default_factory=set)
    period: tuple[datetime, datetime] | None = None

    @property
    def complete(self) -> bool:
        return not self.missing

    def figures(self) -> dict[str, str]:
        """The computed figures, rounded as published: the part of a footprint a recomputation
        must reproduce exactly."""
        p = self.per_unit
        fossil = p.total()
        out = {
            "declaredUnitOfMeasurement": self.declared_unit,
            "declaredUnitAmount": "1",
            "productMassPerDeclaredUnit": str(kg(self.mass_per_unit)),
            "pcfExcludingBiogenicUptake": str(kg(fossil)),
            "pcfIncludingBiogenicUptake": str(kg(C.add(fossil, p.uptake))),
            "fossilGhgEmissions": str(kg(fossil)),
            "biogenicCO2Uptake": str(kg(p.uptake)),
            "primaryDataShare": str(percent(p.primary(), fossil)),
        }
        out |= {f"stage.{s}": str(kg(p.stage(s))) for s in STAGES}
        return out


class Footprints:
    def __init__(self, events: list[tuple[str, dict]], table: FactorTable):
        self.idx, self.table = ti.build(events), table
        self._production: dict[ti.Batch, Parts] = {}
        self._mass: dict[ti.Batch, tuple[Decimal | None, Decimal]] = {}
        self._stack: list[ti.Batch] = []
        self.missing: list[str] = []
        self.used: set[str] = set()
        self._amounts: dict[tuple[str, tuple[str, ...]], dict[ti.Batch, ti.Amount]] = {}

    def amounts(self, ev: ti.Ev, names: tuple[str, ...]) -> dict[ti.Batch, ti.Amount]:
        key = (ev.hash_id, names)
        if key not in self._amounts:
            self._amounts[key] = ti.amounts(ev.body, names, f"event {ev.hash_id}")
        return self._amounts[key]

    def _miss(self, what: str) -> None:
        if what not in self.missing:
            self.missing.append(what)

    def mass(self, b: ti.Batch) -> tuple[Decimal | None, Decimal]:
        """(kg, pieces) of a batch as made; kg None when it cannot be known."""
        if b in self._mass:
            return self._mass[b]
        total, weight = ti.Amount(), None
        for ev in self.idx.makers.get(b, []) + self.idx.commissions.get(b, []):
            where = f"event {ev.hash_id}"
            names = ti.OUTPUTS if ev.body.get("type") == "TransformationEvent" else ("epcList", "quantityList")
            a = self.amounts(ev, names).get(b, ti.Amount())
            total.kg, total.pieces = total.kg + a.kg, total.pieces + a.pieces
            weight = weight or ti.net_weight(ev.body, where)
            self.used.add(ev.hash_id)
        kgs: Decimal | None = total.kg
        if total.pieces:
            if weight is None and not total.kg:
                self._miss(f"mass of batch {b[0]}/{b[1]}: counted in pieces and no ilmd cbvmda:netWeight")
                kgs = None
            elif weight is not None:
                kgs = C.add(total.kg, C.multiply(total.pieces, weight))
        if kgs is not None and kgs == 0:
            self._miss(f"mass of batch {b[0]}/{b[1]}: no event makes or commissions it")
            kgs = None
        self._mass[b] = (kgs, total.pieces)
        return kgs, total.pieces

    def _kg_of(self, b: ti.Batch, a: ti.Amount) -> Decimal | None:
        if not a.pieces:
            return a.kg
        kgs, pieces = self.mass(b)
        if kgs is None or not pieces:
            self._miss(f"mass per piece of batch {b[0]}/{b[1]}")
            return None
        return C.add(a.kg, C.multiply(a.pieces, C.divide(kgs, pieces)))

    def production(self, b: ti.Batch) -> Parts:
        if b in self._production:
            return self._production[b]
        if b in self._stack:
            path = self._stack[self._stack.index(b) :] + [b]
            raise GenealogyCycle("cycle in the genealogy: " + " -> ".join(f"{g}/{lot}" for g, lot in path))
        self._stack.append(b)
        parts = Parts()
        makers = self.idx.makers.get(b, [])
        for ev in makers:
            parts.plus(self._transformed(ev, b))
        if not makers:
            kgs, _ = self.mass(b)
            factor = self.table.materials.get(b[0])
            if factor is None:
                self._miss(
                    f"no footprint for input batch {b[0]}/{b[1]}: no TransformationEvent makes it and "
                    f"factor table {self.table.version} has no material factor for GTIN {b[0]}"
                )
            elif kgs is not None:
                parts.add("materials", False, C.multiply(kgs, factor[0]))
                parts.uptake = C.multiply(kgs, factor[1])
        self._stack.pop()
        self._production[b] = parts
        return parts

    def _transformed(self, ev: ti.Ev, b: ti.Batch) -> Parts:
        where = f"TransformationEvent {ev.hash_id}"
        self.used.add(ev.hash_id)
        outs = {o: self._kg_of(o, a) for o, a in self.amounts(ev, ti.OUTPUTS).items()}
        if any(v is None for v in outs.values()):
            return Parts()
        share = C.divide(outs[b], sum(outs.values(), Decimal(0)))  # type: ignore[arg-type]
        parts = Parts()
        for a, amount in self.amounts(ev, ti.INPUTS).items():
            used = self._kg_of(a, amount)
            if used is not None:
                parts.plus(self.intensity(a, ev.time), used)
        kwh, primary = ti.energy_read(ev.body, where), True
        if kwh is None and ti.declared(ev.body, "declaredEnergyKWh") is not None:
            kwh, primary = dec(ti.declared(ev.body, "declaredEnergyKWh"), f"{where} tlc:declaredEnergyKWh"), False
            bounded(kwh, f"{where} tlc:declaredEnergyKWh", Decimal(10) ** 10)
        if kwh is None:
            self._miss(f"process energy of {where}: no device Energy reading and no declared tlc:declaredEnergyKWh")
        elif self.table.electricity < 0:
            self._miss(f"factor table {self.table.version} has no electricity.kgCO2ePerKWh")
        else:
            parts.add("processing", primary, C.multiply(kwh, self.table.electricity))
        return parts.scaled(share)

    def intensity(self, b: ti.Batch, until: datetime) -> Parts:
        """kg CO2e per kg of batch `b` as of `until`: its making plus its legs and storage before."""
        kgs, _ = self.mass(b)
        whole = Parts().plus(self.production(b)).plus(self.logistics(b, until))
        return whole.scaled(C.divide(1, kgs)) if kgs else Parts()

    def _temperature(self, evs: list[ti.Ev]) -> str:
        temps = [v for e in evs for v, u in ti.readings(e.body, "Temperature") if u in (None, "CEL")]
        if temps:
            top = max(temps)
            return "frozen" if top <= -18 else "chilled" if top <= 8 else "ambient"
        declared = next(
            (ti.declared(e.body, "temperatureControl") for e in evs if ti.declared(e.body, "temperatureControl")), None
        )
        if declared is not None and declared not in TEMPERATURES:
            raise ti.BadQuantity(
                f"event {evs[0].hash_id}: tlc:temperatureControl {declared!r} is not one of {TEMPERATURES}"
            )
        return declared or "ambient"  # type: ignore[return-value]

    def _moved_kg(self, b: ti.Batch, ev: ti.Ev) -> Decimal | None:
        direct = self.amounts(ev, ("epcList", "quantityList")).get(b)
        if direct is None:
            held = [h[b] for p, h in self.idx.children.items() if p in ev.ids and b in h]
            direct = ti.Amount(sum((h.kg for h in held), Decimal(0)), sum((h.pieces for h in held), Decimal(0)))
        return self._kg_of(b, direct)

    def logistics(self, b: ti.Batch, until: datetime) -> Parts:
        parts, moves = Parts(), [e for e in self.idx.moves.get(b, []) if e.time < until]
        for ev in moves:
            if ev.step == "shipping":
                self._leg(b, ev, parts)
            elif ev.step == "storing":
                self._stored(b, ev, self.idx.moves[b], parts)
        return parts

    def _leg(self, b: ti.Batch, ship: ti.Ev, parts: Parts) -> None:
        where = f"shipping event {ship.hash_id}"
        receipt = next(
            (e for e in self.idx.moves[b] if e.step == "receiving" and e.time >= ship.time and (e.ids & ship.ids)), None
        )
        if receipt is None:
            self._miss(f"{where} of batch {b[0]}/{b[1]} has no receiving event: its leg is not counted")
            return
        mode, km = ti.declared(ship.body, "transportMode"), ti.declared(ship.body, "distanceKm")
        if mode is None or km is None:
            self._miss(f"{where}: tlc:transportMode and tlc:distanceKm are needed for its leg")
            return
        km = bounded(dec(km, f"{where} tlc:distanceKm"), f"{where} tlc:distanceKm", MAX_KM, allow_zero=False)
        temp = self._temperature([ship, receipt])
        factor = self.table.transport.get((str(mode), temp))
        if factor is None:
            self._miss(f"factor table {self.table.version} has no transport intensity for {mode} {temp}")
            return
        kgs = self._moved_kg(b, ship)
        if kgs is not None:
            self.used.update((ship.hash_id, receipt.hash_id))
            parts.add("transport", True, C.multiply(C.multiply(km, C.divide(kgs, 1000)), factor))

    def _stored(self, b: ti.Batch, ev: ti.Ev, moves: list[ti.Ev], parts: Parts) -> None:
        after = next((e for e in moves if e.time > ev.time and e.step != "storing"), None)
        if after is None:
            return  # still held: nothing to count until it moves on
        days = bounded(C.divide(Decimal((after.time - ev.time).total_seconds()), 86400), "storage days", MAX_DAYS)
        temp = self._temperature([ev])
        factor = self.table.storage.get(temp)
        if factor is None:
            self._miss(f"factor table {self.table.version} has no storage factor for {temp}")
            return
        kgs = self._moved_kg(b, ev)
        if kgs is not None:
            self.used.update((ev.hash_id, after.hash_id))
            parts.add("storage", True, C.multiply(C.multiply(C.divide(kgs, 1000), days), factor))


def compute(events: list[tuple[str, dict]], table: FactorTable, gtin: str, lot: str) -> Result:
    """The footprint of batch (gtin, lot) from `events` (hash ID, body) alone."""
    fp = Footprints(events, table)
    b = (gtin, lot)
    total = Parts().plus(fp.production(b)).plus(fp.logistics(b, END))
    kgs, pieces = fp.mass(b)
    out = Result(gtin, lot, table, missing=fp.missing, inputs=fp.used)
    if kgs:
        unit = pieces if pieces else kgs
        out.declared_unit = "piece" if pieces else "kilogram"
        out.mass_per_unit = C.divide(kgs, unit)
        out.per_unit = total.scaled(C.divide(1, unit))
    times = [e.time for e in fp.idx.events if e.hash_id in fp.used]
    out.period = (min(times), max(times)) if times else None
    return out
