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

# One character of a serial-like component: GS1 AI encodable set 82 as the TDS URI grammar allows
# it, with the characters that must be escaped given as %-escapes.
_CH = r"(?:%2[125-9A-Fa-f]|%3[0-9A-Fa-f]|%4[1-9A-Fa-f]|%5[0-9AaFf]|%6[1-9A-Fa-f]|%7[0-9Aa]|[!')(*+,.0-9:;=A-Za-z_-])"
_CPI_CH = r"(?:%2[3dfDF]|%3[0-9]|%4[1-9A-Fa-f]|%5[0-9Aa]|[0-9A-Z-])"
_DL_CH = r"[\x22\x27\x2D\x2E\x30-\x39\x3B-\x3F\x41-\x5A\x5F\x61-\x7A]"
_SGLN = re.compile(rf"(\d+\.\d*)\.({_CH}{{1,20}})")  # URN shapes compiled once (per value: ~15 % of a hash)
_GRAI = re.compile(rf"(\d+\.\d*)\.({_CH}{{1,16}})")
_GDTI = re.compile(rf"(\d+\.\d*)({_CH}{{1,20}})")
_ITIP = re.compile(rf"(\d+\.\d+)\.(\d\d)\.(\d\d)\.({_CH}{{1,20}})")
_REF = {n: re.compile(rf"{_CH}{{1,{30 - n}}}") for n in range(6, 13)}  # by the company prefix's length


def web_escape(s: str) -> str:
    """Digital Link requires these characters percent-encoded (GS1 DL 1.2 table 7-1)."""
    for ch, esc in (("!", "%21"), ("(", "%28"), (")", "%29"), ("*", "%2A"), ("+", "%2B"), (",", "%2C"), (":", "%3A")):
        s = s.replace(ch, esc)
    return s


def _cd(digits: str) -> str:
    return digits + str(check_digit(digits))


def _gtin(cp: str, ref: str) -> str:
    """GTIN-14 from company prefix and item reference (indicator digit first)."""
    return _cd(ref[0] + cp + ref[1:])


def _parts(body: str, total: int | None, cp_min: int = 6, cp_max: int = 12) -> tuple[str, str] | None:
    """Split `CP.REF` where CP is 6-12 digits and CP+REF has `total` digits (REF may be empty)."""
    cp, dot, ref = body.partition(".")
    if not dot or not cp.isdigit() or not cp_min <= len(cp) <= cp_max:
        return None
    if total is not None and (len(cp) + len(ref) != total or (ref and not ref.isdigit())):
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
        if not (dot and cp.isdigit() and 6 <= len(cp) <= 12 and _REF[len(cp)].fullmatch(ref)):
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

# --- Digital Link URIs -----------------------------------------------------------------------

