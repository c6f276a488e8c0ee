"""The GS1 Digital Link resolver: what a phone opens when it scans one of our codes.

`GET /01/{gtin}/10/{lot}/21/{serial}?k=...&s=...` answers a browser with the consumer page
(Chinese or English: `?lang=zh|en`, else Accept-Language) and `Accept: application/json` with the
same facts as data. No login; rate limited per client. Every scan is recorded.
"""

from __future__ import annotations

from urllib.parse import unquote

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse
from sqlalchemy import select
from sqlalchemy.orm import Session as DbSession

from ledger.digital_link import DigitalLinkError
from ledger.models import Code, CodeIssue

from .. import pages
from ..errors import invalid, not_found
from ..resolver import issue_tree, resolve
from ..services import get_db, rate_limited, services

router = APIRouter(tags=["public"])


@router.get(
    "/01/{gtin}/10/{lot}/21/{serial}",
    summary="Resolve a scanned code: verdict, product, batch, timeline, deposit, proof",
    responses={200: {"content": {"text/html": {}, "application/json": {}}}},
)
async def resolve_code(
    request: Request,
    gtin: str = Path(pattern=r"^\d{8,14}$"),
    lot: str = Path(min_length=1, max_length=60),
    serial: str = Path(min_length=1, max_length=60),
    k: str | None = Query(None, max_length=64, description="signing key id"),
    s: str | None = Query(None, max_length=128, description="Ed25519 signature, base64url"),
    lang: str | None = Query(None, pattern=r"^(zh|en)$"),
):  # type: ignore[no-untyped-def]
    # the rate limit is checked here, not as a dependency: a sync dependency would be one more hop
    # through the thread pool on the hottest path there is (the handler itself runs on the loop)
    rate_limited(request)
    params = {name: v for name, v in (("k", k), ("s", s)) if v is not None}
    uri = request.url.path + ("?" + "&".join(f"{a}={b}" for a, b in params.items()) if params else "")
    host = request.client.host if request.client else "unknown"
    svc = services(request)
    try:
        data = await resolve(svc, uri, host)
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
