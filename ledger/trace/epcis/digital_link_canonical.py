"""GS1 Digital Link URIs reduced to the constrained canonical one (`https://id.gs1.org/<AI>/<key>...`):
short names to AIs, another resolver's domain to id.gs1.org, GTINs padded to 14 digits, only the
finest identification level, no query string (GS1 Digital Link 1.2); the Digital Link half of
`identifiers.canonical`, which checks its results against the reference implementation's."""

from __future__ import annotations

import re

#: one character of a Digital Link value (GS1 DL 1.2 table 7-1, unescaped)
_DL_CH = r"[\x22\x27\x2D\x2E\x30-\x39\x3B-\x3F\x41-\x5A\x5F\x61-\x7A]"

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


# A GTIN with a serial or a lot, already in the canonical form (no query, no short name, a
# non-empty value without `?`): every step of `_general` leaves it as it is. Most identifiers
# events carry are in this form; `_general` took ~30 µs on each (the test compares the two).
_ALREADY_CANONICAL = re.compile(
    r"https://id\.gs1\.org/01/\d{14}/(?:21|10)/[\x22\x27\x2D\x2E\x30-\x39\x3B-\x3E\x41-\x5A\x5F\x61-\x7A]{1,20}"
)
_SHORT = tuple((f"/{name}/", f"/{ai}/") for name, ai in _SHORT_NAMES.items())
_GTIN_DIGITS = re.compile(r"^https://id.gs1.org/01/(\d+)")


def _digital_link(uri: str) -> str | None:
    return uri if _ALREADY_CANONICAL.fullmatch(uri) else _general(uri)


def _general(uri: str) -> str | None:
    # _MAYBE_DL first: _DL_SHAPE backtracks for ~100 µs on a URL that is no Digital Link
    if not _MAYBE_DL.search(uri) or not _DL_SHAPE.match(uri):
        return None
    uri = uri.split("?", 1)[0]
    for short, ai in _SHORT:  # in this order, one after the other
        if short in uri:
            uri = uri.replace(short, ai)
    if not _CANONICAL_HOST.match(uri):  # another resolver's domain: keep the path from the primary key on
        for ai in _PRIMARY_ORDER:
            at = uri.find(f"/{ai}/")
            if at != -1:
                uri = "https://id.gs1.org" + uri[at:]
                break
    m = _GTIN_DIGITS.match(uri)
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
    if at == -1:  # both patterns below need it
        return uri
    tail = uri[at + 4 :]
    if _CPV_LAST.match(uri):
        uri = uri[:at] + tail[tail.find("/") : -1]
    if _CPV_BEFORE.match(uri):
        uri = uri[:at] + tail[tail.find("/") :]
    return uri
