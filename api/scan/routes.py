"""The GS1 Digital Link resolver: what a phone opens when it scans one of our codes.

`GET /01/{gtin}/10/{lot}/21/{serial}?k=...&s=...` (or a short code's `?t=...`) answers a browser with the consumer page
(Chinese or English: `?lang=zh|en`, else Accept-Language) and `Accept: application/json` with the
same facts as data. No login; rate limited per client. Every scan is recorded.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from functools import partial
from typing import NamedTuple
from urllib.parse import parse_qsl

from fastapi import APIRouter, Depends, Path, Query, Request, Response
from sqlalchemy.orm import Session as DbSession
from starlette.types import ASGIApp, Receive, Scope, Send

from ledger.trace import scan_facts
from ledger.trace.digital_link import DigitalLinkError

from ..carbon import scan as carbon_scan
from ..console import scan_page as pages
from ..core.errors import ApiError, error_answer, invalid, not_found
from ..core.segments import raw_path  # (importing it registers the `{name:gs1}` convertor its routes use)
from ..core.services import Services, get_db, rate_limited, services
from . import cold_chain
from .verdict import resolve, review_token

router = APIRouter(tags=["public"])
#: the scan page's own policy (the guard adds it to no page): no script at all, its one style block
#: by its hash, forms posting to this origin only (the counterfeit report), no frame
PAGE_STYLE = pages.STYLE  # (also the report page's, `reports`: the console's modules stay this one's to import)
PAGE_CSP = (
    f"default-src 'none'; style-src '{pages.STYLE_HASH}'; img-src 'self' data:; base-uri 'none'; "
    "form-action 'self'; frame-ancestors 'none'"
).encode()


# The scan route reads its parameters itself: FastAPI's per-parameter validation cost more than a
# quarter of a scan's CPU (measured with py-spy under load). Same rules, same 422s, documented here.
_PARAMS: dict[tuple[str, str], tuple[re.Pattern[str], str]] = {
    ("path", "gtin"): (re.compile(r"\d{8,14}"), "8 to 14 digits"),
    ("path", "lot"): (re.compile(r".{1,60}", re.S), "1 to 60 characters"),
    ("path", "serial"): (re.compile(r".{1,60}", re.S), "1 to 60 characters"),
    ("query", "k"): (re.compile(r".{0,64}", re.S), "signing key id, at most 64 characters"),
    ("query", "s"): (re.compile(r".{0,128}", re.S), "Ed25519 signature (base64url), at most 128 characters"),
    ("query", "t"): (re.compile(r".{0,32}", re.S), "a short code's tag of its signature, at most 32 characters"),
    ("query", "lang"): (re.compile(r"zh|en"), "page language: zh or en"),
    ("query", "v"): (re.compile(r"[0-9a-f]{0,16}"), "the page's own link: the same client looking again, not counted"),
}
_QUERY = [name for where, name in _PARAMS if where == "query"]
_OPENAPI_PARAMS = [
    {
        "name": name,
        "in": where,
        "required": where == "path",
        "description": reason,
        "schema": {"type": "string", "pattern": f"^(?:{pattern.pattern})$"},
    }
    for (where, name), (pattern, reason) in _PARAMS.items()
]


def _params(path: dict[str, str], query: dict[str, str]) -> tuple[dict[str, str], str | None]:
    """The signature parameters (k, s, or a short code's t) and the page language, after checking every parameter."""
    values = {("path", n): v for n, v in path.items()} | {("query", n): query.get(n) for n in _QUERY}
    problems = [
        {"field": f"{where}.{name}", "reason": f"expected {_PARAMS[where, name][1]}"}
        for (where, name), v in values.items()
        if v is not None and not _PARAMS[where, name][0].fullmatch(v)
    ]
    if problems:
        raise ApiError(422, "invalid_input", problems)
    return {n: v for n in ("k", "s", "t") if (v := values["query", n]) is not None}, values["query", "lang"]


class Answer(NamedTuple):
    content_type: bytes
    body: bytes


async def answer_scan(
    svc: Services, path: str, query: dict[str, str], accept: str, accept_language: str | None, client: str
) -> Answer:
    """A scan's answer: the consumer page, or its facts as JSON. Raises ApiError on bad input."""
    svc.public_limiter.hit(client)
    gtin, lot, serial = _PATH.fullmatch(path).groups()  # type: ignore[union-attr]
    params, lang = _params({"gtin": gtin, "lot": lot, "serial": serial}, query)
    uri = path + ("?" + "&".join(f"{a}={b}" for a, b in params.items()) if params else "")
    token = partial(review_token, svc, client, gtin, lot, serial)
    again = "v" in query and query["v"] in (token(), token(ago=1))  # (no hashing for a plain scan)
    try:
        data = await resolve(svc, uri, client, record=not again)
    except DigitalLinkError as exc:
        raise invalid("path", str(exc)) from None
    if again and data["scans_before"]["count"]:  # the page's own link: this client's scan is among them
        data["scans_before"]["yours_included"] = True  # (a shopper read it as someone else's; phone trial)
    if "product" in data:  # a known batch: its carbon footprint, when one is published
        data["carbon"] = await carbon_scan.summary_for(svc, data["product"]["gtin"], data["batch"]["lot"])
        cold_chain.add_to(data, await cold_chain.summary_for(svc, data["product"]["gtin"], data["batch"]["lot"]))
    if "application/json" in accept:
        return Answer(b"application/json", _json(data))
    language = pages.language(lang, accept_language)
    return Answer(b"text/html; charset=utf-8", pages.render(data, language, {**params, "v": token()}).encode())


def _json(content: object) -> bytes:
    """As Starlette's JSONResponse renders."""
    return json.dumps(content, ensure_ascii=False, allow_nan=False, separators=(",", ":")).encode()


_PATH = re.compile(r"/01/([^/]+)/10/([^/]+)/21/([^/]+)")  # as the route's path (a parameter is [^/]+)


class ScanFastPath:
    """Scans answered in plain ASGI, before FastAPI's routing and request handling.

    Scans are most of the traffic, and routing, FastAPI's endpoint machinery and its response
    classes were a quarter of a scan's CPU (py-spy under 50 clients), which the p99 target could
    not spare. Installed inside the request-id middleware, so scans keep their X-Request-ID, and
    inside Starlette's server-error middleware (an unexpected error is still a logged 500). Same
    checks, answers and errors as the documented route below, which serves a scan only where this
    middleware is not installed. GET only: HEAD and other methods take the usual way.
    """

    def __init__(self, app: ASGIApp, services: Callable[[], Services]):
        self.app, self.services = app, services

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "GET" or not _PATH.fullmatch(scope["path"]):
            await self.app(scope, receive, send)
            return
        headers: dict[bytes, bytes] = {}
        for k, v in scope["headers"]:
            if k in _WANTED:
                headers.setdefault(k, v)  # the first, as Starlette's Headers.get
        query = dict(parse_qsl(scope["query_string"].decode("latin-1"), keep_blank_values=True))
        client = scope["client"][0] if scope.get("client") else "unknown"
        try:
            status, (content_type, body) = (
                200,
                await answer_scan(
                    self.services(),
                    raw_path(scope),
                    query,
                    headers.get(b"accept", b"").decode("latin-1"),
                    (al := headers.get(b"accept-language")) and al.decode("latin-1"),
                    client,
                ),
            )
            extra = _page_headers(content_type)
        except Exception as exc:
            known = error_answer(exc)
            if known is None:
                raise
            status, content, more = known
            content_type, body = b"application/json", _json(content)
            extra = [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in (more or {}).items()]
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [(b"content-length", str(len(body)).encode()), (b"content-type", content_type), *extra],
            }
        )
        await send({"type": "http.response.body", "body": body})


