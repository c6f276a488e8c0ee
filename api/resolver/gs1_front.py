"""The GS1-conformant resolver in front of the scan page (GS1-Conformant Resolver standard 1.2).

Every GS1 Digital Link URI of a GTIN (`/01/{gtin}`, `/01/{gtin}/10/{lot}`,
`/01/{gtin}/10/{lot}/21/{serial}`, a trailing slash tolerated) is answered here, in plain ASGI:
- OPTIONS (204) and HEAD besides GET, CORS headers on every answer;
- 400, not a page, for a malformed Digital Link (a wrong check digit, a lot outside GS1 set 82);
- `?linkType=linkset` (or `all`) or `Accept: application/linkset+json`: the RFC 9264 linkset;
- `?linkType=gs1:...`: 307 to that link (`Vary: Accept, Accept-Language`), 300 when several are
  equally good, 404 when there is none; the query string passes on (less linkType and context);
- a compressed Digital Link (one URI-safe base64 segment) is answered as its uncompressed URI,
  with `Link: <uncompressed>; rel="owl:sameAs"`;
- no linkType: an item's code opens our verification page in place (the scan: verdict, facts,
  scan recorded), every other URI redirects to its one default link (a recalled batch's recall
  notice first).
Links come from `ledger.trace.resolver_links`."""

from __future__ import annotations

import json
import re
from dataclasses import replace
from urllib.parse import parse_qsl, quote, unquote, urlencode

from starlette.concurrency import run_in_threadpool
from starlette.types import ASGIApp, Receive, Scope, Send

from ledger.errors import InvalidInput
from ledger.store.models import Product
from ledger.trace import dl_compression, scan_facts
from ledger.trace import resolver_links as rl
from ledger.trace.ai_values import PRIMARY_KEYS, check_query
from ledger.trace.gs1 import Gs1Error, check_cset82, normalize_gtin

from ..core.errors import ApiError
from ..core.segments import routed_path
from ..core.services import Services
from .page import CSP as PAGE_CSP
from .page import page_for as _page_for

#: /01/{gtin}[/22/{cpv}][/10/{lot}][/21/{serial}] (GS1 Digital Link URI syntax: each qualifier optional, in that
#: order), or /01/{gtin}/235/{tpx} (a third party's serial extension: GS1 General Specifications 3.8.28)
DIGITAL_LINK = _DL = re.compile(
    r"/(?:01|gtin)/([^/]+)(?:(?:/(?:22|cpv)/([^/]+))?(?:/(?:10|lot)/([^/]+))?(?:/(?:21|ser)/([^/]+))?|/235/([^/]+))/?"
)
CORS = [
    (b"access-control-allow-origin", b"*"),
    (b"access-control-allow-methods", b"GET, HEAD, OPTIONS"),
    (b"access-control-allow-headers", b"Accept, Accept-Language, Content-Type"),
    (b"access-control-expose-headers", b"Link, Location, Vary, Content-Type"),
]
ALLOW = (b"allow", b"GET, HEAD, OPTIONS")
LINKSET = "application/linkset+json"
#: GS1's JSON-LD context for linksets, linked from every linkset answer (GS1-Conformant Resolver 1.2)
CONTEXT_URL = "https://ref.gs1.org/standards/resolver/linkset-context"
_REL = 'rel="http://www.w3.org/ns/json-ld#context"; type="application/ld+json"'
JSON_LD_CONTEXT = (b"link", f"<{CONTEXT_URL}>; {_REL}".encode())
# (writes to these paths are answered 405 by ResolverFront before any body is read)


