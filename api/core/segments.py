"""Path segments that may hold a `/`: GS1 keys such as a lot (AI 10) or a serial (AI 21) are
characters of GS1 set 82, which includes `/`, and GS1 Digital Link sends them percent-encoded
(`HC-2026%2F12`). ASGI servers decode the path before routing, so an encoded slash would split the
segment in two and the route would never match.

`EncodedSlashes` (outermost middleware) rebuilds the routed path from the raw one, decoding each
segment once and keeping a slash inside a segment as a private-use character that no GS1 value
can hold; routes declare such parameters as `{lot:gs1}`, whose convertor turns it back into `/`.
Every other request is left exactly as the server decoded it.
"""

from __future__ import annotations

from urllib.parse import quote, unquote

from starlette.convertors import Convertor, register_url_convertor
from starlette.types import ASGIApp, Receive, Scope, Send

SLASH = "\ue000"  # outside GS1 character set 82 (ASCII only), so never part of a real value


class Gs1SegmentConvertor(Convertor[str]):
    regex = "[^/]+"

    def convert(self, value: str) -> str:
        return value.replace(SLASH, "/")

    def to_string(self, value: str) -> str:
        return quote(value, safe="")


register_url_convertor("gs1", Gs1SegmentConvertor())


def routed_path(raw_path: bytes) -> str:
    """The path with each segment decoded once and slashes inside segments kept apart."""
    return "/".join(unquote(seg).replace("/", SLASH) for seg in raw_path.decode("latin-1").split("/"))


class EncodedSlashes:
    def __init__(self, app: ASGIApp):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        raw = scope.get("raw_path")
        if scope["type"] == "http" and raw and b"%2f" in raw.lower():
            scope = dict(scope, path=routed_path(raw))
        await self.app(scope, receive, send)


def raw_path(scope: Scope) -> str:
    """The path as the client sent it, still percent-encoded: a scan is parsed from it (GS1
    Digital Link decodes each key value once; the server's decoded path would split a lot that
    holds an encoded `/`, and decoding twice would turn `%2541` into `A`)."""
    raw = scope.get("raw_path")
    return raw.decode("latin-1") if raw else quote(scope["path"], safe="/")
