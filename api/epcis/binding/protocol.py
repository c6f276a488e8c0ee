"""What every answer under `/epcis/` shares (the EPCIS 2.0 REST binding): the GS1 headers, version
and media type negotiation (406 when the client needs what we do not speak), errors as RFC 7807
problems with EPCIS exception types, and query documents with their `Link: rel="next"`."""

from __future__ import annotations

import json
import re
from types import SimpleNamespace
from typing import Any
from urllib.parse import quote, urlsplit

from fastapi import Request
from fastapi.responses import JSONResponse, Response
from starlette.types import ASGIApp, Receive, Scope, Send

from ledger import __version__
from ledger.clock import utcnow
from ledger.store.models import EpcisEvent
from ledger.trace.epcis import query as queries
from ledger.trace.epcis.binding.simple_query import QueryParameterError
from ledger.trace.epcis.epc_format import ALWAYS_DL, answer_format, to_digital_link
from ledger.trace.epcis.xml.xml_writer import query_document_xml

PREFIX = "/epcis"
VERSION = "2.0"
HEADERS = {
    "GS1-EPCIS-Version": VERSION,
    "GS1-EPCIS-Min": VERSION,
    "GS1-EPCIS-Max": VERSION,
    "GS1-CBV-Version": VERSION,
    "GS1-CBV-Min": VERSION,
    "GS1-CBV-Max": VERSION,
    "GS1-EPC-Format": "Never_Translates",
    "GS1-CBV-XML-Format": "Never_Translates",
    "GS1-Vendor-Version": f"traceledger-{__version__}",
}
JSON_TYPES = ("application/json", "application/ld+json", "application/*", "*/*", "application/xml", "text/xml")
PER_PAGE_DEFAULT, PER_PAGE_MAX = 30, 1000

_EXCEPTION = {
    400: "ValidationException",
    401: "SecurityException",
    403: "SecurityException",
    404: "NoSuchNameException",
    406: "NotAcceptableException",  # GS1's EPCIS 2.0.1 OpenAPI document (406NotAcceptable)
    409: "ResourceAlreadyExistsException",  # ditto (409ResourceAlreadyExistsException)
    413: "CaptureLimitExceededException",
    414: "URITooLongException",
    415: "UnsupportedMediaTypeException",  # ditto (415UnsupportedMediaType)
    429: "ImplementationException",
    501: "ImplementationException",
    503: "ImplementationException",
}
_BY_CODE = {
    "query_parameter": "QueryParameterException",
    "query_too_large": "QueryTooLargeException",
    "query_too_complex": "QueryTooComplexException",
    "subscription_controls": "SubscriptionControlsException",
    "invalid_epcis": "ValidationException",
}


def absolute(scope: Scope) -> str:
    """The request's URL without its query: a problem's `instance`, absolute as GS1's schema has it,
    on the configured public base URL (LEDGER_RESOLVER_URL), never on the Host a client sent."""
    base = scope["app"].state.services.settings.resolver_url.rstrip("/")
    raw = scope.get("raw_path")  # as the client sent it, still percent-encoded
    path = raw.decode("latin-1") if raw else quote(scope["path"])
    return f"{base}{scope.get('root_path', '')}{path}"


def location(request: Request, path: str) -> str:
    """An absolute URL for a Location header (GS1's document types several as `format: uri`), on the
    service's configured public base URL (LEDGER_RESOLVER_URL), never on the Host a client sent."""
    return request.app.state.services.settings.resolver_url.rstrip("/") + path


def next_link(request: Request, token: str) -> str:
    """A `Link: <...>; rel="next"` header's value: this request's URL with the page token, on the
    configured base URL as `location` is."""
    url = request.url.include_query_params(nextPageToken=token)
    return f'<{location(request, url.path + "?" + url.query)}>; rel="next"'


# GS1 answers a bad subscription request (400 on a named query's events and subscriptions) as
# application/json with a ValidationException or SubscriptionControlsException, not as a problem
_SUBSCRIPTION_PATHS = re.compile(rf"{PREFIX}/queries/[^/]+/(events|subscriptions)/?")


