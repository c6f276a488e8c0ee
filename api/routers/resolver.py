"""The GS1 Digital Link resolver: what a phone opens when it scans one of our codes.

`GET /01/{gtin}/10/{lot}/21/{serial}?k=...&s=...` answers a browser with the consumer page
(Chinese or English: `?lang=zh|en`, else Accept-Language) and `Accept: application/json` with the
same facts as data. No login; rate limited per client. Every scan is recorded.
"""

from __future__ import annotations

import re
from urllib.parse import unquote

from fastapi import APIRouter, Depends, Path, Request
from fastapi.responses import HTMLResponse, JSONResponse
from sqlalchemy import select
from sqlalchemy.orm import Session as DbSession

from ledger.digital_link import DigitalLinkError
from ledger.models import Code, CodeIssue

from .. import pages
from ..errors import ApiError, invalid, not_found
from ..resolver import issue_tree, resolve
from ..services import get_db, rate_limited, services

router = APIRouter(tags=["public"])


# The scan route reads its parameters itself: FastAPI's per-parameter validation cost more than a
# quarter of a scan's CPU (measured with py-spy under load). Same rules, same 422s, documented here.
_PARAMS: dict[tuple[str, str], tuple[re.Pattern[str], str]] = {
    ("path", "gtin"): (re.compile(r"\d{8,14}"), "8 to 14 digits"),
    ("path", "lot"): (re.compile(r".{1,60}", re.S), "1 to 60 characters"),
    ("path", "serial"): (re.compile(r".{1,60}", re.S), "1 to 60 characters"),
    ("query", "k"): (re.compile(r".{0,64}", re.S), "signing key id, at most 64 characters"),
    ("query", "s"): (re.compile(r".{0,128}", re.S), "Ed25519 signature (base64url), at most 128 characters"),
    ("query", "lang"): (re.compile(r"zh|en"), "page language: zh or en"),
}
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


def _params(request: Request) -> tuple[dict[str, str], str | None]:
    """The signature parameters (k, s) and the page language, after checking every parameter."""
    values = {("path", n): v for n, v in request.path_params.items()}
    values |= {("query", n): request.query_params.get(n) for n in ("k", "s", "lang")}
    problems = [
        {"field": f"{where}.{name}", "reason": f"expected {_PARAMS[where, name][1]}"}
        for (where, name), v in values.items()
        if v is not None and not _PARAMS[where, name][0].fullmatch(v)
    ]
    if problems:
        raise ApiError(422, "invalid_input", problems)
    return {n: v for n in ("k", "s") if (v := values["query", n]) is not None}, values["query", "lang"]


@router.get(
    "/01/{gtin}/10/{lot}/21/{serial}",
    summary="Resolve a scanned code: verdict, product, batch, timeline, deposit, proof",
    responses={200: {"content": {"text/html": {}, "application/json": {}}}, 422: {}},
    openapi_extra={"parameters": _OPENAPI_PARAMS},
)
async def resolve_code(request: Request):  # type: ignore[no-untyped-def]
    # the rate limit is checked here, not as a dependency: a sync dependency would be one more hop
    # through the thread pool on the hottest path there is (the handler itself runs on the loop)
    rate_limited(request)
    params, lang = _params(request)
    path = request.scope["path"]
    uri = path + ("?" + "&".join(f"{a}={b}" for a, b in params.items()) if params else "")
    host = request.client.host if request.client else "unknown"
    try:
        data = await resolve(services(request), uri, host)
    except DigitalLinkError as exc:
        raise invalid("path", str(exc)) from None
    if "application/json" in request.headers.get("accept", ""):
        return JSONResponse(data)
    language = pages.language(lang, request.headers.get("accept-language"))
    return HTMLResponse(pages.render(data, language, params))


@router.get(
    "/v1/proofs/01/{gtin}/10/{lot}/21/{serial}",
    dependencies=[Depends(rate_limited)],
    summary="The Merkle proof that a code belongs to its anchored issue (no scan recorded)",
)
def code_proof(
    request: Request,
    gtin: str = Path(pattern=r"^\d{14}$"),
    lot: str = Path(min_length=1, max_length=60),
    serial: str = Path(min_length=1, max_length=60),
    db: DbSession = Depends(get_db),
) -> dict:
    """Only what `ledger verify` needs to check a code against the chain; it trusts none of it."""
    code = db.scalar(select(Code).where(Code.gtin == gtin, Code.lot == unquote(lot), Code.serial == unquote(serial)))
    if code is None:
        raise not_found(f"code {gtin}/{lot}/{serial}")
    issue = db.get(CodeIssue, code.issue_id)
    tree = issue_tree(db, issue)
    return {
        "root": issue.root,
        "leaf_index": code.leaf_index,
        "path": ["0x" + p.hex() for p in tree.proof(code.leaf_index)],
        "anchor_tx": issue.anchor_tx,
        "block_number": issue.block_number,
    }
