"""Sensor values in another unit of the same kind: `GE_value_KEL=290` finds a report of 20 `CEL`
(GS1's Test Case Requirement 53, step 26: a query in kelvin finds the temperature an event gave in
degrees Celsius). Units are UN/ECE Recommendation 20 codes, as EPCIS writes them; each is
(kind, factor, offset) with value_in_reference_unit = value * factor + offset. A unit not listed is
compared only with itself."""

from __future__ import annotations

from decimal import Decimal, localcontext
from fractions import Fraction

_D = Fraction  # exact: 0 CEL is 32 FAH, not 31.99999...
UNITS: dict[str, tuple[str, Fraction, Fraction]] = {
    # temperature, in kelvin
    "KEL": ("temperature", _D(1), _D(0)),
    "CEL": ("temperature", _D(1), _D("273.15")),
    "FAH": ("temperature", _D(5) / _D(9), _D("459.67") * _D(5) / _D(9)),
    # mass, in kilograms
    "KGM": ("mass", _D(1), _D(0)), "GRM": ("mass", _D("0.001"), _D(0)), "MGM": ("mass", _D("0.000001"), _D(0)),
    "TNE": ("mass", _D(1000), _D(0)), "LBR": ("mass", _D("0.45359237"), _D(0)),
    "ONZ": ("mass", _D("0.028349523125"), _D(0)),
    # length, in metres
    "MTR": ("length", _D(1), _D(0)), "CMT": ("length", _D("0.01"), _D(0)), "MMT": ("length", _D("0.001"), _D(0)),
    "KMT": ("length", _D(1000), _D(0)), "INH": ("length", _D("0.0254"), _D(0)), "FOT": ("length", _D("0.3048"), _D(0)),
    # volume, in cubic metres
    "MTQ": ("volume", _D(1), _D(0)), "LTR": ("volume", _D("0.001"), _D(0)), "MLT": ("volume", _D("0.000001"), _D(0)),
    # pressure, in pascals
    "PAL": ("pressure", _D(1), _D(0)), "KPA": ("pressure", _D(1000), _D(0)), "BAR": ("pressure", _D(100000), _D(0)),
    "MBR": ("pressure", _D(100), _D(0)), "A97": ("pressure", _D(100), _D(0)),
    # time, in seconds
    "SEC": ("time", _D(1), _D(0)), "MIN": ("time", _D(60), _D(0)), "HUR": ("time", _D(3600), _D(0)),
    # speed, in metres per second
    "MTS": ("speed", _D(1), _D(0)), "KMH": ("speed", _D(1000) / _D(3600), _D(0)),
}  # fmt: skip


def convert(value: Decimal, from_uom: object, to_uom: str, spread: bool = False) -> Decimal | None:
    """`value` in `from_uom` written in `to_uom`, or None if they are no units of one kind.
    A `spread` (a standard deviation) is a difference: scaled, never shifted."""
    a, b = UNITS.get(from_uom) if isinstance(from_uom, str) else None, UNITS.get(to_uom)
    if a is None or b is None or a[0] != b[0]:
        return None
    v = Fraction(value)
    out = v * a[1] / b[1] if spread else (v * a[1] + a[2] - b[2]) / b[1]
    with localcontext() as ctx:
        ctx.prec = 34
        return Decimal(out.numerator) / Decimal(out.denominator)
