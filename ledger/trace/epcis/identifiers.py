"""GS1 identifiers as EPCIS events carry them, reduced to one canonical GS1 Digital Link URI.

EPCIS 2.0 lets a system name the same trade item as an EPC URN (`urn:epc:id:sgtin:0614141.107346.2017`),
an EPC class or pattern URN, or a GS1 Digital Link URI on any domain with short names
(`https://example.com/gtin/614141073467/ser/2017?x=1`). The CBV 2.0 event hash (section 8.9)
compares them as the constrained canonical Digital Link URI: `https://id.gs1.org/<AI>/<key>...`,
GTINs padded to 14 digits, only the finest identification level, no query string. `canonical()`
returns that URI, or None when the value is no GS1 identifier (it is then hashed as written).

Reference: GS1 EPC Tag Data Standard 2.0 (section 6, EPC URI <-> element strings) and
GS1 Digital Link 1.2 (canonical URI); results are checked in the tests against the
`epcis-event-hash-generator` reference implementation.
"""

from __future__ import annotations

import re
from functools import lru_cache

from ledger.trace.gs1 import check_digit

from .digital_link_canonical import _digital_link

# One character of a serial-like component: GS1 AI encodable set 82 as the TDS URI grammar allows
# it, with the characters that must be escaped given as %-escapes.
_CH = r"(?:%2[125-9A-Fa-f]|%3[0-9A-Fa-f]|%4[1-9A-Fa-f]|%5[0-9AaFf]|%6[1-9A-Fa-f]|%7[0-9Aa]|[!')(*+,.0-9:;=A-Za-z_-])"
_CPI_CH = r"(?:%2[3dfDF]|%3[0-9]|%4[1-9A-Fa-f]|%5[0-9Aa]|[0-9A-Z-])"
_SGLN = re.compile(rf"(\d+\.\d*)\.({_CH}{{1,20}})")  # URN shapes compiled once (per value: ~15 % of a hash)
_GRAI = re.compile(rf"(\d+\.\d*)\.({_CH}{{1,16}})")
_GDTI = re.compile(rf"(\d+\.\d*)({_CH}{{1,20}})")
_ITIP = re.compile(rf"(\d+\.\d+)\.(\d\d)\.(\d\d)\.({_CH}{{1,20}})")
_REF = {n: re.compile(rf"{_CH}{{1,{30 - n}}}") for n in range(6, 13)}  # by the company prefix's length


_TO_ESCAPE = re.compile(r"[!()*+,:]")


def web_escape(s: str) -> str:
    """Digital Link requires these characters percent-encoded (GS1 DL 1.2 table 7-1)."""
    if not _TO_ESCAPE.search(s):  # most serials hold none: one search, not seven replaces
        return s
    for ch, esc in (("!", "%21"), ("(", "%28"), (")", "%29"), ("*", "%2A"), ("+", "%2B"), (",", "%2C"), (":", "%3A")):
        s = s.replace(ch, esc)
    return s


def _cd(digits: str) -> str:
    if not digits.isascii():  # isdigit() also takes other scripts' digits, which int() reads
        return digits + str(check_digit(digits))
    # gs1.check_digit on ASCII digits, in two C-level sums (it was ~5 % of a hash ID)
    b = digits.encode()
    odd, even = b[-1::-2], b[-2::-2]  # weights 3, 1, 3, ... from the right
    total = 3 * (sum(odd) - 48 * len(odd)) + sum(even) - 48 * len(even)
    return digits + str((10 - total % 10) % 10)


@lru_cache(maxsize=4096)  # a handful of GTINs carry many serials
def _gtin(cp: str, ref: str) -> str:
    """GTIN-14 from company prefix and item reference (indicator digit first)."""
    return _cd(ref[0] + cp + ref[1:])


def _digits(s: str) -> bool:
    """ASCII digits only: isdigit() also takes `²` (which int() refuses) and `３` (no EPC holds it)."""
    return s.isascii() and s.isdigit()


def _parts(body: str, total: int | None, cp_min: int = 6, cp_max: int = 12) -> tuple[str, str] | None:
    """Split `CP.REF` where CP is 6-12 digits and CP+REF has `total` digits (REF may be empty)."""
    cp, dot, ref = body.partition(".")
    if not dot or not _digits(cp) or not cp_min <= len(cp) <= cp_max:
        return None
    if total is not None and (len(cp) + len(ref) != total or (ref and not _digits(ref))):
        return None
    return cp, ref


