"""GS1 identifiers: GTIN check digits (mod 10, weights 3,1,3,... from the right)."""

from __future__ import annotations


class GtinError(ValueError):
    """A malformed GTIN; the message says what is wrong (for a check digit, which one is expected)."""


def check_digit(body: str) -> int:
    """The check digit for the digits of `body` (the GTIN without its last digit)."""
    total = sum(int(d) * (3 if i % 2 == 0 else 1) for i, d in enumerate(reversed(body)))
    return (10 - total % 10) % 10


def normalize_gtin(value: str) -> str:
    """GTIN-8/12/13/14 as a 14-digit string, or GtinError naming the problem."""
    if not value.isdigit() or not value.isascii():
        raise GtinError("GTIN must contain digits only")
    if len(value) not in (8, 12, 13, 14):
        raise GtinError(f"GTIN must have 8, 12, 13 or 14 digits, not {len(value)}")
    gtin = value.zfill(14)
    expected = check_digit(gtin[:-1])
    if int(gtin[-1]) != expected:
        raise GtinError(f"GTIN check digit is {gtin[-1]}, expected {expected}")
    return gtin