_WANTED = (b"accept", b"accept-language")


def _page_headers(content_type: bytes) -> list[tuple[bytes, bytes]]:
    return [(b"content-security-policy", PAGE_CSP)] if content_type.startswith(b"text/html") else []


@router.get(
    "/01/{gtin}/10/{lot:gs1}/21/{serial:gs1}",
    summary="Resolve a scanned code: verdict, product, batch, timeline, deposit, proof",
    responses={200: {"content": {"text/html": {}, "application/json": {}}}, 422: {}},
    openapi_extra={"parameters": _OPENAPI_PARAMS},
)
async def resolve_code(request: Request) -> Response:
    """Answered by `ScanFastPath` where it is installed (`create_app` does); here, the same."""
    client = request.client.host if request.client else "unknown"
    a = await answer_scan(
        services(request),
        raw_path(request.scope),
        dict(request.query_params),
        request.headers.get("accept", ""),
        request.headers.get("accept-language"),
        client,
    )
    headers = {k.decode(): v.decode() for k, v in _page_headers(a.content_type)}
    return Response(a.body, media_type=a.content_type.decode(), headers=headers)


@router.get(
    "/v1/proofs/01/{gtin}/10/{lot:gs1}/21/{serial:gs1}",
    dependencies=[Depends(rate_limited)],
    summary="The Merkle proof that a code belongs to its anchored issue (no scan recorded)",
)
def code_proof(
    request: Request,
    gtin: str = Path(pattern=r"^\d{14}$"),
    lot: str = Path(min_length=1, max_length=60),
    serial: str = Path(min_length=1, max_length=60),
    t: str | None = Query(None, max_length=32, description="a short code's tag: the answer adds its signature"),
    db: DbSession = Depends(get_db),
) -> dict:
    """Only what `ledger verify` needs to check a code against the chain; it trusts none of it."""
    proof = scan_facts.code_proof(db, gtin, lot, serial, t)
    if proof is None:
        raise not_found(f"code {gtin}/{lot}/{serial}")
    return proof