def problem_media_type(status: int, path: str) -> str:
    return "application/json" if status in (400, 422) and _SUBSCRIPTION_PATHS.fullmatch(path) else \
        "application/problem+json"  # fmt: skip


def problem(status: int, code: str, detail: Any, instance: str) -> tuple[int, dict[str, Any]]:
    """Status and RFC 7807 body for an error under /epcis/ (422 is the binding's 400); `instance`
    is the absolute URL of the request."""
    if status == 422:
        status = 400
    kind = _BY_CODE.get(code) or _EXCEPTION.get(status, "ImplementationException")
    if (
        status == 400
        and _SUBSCRIPTION_PATHS.fullmatch(urlsplit(instance).path)
        and kind != "SubscriptionControlsException"
    ):
        kind = "ValidationException"
    if isinstance(detail, list):
        text = "; ".join(": ".join(str(p[k]) for k in ("path", "field", "element", "reason") if p.get(k))
                         if isinstance(p, dict) else str(p) for p in detail)  # fmt: skip
    else:
        text = str(detail)
    return status, {"type": f"epcisException:{kind}", "title": code.replace("_", " "), "status": status,
                    "detail": text, "instance": instance}  # fmt: skip


def render_problem(status: int, code: str, detail: Any, scope: Scope) -> tuple[int, dict[str, Any], str]:
    """The binding's error renderer (registered for PREFIX): an RFC 7807 problem."""
    status, body = problem(status, code, detail, absolute(scope))
    return status, body, problem_media_type(status, scope["path"])


def _version(value: str) -> float | None:
    return float(value) if re.fullmatch(r"\d{1,3}(\.\d{1,3})?", value) else None


def _refusal(scope: Scope) -> str | None:
    """Why we cannot answer as the request needs (a 406), or None."""
    headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}
    for name, ok in (
        ("gs1-epcis-version", lambda v: v == 2.0),
        ("gs1-epcis-min", lambda v: v <= 2.0),
        ("gs1-epcis-max", lambda v: v >= 2.0),
        ("gs1-cbv-version", lambda v: v == 2.0),
        ("gs1-cbv-min", lambda v: v <= 2.0),
        ("gs1-cbv-max", lambda v: v >= 2.0),
    ):
        if name in headers:
            v = _version(headers[name].strip())
            if v is None or not ok(v):
                return f"{name} {headers[name][:20]!r}: this repository speaks EPCIS and CBV {VERSION}"
    accept = headers.get("accept", "")
    if accept and scope.get("method") != "OPTIONS":
        kinds = [a.split(";")[0].strip().lower() for a in accept.split(",")]
        if not any(k in JSON_TYPES or k == "application/problem+json" for k in kinds):
            answers = "application/json, application/ld+json or application/xml"
            return f"cannot answer in {accept[:60]}: this repository answers {answers}"
    return None


_ALLOW = [
    (re.compile(r"/capture"), "OPTIONS, POST, GET"),
    (re.compile(r"/events"), "OPTIONS, GET, POST"),
    (re.compile(r"/queries"), "OPTIONS, GET, POST"),
    (re.compile(r"/queries/[^/]+"), "OPTIONS, GET, DELETE"),
    (re.compile(r"/queries/[^/]+/subscriptions"), "OPTIONS, GET, POST"),
    (re.compile(r"/queries/[^/]+/subscriptions/[^/]+"), "OPTIONS, GET, DELETE"),
]


def discovery(path: str, capture_limits: dict[str, str]) -> list[tuple[bytes, bytes]]:
    """The headers of a 204 answer to OPTIONS on an /epcis/ path: what it allows (no sign-in needed)."""
    rest = "/" + path.removeprefix(PREFIX).strip("/")
    allow = next((a for p, a in _ALLOW if p.fullmatch(rest)), "OPTIONS, GET")
    headers = {"Allow": allow} | (capture_limits if rest == "/capture" else {})
    return [(k.encode(), v.encode()) for k, v in headers.items()]