def parse(raw_path: str) -> tuple[str, str | None, str | None] | None:
    """(gtin, lot, serial) of a Digital Link path, None if it is not one; InvalidInput if malformed
    (a path under `/01/` or `/gtin/` that is no Digital Link we resolve is malformed too)."""
    m = _DL.fullmatch(raw_path)
    if m is None:
        if raw_path.startswith(("/01/", "/gtin/")):
            why = "not a GS1 Digital Link of /01/{gtin}[/22/{cpv}][/10/{lot}][/21/{serial}] or /01/{gtin}/235/{tpx}"
            raise InvalidInput([{"field": "path", "reason": why}])
        return None
    problems, values = [], {}
    gtin = None
    try:
        gtin = normalize_gtin(m.group(1))
    except Gs1Error as exc:
        problems.append({"field": "path.gtin", "reason": str(exc)})
    for name, i, longest in (("cpv", 2, 20), ("lot", 3, 20), ("serial", 4, 20), ("tpx", 5, 28)):
        if m.group(i) is not None:
            try:
                values[name] = check_cset82(name, unquote(m.group(i)), longest)
            except Gs1Error as exc:
                problems.append({"field": f"path.{name}", "reason": str(exc)})
    if problems:
        raise InvalidInput(problems)
    lot, serial = values.get("lot"), values.get("serial")
    if "cpv" in values or lot is None:
        # a valid link finer than any this resolver holds (items are named by GTIN, lot and serial; no
        # links per consumer product variant or third-party serial): answered at the less granular level
        # it does hold
        serial = None
    return gtin, lot, serial  # type: ignore[return-value]


class ResolverFront:
    def __init__(self, app: ASGIApp, services):
        self.app, self.services = app, services

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        raw = (scope.get("raw_path") or scope["path"].encode()).decode("latin-1")
        same_as: list[tuple[bytes, bytes]] = []
        try:
            # partly compressed (`/01/<gtin>/<compressed>`) is no plain Digital Link: expand it first
            partly = uncompressed(scope, raw) if PARTLY.fullmatch(raw) else None
            keys = None if partly else parse(raw)
            expanded = partly or (uncompressed(scope, raw) if keys is None else None)
            if expanded is not None:
                scope, raw = expanded
                keys = parse(raw)
                query = scope["query_string"].decode("latin-1")
                uri = self.services().settings.resolver_url.rstrip("/") + raw + (f"?{query}" if query else "")
                same_as = [(b"link", f'<{uri}>; rel="owl:sameAs"; title="Uncompressed GS1 Digital Link"'.encode())]
        except InvalidInput as exc:
            body = {"error": "invalid_digital_link", "detail": exc.args[0]}
            html = _page_for(scope, 400, None, detail=exc.args[0])
            await _send(send, 400, body, scope["method"], page=html)
            return
        if keys is None:
            await self.app(scope, receive, send)
            return
        method = scope["method"]
        if method == "OPTIONS":
            await _start(send, 204, [ALLOW])
            await send({"type": "http.response.body", "body": b""})
            return
        if method not in ("GET", "HEAD"):
            await _send(send, 405, {"error": "method_not_allowed", "detail": "GET, HEAD or OPTIONS"}, method, [ALLOW])
            return
        raw_query = scope["query_string"].decode("latin-1")
        query = parse_qsl(raw_query, keep_blank_values=True)
        try:  # data attributes (?17=261231): validated as the path is
            check_query(raw_query)
        except Gs1Error as exc:
            detail = [{"field": "query", "reason": str(exc)}]
            html = _page_for(scope, 400, None, detail=detail)
            await _send(send, 400, {"error": "invalid_digital_link", "detail": detail}, method, page=html)
            return
        params = dict(query)
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        accept = headers.get("accept", "")
        wants_linkset = params.get("linkType") in ("linkset", "all") or LINKSET in accept
        gtin, lot, serial = keys
        canonical = f"/01/{gtin}" + (f"/10/{_quote(lot)}" if lot else "") + (f"/21/{_quote(serial)}" if serial else "")
        svc: Services = self.services()
        anchor = svc.settings.resolver_url.rstrip("/") + canonical
        links = [(b"link", f'<{anchor}?linkType=linkset>; rel="linkset"; type="{LINKSET}"; title="Linkset"'.encode()),
                 *same_as]  # fmt: skip
        if serial is not None and "linkType" not in params and not wants_linkset:
            if method == "HEAD":  # the page's headers; a HEAD is no scan
                await _start(send, 200, [(b"content-type", b"text/html; charset=utf-8"), *links])
                await send({"type": "http.response.body", "body": b""})
                return
            raw_canonical = raw.rstrip("/") if raw.endswith("/") else raw
            inner = dict(scope, path=scope["path"].rstrip("/") or "/", raw_path=raw_canonical.encode("latin-1"))
            await self.app(inner, receive, _with(send, [*CORS, *links]))
            return
        try:  # anyone may resolve, within the public budget per client (as scans are)
            svc.public_limiter.hit(scope["client"][0] if scope.get("client") else "unknown")
            status, body, extra, held = await run_in_threadpool(
                _resolve, svc, keys, anchor, query, headers, wants_linkset
            )
        except InvalidInput as exc:
            status, body, extra, held = 400, {"error": "invalid_input", "detail": str(exc)}, [], None
        except ApiError as exc:  # over the budget: 429 with Retry-After, nothing read
            status, body, held = exc.status, {"error": exc.code, "detail": exc.detail}, None
            extra = [(k.lower().encode(), v.encode()) for k, v in (exc.headers or {}).items()]
        html = None if wants_linkset else _page_for(scope, status, gtin, held, detail=body.get("detail"))
        await _send(send, status, body, method, [*extra, *links], page=html)