_SHORT_NAMES = {
    "gtin": "01", "itip": "8006", "cpid": "8010", "gln": "414", "party": "417", "gsrnp": "8017",
    "gsrn": "8018", "gcn": "255", "sscc": "00", "gdti": "253", "ginc": "401", "gsin": "402",
    "grai": "8003", "giai": "8004", "cpv": "22", "lot": "10", "ser": "21",
}  # fmt: skip
_KEYS = (
    "01|gtin|8006|itip|8010|cpid|414|gln|417|party|8017|gsrnp|8018|gsrn|255|gcn|00|sscc|253|gdti|401|ginc|402|gsin"
    "|8003|grai|8004|giai"
)
_DL_SHAPE = re.compile(
    r"^https?:(//(([^/?#]*)@)?([^/?#:]*)(:([^/?#]*))?)?"
    rf"((([^?#]*)(/({_KEYS})/)(\d{{4}}[^/]+)(/[^/]+/[^/]+)?/?(\?([^?\n]*))?(#([^\n]*))?)|(/[A-Za-z_-]{{10}}$))"
)
_CANONICAL_HOST = re.compile(
    r"^https://id.gs1.org/(01|8006|8010|414|417|8017|8018|255|00|253|401|402|8003|8004)/(\d{4}[^/]+)(/[^/]+/[^/]+)?/?(\?([^?\n]*))?(#([^\n]*))?|(/[A-Za-z_-]{10}$)"
)
_PRIMARY_ORDER = ("00", "01", "253", "255", "401", "402", "414", "417", "8003", "8004", "8006", "8010", "8017", "8018")
_VALID = [
    re.compile(p)
    for p in (
        r"https://id.gs1.org/00/(\d{18})$",
        rf"https://id.gs1.org/01/(\d{{14}})/21/({_DL_CH}{{0,20}})$",
        rf"https://id.gs1.org/01/(\d{{14}})/10/({_DL_CH}{{0,20}})$",
        r"https://id.gs1.org/01/(\d{14})$",
        rf"https://id.gs1.org/01/(\d{{14}})/235/({_DL_CH}{{0,28}})$",
        rf"https://id.gs1.org/253/(\d{{13}})({_DL_CH}{{0,17}})$",
        r"https://id.gs1.org/255/(\d{13})(\d{0,12})$",
        rf"https://id.gs1.org/401/({_DL_CH}{{0,30}})$",
        r"https://id.gs1.org/402/(\d{17})$",
        r"https://id.gs1.org/414/(\d{13})$",
        rf"https://id.gs1.org/414/(\d{{13}})/254/({_DL_CH}{{0,20}})$",
        r"https://id.gs1.org/417/(\d{13})$",
        rf"https://id.gs1.org/8003/(\d{{14}})({_DL_CH}{{0,16}})$",
        rf"https://id.gs1.org/8004/({_DL_CH}{{0,30}})$",
        rf"https://id.gs1.org/8006/(\d{{18}})/21/({_DL_CH}{{0,20}})$",
        rf"https://id.gs1.org/8006/(\d{{18}})/10/({_DL_CH}{{0,20}})$",
        r"https://id.gs1.org/8006/(\d{18})$",
        r"https://id.gs1.org/8010/([\x23\x2D\x2F\x30-\x39\x41-\x5A]{0,30})/8011/(\d{0,12})$",
        r"https://id.gs1.org/8010/([\x23\x2D\x2F\x30-\x39\x41-\x5A]{0,30})$",
        r"https://id.gs1.org/8017/(\d{18})$",
        r"https://id.gs1.org/8018/(\d{18})$",
    )
]
_AI_OF = {p: p.pattern[19:].split("/", 1)[0] for p in _VALID}
_VALID_BY_AI = {ai: [p for p in _VALID if _AI_OF[p] == ai] for ai in _AI_OF.values()}  # only they can match
_ITEM = r"https://id.gs1.org/(?:8006/\d{18}|01/\d{14})"
_MAYBE_DL = re.compile(rf"/(?:{_KEYS})/\d{{4}}|/[A-Za-z_-]{{10}}$")  # what _DL_SHAPE needs somewhere
_LOT_AND_SERIAL = re.compile(rf"{_ITEM}/10/{_DL_CH}{{0,20}}/21/{_DL_CH}{{0,20}}$")
_CPV_LAST = re.compile(rf"{_ITEM}/22/{_DL_CH}{{0,20}}$")
_CPV_BEFORE = re.compile(rf"{_ITEM}/22/[\x2F\x22\x27\x2D\x2E\x30-\x39\x3B-\x3F\x41-\x5A\x5F\x61-\x7A]{{0,20}}$")


def _digital_link(uri: str) -> str | None:
    # _MAYBE_DL first: _DL_SHAPE backtracks for ~100 µs on a URL that is no Digital Link
    if not _MAYBE_DL.search(uri) or not _DL_SHAPE.match(uri):
        return None
    uri = uri.split("?", 1)[0]
    for name, ai in _SHORT_NAMES.items():
        uri = uri.replace(f"/{name}/", f"/{ai}/")
    if not _CANONICAL_HOST.match(uri):  # another resolver's domain: keep the path from the primary key on
        for ai in _PRIMARY_ORDER:
            at = uri.find(f"/{ai}/")
            if at != -1:
                uri = "https://id.gs1.org" + uri[at:]
                break
    m = re.match(r"^https://id.gs1.org/01/(\d+)", uri)
    if m and len(m.group(1)) in (8, 12, 13):
        uri = uri.replace("/01/", "/01/" + "0" * (14 - len(m.group(1))), 1) if len(m.group(1)) != 14 else uri
    uri = _drop_cpv(uri)
    if _LOT_AND_SERIAL.match(uri):  # serial given: the lot goes
        head, _, rest = uri.partition("/10/")
        uri = head + rest[rest.find("/") :]
    at = uri.find("/", 19)  # the AI after https://id.gs1.org/
    return uri if any(p.match(uri) for p in _VALID_BY_AI.get(uri[19:at] if at > 0 else uri[19:], ())) else None


def _drop_cpv(uri: str) -> str:
    """Drop a consumer product variant (AI 22), which does not identify the item further."""
    at = uri.find("/22/")
    tail = uri[at + 4 :]
    if _CPV_LAST.match(uri):
        uri = uri[:at] + tail[tail.find("/") : -1]
    if _CPV_BEFORE.match(uri):
        uri = uri[:at] + tail[tail.find("/") :]
    return uri


@lru_cache(maxsize=65536)  # events repeat their locations, parties and classes
def canonical(value: str) -> str | None:
    """The constrained canonical GS1 Digital Link URI of `value`, or None if it names no GS1 key."""
    if "." not in value:
        return None
    if value.startswith("urn:epc:"):
        kind, _, rest = value[8:].partition(":")
        return _urn(kind, rest) if kind in ("id", "class", "idpat") else None
    if value.startswith(("http://", "https://")):
        return _digital_link(value)
    return None