def _urn(kind: str, value: str) -> str | None:
    """Canonical DL URI of one EPC URN body (after `urn:epc:<kind>:`), or None."""
    scheme, _, body = value.partition(":")
    rules = _ID_RULES if kind == "id" else _CLASS_RULES if kind == "class" else _PAT_RULES
    rule = rules.get(scheme)
    return rule(body) if rule else None


def _sscc(b: str) -> str | None:
    p = _parts(b, 17)
    return p and f"https://id.gs1.org/00/{_cd(p[1][0] + p[0] + p[1][1:])}"


def _sgln(b: str) -> str | None:
    m = _SGLN.fullmatch(b)
    p = m and _parts(m.group(1), 12)
    if not p:
        return None
    ext = m.group(2)
    base = f"https://id.gs1.org/414/{_cd(p[0] + p[1])}"
    return base if ext == "0" else f"{base}/254/{web_escape(ext)}"


def _grai(b: str) -> str | None:
    m = _GRAI.fullmatch(b)
    p = m and _parts(m.group(1), 12)
    return p and f"https://id.gs1.org/8003/{_cd('0' + p[0] + p[1])}{web_escape(m.group(2))}"


def _company_ref(ai: str):
    """Company prefix and a free reference, up to 30 characters: giai (8004), ginc (401)."""

    def rule(b: str) -> str | None:
        cp, dot, ref = b.partition(".")
        if not (dot and _digits(cp) and 6 <= len(cp) <= 12 and _REF[len(cp)].fullmatch(ref)):
            return None
        return f"https://id.gs1.org/{ai}/{cp}{web_escape(ref)}"

    return rule


def _item(ai: str, max_len: int):
    """GTIN plus one serial-like component: sgtin (21), upui (235), lgtin class (10)."""

    shape = re.compile(rf"(\d+\.\d+)\.({_CH}{{1,{max_len}}})")

    def rule(b: str) -> str | None:
        m = shape.fullmatch(b)
        p = m and _parts(m.group(1), 13)
        return p and f"https://id.gs1.org/01/{_gtin(*p)}/{ai}/{web_escape(m.group(2))}"

    return rule


def _key(ai: str, total: int):
    """A GS1 key of `total` digits before its check digit: GLN-based pgln, gsrn, gsrnp, gsin."""

    def rule(b: str) -> str | None:
        p = _parts(b, total)
        return p and f"https://id.gs1.org/{ai}/{_cd(p[0] + p[1])}"

    return rule


def _gdti(b: str) -> str | None:
    m = _GDTI.fullmatch(b)
    p = m and _parts(m.group(1), 12)
    return p and f"https://id.gs1.org/253/{_cd(p[0] + p[1])}{web_escape(m.group(2)[1:])}"


def _cpi(pattern: bool):
    """Component / part identifier: `CP.ref.serial`, or the class pattern `CP.ref.*`."""
    tail = r"\*" if pattern else r"(\d{1,12})"
    shape = re.compile(rf"(\d{{6,12}})\.({_CPI_CH}+)\.{tail}")

    def rule(b: str) -> str | None:
        m = shape.fullmatch(b)
        if not m or len(re.findall(_CPI_CH, m.group(2))) > 30 - len(m.group(1)):
            return None
        base = f"https://id.gs1.org/8010/{web_escape(m.group(1) + m.group(2))}"
        return base if pattern else f"{base}/8011/{m.group(3)}"

    return rule


def _sgcn(b: str) -> str | None:
    m = re.fullmatch(r"(\d+\.\d*)\.(\d{1,12})", b)
    p = m and _parts(m.group(1), 12)
    return p and f"https://id.gs1.org/255/{_cd(p[0] + p[1])}{m.group(2)}"


def _itip(b: str) -> str | None:
    m = _ITIP.fullmatch(b)
    p = m and _parts(m.group(1), 13)
    return p and f"https://id.gs1.org/8006/{_gtin(*p)}{m.group(2)}{m.group(3)}/21/{web_escape(m.group(4))}"


def _pattern(total: int, fmt):
    def rule(b: str) -> str | None:
        if not b.endswith(".*"):
            return None
        p = _parts(b[:-2], total)
        return p and fmt(*p)

    return rule