class EpcisHeaders:
    """Adds the GS1 headers to every /epcis/ answer, answers OPTIONS (discovery) on any /epcis/
    path, and refuses what it cannot comply with."""

    def __init__(self, app: ASGIApp, services):
        self.app, self.services = app, services

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith(PREFIX):
            await self.app(scope, receive, send)
            return
        if scope["method"] == "OPTIONS":
            settings = self.services().settings
            limits = {
                "GS1-EPCIS-Capture-Limit": str(settings.epcis_max_events),
                "GS1-EPCIS-Capture-File-Size-Limit": str(settings.max_capture_bytes),
                "GS1-Capture-Error-Behaviour": "rollback",
            }
            extra = [(k.encode(), v.encode()) for k, v in HEADERS.items()] + discovery(scope["path"], limits)
            await send({"type": "http.response.start", "status": 204, "headers": extra})
            await send({"type": "http.response.body", "body": b""})
            return
        why = _refusal(scope)
        if why is not None:
            status, body = problem(406, "not_acceptable", why, absolute(scope))
            await JSONResponse(body, status, media_type="application/problem+json", headers=HEADERS)(
                scope, receive, send
            )
            return

        async def with_headers(message: dict) -> None:
            if message["type"] == "http.response.start":
                present = {k.lower() for k, _ in message.get("headers", [])}
                extra = [(k.encode(), v.encode()) for k, v in HEADERS.items() if k.lower().encode() not in present]
                message = dict(message, headers=list(message.get("headers", [])) + extra)
            await send(message)

        await self.app(scope, receive, with_headers)


def media_type(request: Request) -> str:
    accept = request.headers.get("accept", "")
    if "xml" in accept and "json" not in accept:
        return "application/xml"
    return "application/ld+json" if "application/ld+json" in accept else "application/json"


def page_controls(request: Request) -> tuple[int, str | None]:
    """perPage (default 30, at most 1000) and nextPageToken; a QueryParameterException if malformed."""
    raw = request.query_params.get("perPage")
    if raw is not None and not re.fullmatch(r"-?\d{1,30}", raw.strip()):
        raise QueryParameterError("perPage", f"expected a whole number (pages hold 1 to {PER_PAGE_MAX})")
    # a page size out of range is held to it: perPage is a most, the server may send fewer
    per_page = min(max(int(raw), 1), PER_PAGE_MAX) if raw is not None else PER_PAGE_DEFAULT
    token = request.query_params.get("nextPageToken")
    if token is not None and not re.fullmatch(r"[A-Za-z0-9_-]{1,400}", token):
        raise QueryParameterError("nextPageToken", "not a token this repository gave out")
    return per_page, token


def query_answer(
    request: Request, rows: list[EpcisEvent], token: str | None, query_name: str | None = None
) -> Response:
    headers = {}
    if token:
        headers["Link"] = next_link(request, token)
    epc_format = answer_format(request.headers.get("GS1-EPC-Format"))
    if epc_format == ALWAYS_DL:
        rows = [_in_digital_link(r) for r in rows]  # type: ignore[misc]
        headers["GS1-EPC-Format"] = epc_format
    kind = media_type(request)
    if kind == "application/xml":
        xml = query_document_xml(rows, utcnow(), query_name or "SimpleEventQuery")
        return Response(xml, 200, headers=headers, media_type=kind)
    # queryName is required in both GS1 schemas' queryResults: an ad hoc query is a SimpleEventQuery
    doc = queries.query_document(rows, utcnow(), query_name or "SimpleEventQuery")
    body = json.dumps(doc, ensure_ascii=False, separators=(",", ":"))
    return Response(body, 200, headers=headers, media_type=kind)


def _in_digital_link(row: EpcisEvent) -> SimpleNamespace:
    """The stored event as the answer writers read it, its EPC URNs as GS1 Digital Link URIs."""
    body = json.dumps(to_digital_link(json.loads(row.body)), ensure_ascii=False)
    return SimpleNamespace(body=body, context=row.context, hash_id=row.hash_id, record_time=row.record_time)


def collection(values: list[str]) -> dict:
    """A listing as GS1's EPCIS 2.0.1 OpenAPI document has every one (top-level resources, event
    types, EPCs, business steps, locations, read points, dispositions, a value's sub-resources):
    a JSON-LD `Collection` of `member`s."""
    return {"@context": queries.BASE_CONTEXT, "type": "Collection", "member": values}