#: a partly compressed Digital Link: the primary key as it is, the rest compressed in one segment
PARTLY = re.compile(r"/01/(\d{8,14})/([A-Za-z0-9_-]{2,})/?")


def uncompressed(scope: Scope, raw: str) -> tuple[Scope, str] | None:
    """The request as its uncompressed Digital Link (path and query), if its path is one compressed
    segment naming a GTIN, or a GTIN and one compressed segment of the rest (GS1 Digital Link 1.2
    §7, `uncompressedPrimary`); other AIs and key=value pairs it carries join the query string."""
    partly = PARTLY.fullmatch(raw)
    segment = partly.group(2) if partly else raw.strip("/")
    if len(segment) < (2 if partly else 10) or not dl_compression.SEGMENT.fullmatch(segment):
        return None
    try:
        ais, other = dl_compression.decompress(segment)
    except dl_compression.CompressionError:
        return None
    if partly:
        if set(ais) & PRIMARY_KEYS:  # the rest of a GTIN's link holds no other primary key
            return None
        ais = {"01": partly.group(1).rjust(14, "0"), **ais}
    if "01" not in ais:
        return None
    path = f"/01/{ais.pop('01')}" + "".join(f"/{ai}/{_quote(ais.pop(ai))}" for ai in ("10", "21") if ai in ais)
    query = urlencode([*ais.items(), *other.items()] + parse_qsl(scope["query_string"].decode("latin-1")))
    new = dict(scope, path=routed_path(path.encode("latin-1")), raw_path=path.encode("latin-1"),
               query_string=query.encode("latin-1"))  # fmt: skip
    return new, path


def _quote(v: str) -> str:
    return quote(v, safe="")


