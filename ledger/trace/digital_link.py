"""GS1 Digital Link URIs for serialized items: `https://<resolver>/01/<GTIN-14>/10/<lot>/21/<serial>`.

Values of AI 10 (lot) and AI 21 (serial) are 1-20 characters of GS1 character set 82 and are
percent-encoded in the path where URI syntax requires it. The GTIN is checked (mod-10 digit).
Query parameters carry what is not a GS1 key qualifier (here the code signature).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from urllib.parse import parse_qsl, quote, unquote, urlencode, urlsplit

from ledger.trace.gs1 import Gs1Error, GtinError, check_cset82, normalize_gtin

_PATH = re.compile(r"^(?P<prefix>.*?)/01/(?P<gtin>\d{8,14})/10/(?P<lot>[^/]+)/21/(?P<serial>[^/]+)/?$")


class DigitalLinkError(ValueError):
    """Not a GS1 Digital Link for a serialized item; the message says why."""


@dataclass(frozen=True)
class ItemLink:
    gtin: str
    lot: str
    serial: str
    resolver: str = ""
    params: dict[str, str] = field(default_factory=dict)

    @property
    def key_path(self) -> str:
        """`01/<gtin>/10/<lot>/21/<serial>`, percent-encoded: what a code signature covers."""
        return f"01/{self.gtin}/10/{quote(self.lot, safe='')}/21/{quote(self.serial, safe='')}"

    def uri(self) -> str:
        query = f"?{urlencode(self.params)}" if self.params else ""
        return f"{self.resolver.rstrip('/')}/{self.key_path}{query}"


def check_value(name: str, value: str) -> str:
    try:
        return check_cset82(name, value)
    except Gs1Error as exc:
        raise DigitalLinkError(str(exc)) from None


def build(resolver: str, gtin: str, lot: str, serial: str, params: dict[str, str] | None = None) -> ItemLink:
    try:
        gtin = normalize_gtin(gtin)
    except GtinError as exc:
        raise DigitalLinkError(str(exc)) from None
    return ItemLink(gtin, check_value("lot", lot), check_value("serial", serial), resolver, dict(params or {}))


def parse(uri: str) -> ItemLink:
    """Parse a Digital Link URI (absolute, or a bare path starting with /01/)."""
    parts = urlsplit(uri)
    m = _PATH.match(parts.path)
    if not m:
        raise DigitalLinkError("not a GS1 Digital Link of the form .../01/<GTIN>/10/<lot>/21/<serial>")
    resolver = f"{parts.scheme}://{parts.netloc}{m.group('prefix')}" if parts.netloc else m.group("prefix")
    params = dict(parse_qsl(parts.query, keep_blank_values=True))
    return build(resolver, m.group("gtin"), unquote(m.group("lot")), unquote(m.group("serial")), params)
