"""What every request meets before the application: body limits with credentials checked first,
and security headers on every answer.

- A request body is read only after its credentials are checked (except where the path's domain
  declares a public body: sign-in), so an anonymous client cannot make a worker hold its upload;
  it is read up to a documented cap (`LEDGER_MAX_BODY_BYTES`, 1 MiB; the domains declare theirs:
  EPCIS capture `LEDGER_MAX_CAPTURE_BYTES`, 32 MiB; sign-in 16 KiB) and refused with 413 beyond
  it, announced or not (`api.core.domain.PathPolicy`). A public body (read before any credential)
  comes whole within `LEDGER_PUBLIC_BODY_TIMEOUT_S` (20 s), or a 408.
- A GET, HEAD or OPTIONS request that announces a body is refused (413) before any of it is read;
  writes to GS1 Digital Link paths are answered 405 by the resolver, their bodies never read.
- A page sets its own Content-Security-Policy (the scan page: no script, its one style block by
  its hash; the console its own); any other HTML answer gets `DEFAULT_PAGE_CSP` (no script, no
  style); pages get `Referrer-Policy: no-referrer`; every answer `X-Content-Type-Options: nosniff` and
  `X-Frame-Options: DENY`, and JSON a `default-src 'none'` policy. The interactive API docs
  (`/docs`, `/redoc`) load FastAPI's scripts and keep their own rules.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable

from starlette.concurrency import run_in_threadpool
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ..access.auth import token_holder
from ..core.domain import DEFAULT_PAGE_CSP, policies
from ..core.errors import ApiError, unauthorized
from ..core.self_signing import BODY_CHECKED
from ..core.services import Services

DOCS = ("/docs", "/redoc", "/openapi.json")
API_CSP = b"default-src 'none'; frame-ancestors 'none'"
WRITES = ("POST", "PUT", "PATCH", "DELETE")


def _announces_body(headers: dict[bytes, bytes]) -> bool:
    length = headers.get(b"content-length", b"0").strip()
    return b"transfer-encoding" in headers or (length != b"0" and length != b"")


class _ClientGone(Exception):
    pass


class RequestGuard:
    def __init__(self, app: ASGIApp, services: Callable[[], Services]):
        self.app, self.services = app, services

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        send = _with_security_headers(send, scope["path"].startswith(DOCS))
        try:
            if scope["method"] in WRITES and policies(scope).get(scope["path"], "reads_body") is not False:
                receive = await self._checked_body(scope, receive)
                scope[BODY_CHECKED] = True
            elif _announces_body(dict(scope["headers"])) and scope["method"] not in WRITES:
                raise ApiError(413, "payload_too_large", f"a {scope['method']} request takes no body")
        except ApiError as exc:
            await _answer(send, exc, scope)
            return
        except _ClientGone:  # the body was cut short: nothing of it is acted on, nobody to answer
            return
        await self.app(scope, receive, send)

    def _limit(self, scope: Scope) -> int:
        """The cap the path's domain declares (bytes, or a settings field), else `max_body_bytes`."""
        limit = policies(scope).get(scope["path"], "body_limit") or "max_body_bytes"
        return getattr(self.services().settings, limit) if isinstance(limit, str) else limit

    async def _checked_body(self, scope: Scope, receive: Receive) -> Receive:
        limit = self._limit(scope)
        headers = dict(scope["headers"])
        public = bool(policies(scope).get(scope["path"], "public_body"))
        if not public:
            await self._check_credentials(headers.get(b"authorization"))
        declared = headers.get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            raise _too_large(limit)
        # an anonymous body comes whole within its deadline: a client that sends most of one and
        # then waits held the worker's memory for as long as it liked (outside probe: 250 of them)
        deadline = self.services().settings.public_body_timeout_s if public else None
        try:
            async with asyncio.timeout(deadline):
                whole = await _read(receive, limit)
        except TimeoutError:
            raise ApiError(
                408, "request_timeout", f"the request body did not come whole within {deadline:g} s"
            ) from None
        sent = False

        async def replay() -> Message:
            nonlocal sent
            if sent:
                return await receive()
            sent = True
            return {"type": "http.request", "body": whole, "more_body": False}

        return replay

    async def _check_credentials(self, header: bytes | None) -> None:
        scheme, _, token = (header or b"").decode("latin-1").partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise unauthorized("missing credentials: send 'Authorization: Bearer <session token or API key>'")

        def check() -> None:
            with self.services().sessions() as db:
                token_holder(db, token.strip())

        await run_in_threadpool(check)


async def _read(receive: Receive, limit: int) -> bytes:
    chunks, size, more = [], 0, True
    while more:
        message = await receive()
        if message["type"] == "http.disconnect":  # gone before the whole body came (a form cut
            raise _ClientGone  # short was stored as far as it came)
        body = message.get("body", b"")
        size += len(body)
        if size > limit:
            raise _too_large(limit)
        chunks.append(body)
        more = message.get("more_body", False)
    return b"".join(chunks)


def _too_large(limit: int) -> ApiError:
    return ApiError(413, "payload_too_large", f"request body larger than {limit:,} bytes")


async def _answer(send: Send, exc: ApiError, scope: Scope) -> None:
    status, content, kind = exc.status, {"error": exc.code, "detail": exc.detail}, b"application/json"
    render = policies(scope).get(scope["path"], "render_error")
    if render is not None:  # a domain's own error format (the EPCIS binding: RFC 7807 problems)
        status, content, media_type = render(exc.status, exc.code, exc.detail, scope)
        kind = media_type.encode()
    body = json.dumps(content).encode()
    headers = [(b"content-type", kind), (b"content-length", str(len(body)).encode())]
    headers += [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in (exc.headers or {}).items()]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def _with_security_headers(send: Send, docs: bool) -> Send:
    async def wrapped(message: Message) -> None:
        if message["type"] == "http.response.start":
            headers = list(message.get("headers", []))
            names = {k.lower() for k, _ in headers}
            content_type = next((v for k, v in headers if k.lower() == b"content-type"), b"")
            extra = [(b"x-content-type-options", b"nosniff"), (b"x-frame-options", b"DENY")]
            if not docs:
                html = content_type.startswith(b"text/html")
                extra.append((b"content-security-policy", DEFAULT_PAGE_CSP if html else API_CSP))
                if html:
                    extra.append((b"referrer-policy", b"no-referrer"))
            headers += [(k, v) for k, v in extra if k not in names]
            message = dict(message, headers=headers)
        await send(message)

    return wrapped