def _pat_itip(b: str) -> str | None:
    m = re.fullmatch(r"(\d+\.\d+)\.(\d\d)\.(\d\d)\.\*", b)
    p = m and _parts(m.group(1), 13)
    return p and f"https://id.gs1.org/8006/{_gtin(*p)}{m.group(2)}{m.group(3)}"


_ID_RULES = {
    "sgtin": _item("21", 20),
    "sscc": _sscc,
    "sgln": _sgln,
    "grai": _grai,
    "giai": _company_ref("8004"),
    "gsrn": _key("8018", 17),
    "gsrnp": _key("8017", 17),
    "gdti": _gdti,
    "cpi": _cpi(pattern=False),
    "sgcn": _sgcn,
    "ginc": _company_ref("401"),
    "gsin": _key("402", 16),
    "itip": _itip,
    "upui": _item("235", 28),
    "pgln": _key("417", 12),
}
_CLASS_RULES = {"lgtin": _item("10", 20)}
_PAT_RULES = {
    "sgtin": _pattern(13, lambda cp, ref: f"https://id.gs1.org/01/{_gtin(cp, ref)}"),
    "upui": _pattern(13, lambda cp, ref: f"https://id.gs1.org/01/{_gtin(cp, ref)}"),
    "grai": _pattern(12, lambda cp, ref: f"https://id.gs1.org/8003/{_cd('0' + cp + ref)}"),
    "gdti": _pattern(12, lambda cp, ref: f"https://id.gs1.org/253/{_cd(cp + ref)}"),
    "sgcn": _pattern(12, lambda cp, ref: f"https://id.gs1.org/255/{_cd(cp + ref)}"),
    "itip": _pat_itip,
    "cpi": _cpi(pattern=True),
}


# The commonest EPC URNs with plain characters (ASCII digits in the key, no character to escape after):
# one regex and one format, where the rules above take a regex, `_parts`, `web_escape` and a few calls
# more (~2.8 µs an SGTIN, ~10 % of a hash ID over the URN half of the generated events). What it does
# not take (None) goes to the rules; the tests compare both on every URN the generated events hold.
_PLAIN_URN = re.compile(r"urn:epc:(id:sgtin|class:lgtin|idpat:sgtin|id:sgln|id:grai|id:sscc|id:giai):"
                        r"([0-9]{6,12})\.([0-9A-Za-z]*)(?:\.([0-9A-Za-z._-]{1,20}|\*))?")  # fmt: skip


def _plain_urn(value: str) -> str | None:
    m = _PLAIN_URN.fullmatch(value)
    if m is None:
        return None
    scheme, cp, ref, tail = m.groups()
    n, digits = len(cp) + len(ref), ref.isdigit()
    if tail is None:
        if scheme == "id:sscc":
            return f"https://id.gs1.org/00/{_cd(ref[0] + cp + ref[1:])}" if digits and n == 17 else None
        return f"https://id.gs1.org/8004/{cp}{ref}" if scheme == "id:giai" and ref and n <= 30 else None
    if scheme == "idpat:sgtin":
        return f"https://id.gs1.org/01/{_gtin(cp, ref)}" if tail == "*" and digits and n == 13 else None
    if tail == "*" or not (digits or not ref):
        return None
    if n == 13 and ref:
        if scheme == "id:sgtin":
            return f"https://id.gs1.org/01/{_gtin(cp, ref)}/21/{tail}"
        return f"https://id.gs1.org/01/{_gtin(cp, ref)}/10/{tail}" if scheme == "class:lgtin" else None
    if n != 12:
        return None
    if scheme == "id:sgln":
        base = f"https://id.gs1.org/414/{_cd(cp + ref)}"
        return base if tail == "0" else f"{base}/254/{tail}"
    return f"https://id.gs1.org/8003/{_cd('0' + cp + ref)}{tail}" if scheme == "id:grai" and len(tail) <= 16 else None


@lru_cache(maxsize=65536)  # events repeat their locations, parties and classes
def canonical(value: str) -> str | None:
    """The constrained canonical GS1 Digital Link URI of `value`, or None if it names no GS1 key."""
    if "." not in value:
        return None
    if value.startswith("urn:epc:"):
        plain = _plain_urn(value)
        if plain is not None:
            return plain
        kind, _, rest = value[8:].partition(":")
        return _urn(kind, rest) if kind in ("id", "class", "idpat") else None
    if value.startswith(("http://", "https://")):
        return _digital_link(value)
    return None
