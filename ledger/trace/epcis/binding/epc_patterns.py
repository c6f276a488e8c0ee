"""An identifier written as a GS1 Digital Link URI, read as the EPC URI an EPC pattern compares with.

An EPC pattern (`urn:epc:idpat:sgtin:0614141.*.*`, Tag Data Standard section 8) names the company
prefix apart from the rest of the key; a Digital Link URI does not say where the prefix ends. The
pattern does: the digits of the key are cut at its company prefix's length, so the pattern matches
the same EPC in either form (EPCIS 2.0 8.2.7.1.1: "matches" as for its EPC URI)."""

from __future__ import annotations

import re
from urllib.parse import unquote

_DL = re.compile(
    r"https://id\.gs1\.org/(00|01|414|417|8003|8004|8017|8018|253|255|401|402|8006|8010)/([^/]+)"
    r"(?:/(10|21|235|254|8011)/([^/]+))?"
)


def _urn(scheme: str, ai: str, key: str, q: str | None, tail: str | None, n: int) -> str | None:
    """The EPC URI of a canonical Digital Link's key (`key`, its qualifier `q`=`tail`) in `scheme`,
    with a company prefix of `n` digits; None where the two do not fit."""
    t = unquote(tail) if tail is not None else None
    if scheme == "sgtin" and ai == "01" and len(key) == 14 and q in (None, "10", "21"):  # a serial, or a lot
        return f"urn:epc:id:sgtin:{key[1 : 1 + n]}.{key[0]}{key[1 + n : 13]}.{t if t is not None else '*'}"
    if scheme == "upui" and ai == "01" and len(key) == 14 and q in (None, "235"):  # a third-party control number
        return f"urn:epc:id:upui:{key[1 : 1 + n]}.{key[0]}{key[1 + n : 13]}.{t if t is not None else '*'}"
    if scheme == "itip" and ai == "8006" and len(key) == 18 and q in (None, "21"):  # piece and total, serial
        tail = t if t is not None else "*"
        return f"urn:epc:id:itip:{key[1 : 1 + n]}.{key[0]}{key[1 + n : 13]}.{key[14:16]}.{key[16:18]}.{tail}"
    if scheme == "cpi" and ai == "8010" and q in (None, "8011"):  # its serial, or every one (a class)
        return f"urn:epc:id:cpi:{key[:n]}.{unquote(key[n:])}.{t if t is not None else '*'}"
    if q is not None and not (scheme == "sgln" and q == "254"):
        return None
    if scheme == "sscc" and ai == "00" and len(key) == 18:
        return f"urn:epc:id:sscc:{key[1 : 1 + n]}.{key[0]}{key[1 + n : 17]}"
    if scheme == "sgln" and ai == "414" and len(key) == 13:
        return f"urn:epc:id:sgln:{key[:n]}.{key[n:12]}.{t if t is not None else '0'}"
    if scheme == "pgln" and ai == "417" and len(key) == 13:
        return f"urn:epc:id:pgln:{key[:n]}.{key[n:12]}"
    if scheme == "grai" and ai == "8003" and len(key) > 14:
        return f"urn:epc:id:grai:{key[1 : 1 + n]}.{key[1 + n : 13]}.{unquote(key[14:])}"
    if scheme == "giai" and ai == "8004":
        return f"urn:epc:id:giai:{key[:n]}.{unquote(key[n:])}"
    if scheme in ("gsrn", "gsrnp") and ai == {"gsrn": "8018", "gsrnp": "8017"}[scheme] and len(key) == 18:
        return f"urn:epc:id:{scheme}:{key[:n]}.{key[n:17]}"
    if scheme == "sgcn" and ai == "255" and len(key) > 13:  # the coupon's serial follows its 13 digits
        return f"urn:epc:id:sgcn:{key[:n]}.{key[n:12]}.{key[13:]}"
    if scheme == "ginc" and ai == "401":
        return f"urn:epc:id:ginc:{key[:n]}.{unquote(key[n:])}"
    if scheme == "gsin" and ai == "402" and len(key) == 17:
        return f"urn:epc:id:gsin:{key[:n]}.{key[n:16]}"
    if scheme == "gdti" and ai == "253" and len(key) > 13:
        return f"urn:epc:id:gdti:{key[:n]}.{key[n:12]}.{unquote(key[13:])}"
    return None


def as_urn(canonical_dl: str, scheme: str, company_prefix_len: int) -> str | None:
    """`canonical_dl` (as `identifiers.canonical` writes it) as an EPC URI of `scheme` whose company
    prefix has `company_prefix_len` digits, or None if it is no identifier of that scheme."""
    m = _DL.fullmatch(canonical_dl)
    if m is None or not 6 <= company_prefix_len <= 12:
        return None
    return _urn(scheme, m.group(1), m.group(2), m.group(3), m.group(4), company_prefix_len)
