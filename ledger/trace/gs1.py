"""GS1 identifiers: GTIN check digits (mod 10, weights 3,1,3,... from the right) and the values of
AIs such as lot (10) and serial (21), 1-20 characters of GS1 character set 82."""

from __future__ import annotations

#: GS1 General Specifications, figure 7.11-1: the characters AI (10) and (21) values may hold
CSET82 = frozenset("!\"%&'()*+,-./0123456789:;<=>?ABCDEFGHIJKLMNOPQRSTUVWXYZ_abcdefghijklmnopqrstuvwxyz")


class Gs1Error(ValueError):
    """A malformed GS1 key or value; the message says what is wrong."""


class GtinError(Gs1Error):
    """A malformed GTIN; the message says what is wrong (for a check digit, which one is expected)."""


def check_cset82(name: str, value: str, max_length: int = 20) -> str:
    """`value` if it is 1 to `max_length` characters of GS1 set 82; else Gs1Error naming the
    characters that are not (a `#`, a space, a letter outside ASCII...)."""
    if not 1 <= len(value) <= max_length:
        raise Gs1Error(f"{name} must be 1 to {max_length} characters, not {len(value)}")
    bad = sorted({c for c in value if c not in CSET82})
    if bad:
        listed = ", ".join(repr(c) for c in bad)
        raise Gs1Error(f"{name} may hold only characters of GS1 character set 82; not {listed}")
    return value


def check_digit(body: str) -> int:
    """The check digit for the digits of `body` (the GTIN without its last digit)."""
    digits = body[::-1]  # weights 3, 1, 3, ... from the right
    total = 3 * sum(map(int, digits[0::2])) + sum(map(int, digits[1::2]))
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
