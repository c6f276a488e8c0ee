"""GS1 Application Identifier values in a Digital Link's query string (`?17=261231&3103=000189`).

A GS1 Digital Link carries data attributes as numeric AIs in its query string; a validating
resolver checks them as it checks the path and answers a malformed one with a 400 (GS1-Conformant
Resolver 1.2, "SHALL extract and syntactically validate the URI"). Each AI's format is GS1's, as
its Digital Link toolkit tabulates it (`dl_compression.json`, `tableF`), and those it lacks as
GS1's Barcode Syntax Dictionary gives them (`LATER`): fixed or variable numeric parts, alphanumeric
parts (GS1 character set 82) and base64url ones (set 64). Dates (YYMMDD: AIs 11-17) also need a month
of 01-12 and a day of 00-31 (00: the month's end, GS1 General Specifications 3.4.x).

Only all-digit keys are AIs; every other key (`linkType`, `context`, a code's `k`, `s`, `t`) is
not ours to judge here. Values are percent-decoded once, a `+` kept as it is (set 82 holds it)."""

from __future__ import annotations

from urllib.parse import unquote

from ledger.trace.dl_compression import tables
from ledger.trace.gs1 import CSET82, Gs1Error

#: the primary identification keys (GS1 General Specifications): a link names one, in its path
PRIMARY_KEYS = frozenset(
    {"00", "01", "253", "255", "401", "402", "414", "417", "8003", "8004", "8006", "8010", "8013", "8017", "8018"}
)
#: AIs whose value begins with a date YYMMDD (production to expiry; first freeze, harvest; the
#: dangerous goods' and release dates 4324-4326; test by date 7011)
_DATES = frozenset({"11", "12", "13", "15", "16", "17", "7006", "7007", "4324", "4325", "4326", "7011"})
_MAX_PAIRS = 64  # a query string is read once, and never more of it than this


def _f(*spec: str) -> list[dict]:
    """Parts as the toolkit's table writes them, from GS1's notation: "N6" fixed, "X..20" variable."""
    return [{"E": p[0], "M": p[3:]} if ".." in p else {"E": p[0], "L": p[1:]} for p in spec]


#: AIs GS1 defined after the toolkit's table was made (GS1 Barcode Syntax Dictionary, its formats; an
#: optional last part as a variable one, Z: base64url, GS1 character set 64); 417 is a primary key
LATER = {
    "235": _f("X..28"), "417": _f("N13"), "715": _f("X..20"), "7011": _f("N6", "N..4"),
    "7040": _f("N1", "X3"), "7240": _f("X..20"), "7241": _f("N2"), "7242": _f("X..25"), "8030": _f("Z..90"),
    **{f"395{n}": _f("N6") for n in range(6)},
    **{ai: _f("X..35") for ai in ("4300", "4301", "4310", "4311", "4320")},
    **{ai: _f("X..70") for ai in ("4302", "4303", "4304", "4305", "4306", "4312", "4313", "4314", "4315", "4316")},
    "4307": _f("X2"), "4317": _f("X2"), "4308": _f("X..30"), "4318": _f("X..20"), "4319": _f("X..30"),
    "4309": _f("N10", "N10"), "4321": _f("N1"), "4322": _f("N1"), "4323": _f("N1"),
    "4324": _f("N6", "N4"), "4325": _f("N6", "N4"), "4326": _f("N6"),
    **{f"433{n}": _f("N6", "X..1") for n in range(4)},
}  # fmt: skip
CSET64 = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_=")


def check_query(query_string: str) -> None:
    """Gs1Error naming the first numeric key that is no GS1 AI, a primary key (it belongs in the
    path), or an AI whose value does not have its format."""
    for pair in query_string.split("&")[:_MAX_PAIRS]:
        key, _, raw = pair.partition("=")
        if key.isdigit() and key.isascii():
            try:
                value = unquote(raw, errors="strict")
            except UnicodeDecodeError:
                raise Gs1Error(f"query parameter {key}: not UTF-8 once percent-decoded") from None
            check_value(key, value)


def check_value(ai: str, value: str) -> None:
    parts = tables()["tableF"].get(ai) or LATER.get(ai)
    if parts is None:
        raise Gs1Error(f"query parameter {ai}: no GS1 Application Identifier is {ai}")
    if ai in PRIMARY_KEYS:
        raise Gs1Error(f"query parameter {ai}: a primary key belongs in the path, not the query string")
    pieces, rest = [], value
    for part in parts:  # fixed parts take their length, a variable one (always last) the rest
        n = int(part["L"]) if "L" in part else len(rest)
        pieces.append(rest[:n])
        rest = rest[n:]
    sized = not rest and all(
        len(p) == int(f["L"]) if "L" in f else len(p) <= int(f["M"]) and (p or i > 0)  # empty: only after a fixed part
        for i, (p, f) in enumerate(zip(pieces, parts, strict=True))
    )
    if not sized:
        raise Gs1Error(f"query parameter {ai}: {_describe(parts)}, not {len(value)} characters")
    for piece, part in zip(pieces, parts, strict=True):
        if part["E"] == "N" and piece and not (piece.isdigit() and piece.isascii()):
            raise Gs1Error(f"query parameter {ai}: {_describe(parts)}; {value!r} is not")
        if part["E"] == "Z" and any(c not in CSET64 for c in piece):
            raise Gs1Error(f"query parameter {ai}: characters of GS1 character set 64 only; {value!r} is not")
        if part["E"] == "X" and any(c not in CSET82 for c in piece):
            raise Gs1Error(f"query parameter {ai}: characters of GS1 character set 82 only; {value!r} is not")
    if ai in _DATES and not ("01" <= value[2:4] <= "12" and value[4:6] <= "31"):
        raise Gs1Error(f"query parameter {ai}: a date as YYMMDD (month 01-12, day 00-31), not {value!r}")


def _describe(parts: list[dict]) -> str:
    """GS1's notation for a format: N6, N..20, X..20, N13+X..17."""
    return "+".join(p["E"] + (p["L"] if "L" in p else f"..{p['M']}") for p in parts)
