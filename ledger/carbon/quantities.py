"""Exact quantities for footprints: decimals parsed from text (never floats), units of mass and
energy as EPCIS writes them (UN/CEFACT rec. 20 codes), bounds that refuse absurd figures.

Arithmetic runs in a decimal context of 50 significant digits; results are rounded once, at the
end, half-even: kg CO2e to 6 decimal places, shares to 2 (percent)."""

from __future__ import annotations

import decimal
from decimal import Decimal

from ledger.errors import LedgerError

CONTEXT = decimal.Context(prec=50, rounding=decimal.ROUND_HALF_EVEN, traps=[decimal.InvalidOperation])
KG_CO2E = Decimal("0.000001")
PERCENT = Decimal("0.01")
#: kilograms per unit of mass (UN/CEFACT codes and the short names net contents use)
MASS = {
    "KGM": Decimal(1),
    "kg": Decimal(1),
    "GRM": Decimal("0.001"),
    "g": Decimal("0.001"),
    "TNE": Decimal(1000),
    "t": Decimal(1000),
    "MGM": Decimal("0.000001"),
    "LBR": Decimal("0.45359237"),
}
#: kilowatt hours per unit of energy
ENERGY = {
    "KWH": Decimal(1),
    "WHR": Decimal("0.001"),
    "MWH": Decimal(1000),
    "3B": Decimal(1) / Decimal("3.6"),
    "JOU": Decimal(1) / Decimal(3_600_000),
}
PIECES = {None, "", "H87", "EA", "C62", "PCE"}
#: above these a figure is refused as absurd rather than turned into a footprint
MAX_KG = Decimal(10) ** 9
MAX_KM = Decimal(45_000)
MAX_KWH = Decimal(10) ** 10
MAX_DAYS = Decimal(3660)


class BadQuantity(LedgerError):
    """A quantity, unit or factor a footprint cannot be computed from (a 4xx, never a guess)."""

    status = 422


def dec(value: object, what: str) -> Decimal:
    """A finite decimal from a JSON number or string (a JSON float's shortest text, not its binary)."""
    if isinstance(value, Decimal):
        return value
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise BadQuantity(f"{what}: {value!r} is not a number")
    try:
        out = Decimal(repr(value) if isinstance(value, float) else str(value).strip())
    except decimal.InvalidOperation:
        raise BadQuantity(f"{what}: {value!r} is not a number") from None
    if not out.is_finite():
        raise BadQuantity(f"{what}: {value!r} is not a finite number")
    return out


def bounded(value: Decimal, what: str, upper: Decimal, allow_zero: bool = True) -> Decimal:
    if value < 0 or (value == 0 and not allow_zero):
        raise BadQuantity(f"{what}: {value} must be {'at least' if allow_zero else 'more than'} 0")
    if value > upper:
        raise BadQuantity(f"{what}: {value} is beyond any plausible figure (at most {upper})")
    return value


def mass_kg(quantity: object, uom: str | None, what: str) -> Decimal:
    if uom not in MASS:
        raise BadQuantity(f"{what}: unit {uom!r} is not a unit of mass ({', '.join(sorted(MASS))})")
    return bounded(CONTEXT.multiply(dec(quantity, what), MASS[uom]), what, MAX_KG, allow_zero=False)


def energy_kwh(value: object, uom: str | None, what: str) -> Decimal:
    if uom not in ENERGY:
        raise BadQuantity(f"{what}: unit {uom!r} is not a unit of energy ({', '.join(sorted(ENERGY))})")
    return bounded(CONTEXT.multiply(dec(value, what), ENERGY[uom]), what, MAX_KWH)


def text_mass_kg(text: object, what: str) -> Decimal:
    """A net weight written as text, `"500 g"`, `"0.5 KGM"`."""
    parts = str(text).split()
    if len(parts) != 2:
        raise BadQuantity(f"{what}: {text!r} is not '<number> <unit of mass>'")
    return mass_kg(parts[0], parts[1], what)


def kg(value: Decimal) -> Decimal:
    return value.quantize(KG_CO2E, context=CONTEXT)


def percent(part: Decimal, whole: Decimal) -> Decimal:
    if whole == 0:
        return Decimal("0.00")
    return CONTEXT.divide(CONTEXT.multiply(part, 100), whole).quantize(PERCENT, context=CONTEXT)