def _resolve(svc: Services, keys, anchor: str, query, headers, wants_linkset: bool):
    gtin, lot, serial = keys
    params = dict(query)
    accept, languages = headers.get("accept"), headers.get("accept-language")
    with svc.sessions() as db:
        product = db.get(Product, gtin)
        if product is None:
            return 404, {"error": "not_found", "detail": f"no links for GTIN {gtin} here"}, [], None
        links = rl.links_for(db, gtin, lot, serial)
        recalled = bool(lot) and scan_facts.batch_facts(db, gtin, lot)["recall_reason"] is not None
        name = product.name
    if serial is not None:  # our verification page for the item, signature parameters (or a short code's tag) kept
        kept = urlencode([(k, v) for k, v in query if k in ("k", "s", "t")])
        href = anchor + (f"?{kept}" if kept else "")
        links.insert(0, rl.Link(rl.VERIFY, href, "Verify this item / 核验真伪", "text/html", ("en", "zh"), level=2))
    default = rl.default_link(links, accept, languages, params.get("context"), recalled)
    every = links + ([rl.as_default(default)] if default else [])
    listed = [(b"link", rl.link_header(every).encode("latin-1"))] if every else []
    vary = (b"vary", b"Accept, Accept-Language")
    if wants_linkset:
        levels = [anchor.split("/10/")[0], anchor.split("/21/")[0], anchor][: 1 + bool(lot) + bool(serial)]
        body, kind = rl.linkset(levels, links, default, rl.descriptions(name, lot, serial)), _linkset_type(accept)
        if kind == b"application/ld+json":  # JSON-LD 1.1 API: the Link header's context is ignored for this type
            body = {"@context": CONTEXT_URL, **body}
        return 200, body, [(b"content-type", kind), vary, JSON_LD_CONTEXT, *listed], None
    wanted = params.get("linkType")
    kind = rl.DEFAULT if wanted is None else rl.known_type(wanted)  # a type outside GS1's vocabulary: none here
    if kind == rl.DEFAULT:
        chosen = [default] if default else []
    else:
        chosen = rl.choose([x for x in links if x.link_type == kind], accept, languages, params.get("context"))
    if not chosen:
        what = (wanted or "default")[:80]
        held = (name, tuple(x for x in links if x.link_type != rl.VERIFY))  # for a person's page
        return 404, {"error": "not_found", "detail": f"no {what} link for {anchor}"}, [vary, *listed], held
    if len(chosen) > 1:
        about = rl.descriptions(name, lot, serial)[-1:]
        body = {"linkset": rl.linkset([anchor], [replace(x, level=0) for x in chosen], None, about)["linkset"],
                "detail": "several links fit"}  # fmt: skip
        return 300, body, [vary, *listed], None
    href = rl.forwarded(chosen[0].href, [(k, v) for k, v in query if k not in ("linkType", "context")])
    return 307, {"location": href}, [vary, (b"location", href.encode()), *listed], None


def _linkset_type(accept: str | None) -> bytes:
    """The linkset's media type by the client's Accept: linkset+json, else JSON-LD or JSON if asked."""
    kinds = [a.split(";")[0].strip().lower() for a in (accept or "").split(",")]
    for kind in (LINKSET, "application/ld+json", "application/json"):
        if kind in kinds:
            return kind.encode()
    return LINKSET.encode()


async def _start(send: Send, status: int, extra: list[tuple[bytes, bytes]]) -> None:
    await send({"type": "http.response.start", "status": status, "headers": [*CORS, *extra]})


async def _send(
    send: Send, status: int, body: dict, method: str, extra: list | None = None, page: bytes | None = None
) -> None:
    """The JSON answer, or `page` (HTML, for a person's browser) with the same status and headers."""
    extra = list(extra or [])
    if page is not None:
        data = page
        extra += [(b"content-type", b"text/html; charset=utf-8"), (b"content-security-policy", PAGE_CSP)]
    else:
        data = json.dumps(body, ensure_ascii=False).encode()
    if status in (400, 404) and not any(k == b"vary" for k, _ in extra):  # a page or JSON, by Accept
        extra.append((b"vary", b"Accept, Accept-Language"))
    if not any(k == b"content-type" for k, _ in extra):
        extra.append((b"content-type", b"application/json"))
    extra.append((b"content-length", str(len(data)).encode()))
    await _start(send, status, extra)
    await send({"type": "http.response.body", "body": b"" if method == "HEAD" else data})


def _with(send: Send, extra: list[tuple[bytes, bytes]]) -> Send:
    async def wrapped(message: dict) -> None:
        if message["type"] == "http.response.start":
            message = dict(message, headers=list(message.get("headers", [])) + extra)
        await send(message)

    return wrapped
