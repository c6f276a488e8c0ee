"""The web console (`/console/`: sign-in and a page per role), its static files, and the sign-in
challenge its pages sign: `GET /v1/auth/challenge?address=` answers the EIP-4361 message the
API's sign-in takes, with a fresh nonce, for the member's own key to sign in the browser.

The message names the configured domain (`siwe_domain`) and public URL (`resolver_url`), never
the request's Host header, which the caller chooses. The sign-in checks the domain, chain,
times, nonce and signature; it does not compare the URI (the CLI names the URL it was given),
so the URI is what the member's wallet shows, and it must be this service's own."""

from __future__ import annotations

import gzip
import re
from datetime import timedelta
from functools import lru_cache
from pathlib import Path

from eth_utils import to_checksum_address
from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse, Response
from markupsafe import Markup
from sqlalchemy.orm import Session as DbSession

from ledger.access import siwe
from ledger.clock import utcnow
from ledger.i18n import catalog, negotiate
from ledger.paths import ROOT

from ..access.auth import issue_nonce
from ..core.errors import invalid, not_found
from ..core.segments import SLASH
from ..core.services import get_db, rate_limited, services
from ..core.small_page import small_page
from . import pages

router = APIRouter(tags=["console"])
STATIC = ROOT / "api" / "console" / "static"
VENDOR = {"ethers.umd.min.js": ROOT / "node_modules" / "ethers" / "dist" / "ethers.umd.min.js"}
_TYPES = {".js": "text/javascript; charset=utf-8", ".css": "text/css; charset=utf-8", ".png": "image/png"}


@router.get("/favicon.ico", include_in_schema=False)
def favicon() -> FileResponse:
    """Every page's icon (browsers ask for it; a 404 was an error in each page's console)."""
    day = {"Cache-Control": "public, max-age=86400"}
    return FileResponse(STATIC / "favicon.png", media_type="image/png", headers=day)


@router.get("/console", include_in_schema=False)
def console_root() -> RedirectResponse:
    return RedirectResponse("/console/", status_code=308)


@router.get("/console/", response_class=HTMLResponse, summary="The console: sign in with your own key")
def signin_page(request: Request, lang: str | None = Query(None, pattern="^(zh|en)$")) -> HTMLResponse:
    return _page("signin", request, lang)


@router.get("/console/{page}", response_class=HTMLResponse, summary="A console page: one per role")
def console_page(page: str, request: Request, lang: str | None = Query(None, pattern="^(zh|en)$")) -> HTMLResponse:
    if page not in pages.PAGES or page == "signin":
        if "text/html" in request.headers.get("accept", ""):  # a person's browser: a page, not JSON
            return _missing(negotiate(lang, request.headers.get("accept-language")))
        raise not_found(f"console page {page[:40]!r}")
    return _page(page, request, lang)


def _missing(lang: str) -> HTMLResponse:
    t = catalog("console", lang)
    body = Markup('<p><a href="/console/?lang={}">{}</a></p>').format(lang, t["page_missing_back"])
    head = Markup('<link rel="stylesheet" href="/console/static/console.css">')
    return small_page(lang, t["page_missing"], body, pages.CSP.decode(), head, main_id="main")


def _page(page: str, request: Request, lang: str | None) -> HTMLResponse:
    language = negotiate(lang, request.headers.get("accept-language"))
    html = pages.render(page, language)
    return HTMLResponse(html, headers={"Content-Security-Policy": pages.CSP.decode(), "Vary": "Accept-Language"})


@router.get("/console/static/{name}", include_in_schema=False)
def static_file(name: str, request: Request) -> Response:
    """A console file; gzipped for a client that takes it (ethers alone is 526 KB, ~170 KB gzipped:
    on a phone's slow network the sign-in page took 17 s to load), compressed once per version."""
    path = VENDOR.get(name) or STATIC / name
    if not re.fullmatch(r"[a-z0-9_.-]{1,60}", name) or not path.is_file():
        raise not_found(f"file {name.replace(SLASH, '%2F')[:60]!r}")  # named as the client wrote it
    media = _TYPES.get(path.suffix, "application/octet-stream")
    headers = {"Cache-Control": "public, max-age=300", "Vary": "Accept-Encoding"}
    if "gzip" not in request.headers.get("accept-encoding", ""):
        return FileResponse(path, media_type=media, headers=headers)
    body = _gzipped(path, path.stat().st_mtime_ns)
    return Response(body, media_type=media, headers=headers | {"Content-Encoding": "gzip"})


@lru_cache(maxsize=64)  # the console's own files and its one vendored library: a fixed, small set
def _gzipped(path: Path, mtime_ns: int) -> bytes:
    return gzip.compress(path.read_bytes(), compresslevel=9, mtime=0)


@router.get(
    "/v1/auth/challenge",
    dependencies=[Depends(rate_limited)],
    tags=["auth"],
    summary="The EIP-4361 sign-in message for an address, with a fresh nonce, to sign with the member's own key",
)
def challenge(
    request: Request,
    address: str = Query(pattern=r"^0x[0-9a-fA-F]{40}$"),
    db: DbSession = Depends(get_db),
) -> dict:
    try:
        checksummed = to_checksum_address(address)
    except ValueError:
        raise invalid("address", "not an Ethereum address") from None
    n = issue_nonce(request, db)
    now = utcnow()
    uri = services(request).settings.resolver_url.rstrip("/")  # never the request's Host header
    message = siwe.build(
        domain=n.domain, address=checksummed, uri=uri, chain_id=n.chain_id,
        # the session's end (the message bounds it), not the nonce's: the nonce is used once, at
        # sign-in, within its own time; the console's sessions ended after 5 minutes (phone trial)
        nonce=n.nonce, issued_at=now, expiration_time=now + timedelta(seconds=services(request).settings.session_ttl_s),
    )  # fmt: skip
    return {"message": message, "expires_at": n.expires_at}
