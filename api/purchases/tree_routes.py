"""The tree of delivered purchases, read by anyone: its leaves a page at a time (tests, audits),
and what every prover fetches alike (the summary of chunk roots, every prefix page, whole chunks),
binary and content-addressed, so that no request says which leaf is the prover's."""

from __future__ import annotations

import hashlib
import json
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Request, Response
from sqlalchemy.orm import Session as DbSession

from ledger.privacy import chunks, onchain, tree

from ..core.services import get_db, rate_limited
from .deployed import proofs_deployment

# included by the purchases router, under its prefix /v1/purchases
router = APIRouter()
MAX_PAGE = 65_536


@router.get(
    "/domain",
    summary="What every proof's message binds: this chain's id and the PurchaseProofs contract",
    dependencies=[Depends(rate_limited)],
)
def get_domain(request: Request) -> dict:
    chain_id, contract = onchain.domain(proofs_deployment(request))
    return {"chain_id": chain_id, "contract": contract}


@router.get(
    "/tree", summary="The tree's leaves (decimal), a page at a time, and its size", dependencies=[Depends(rate_limited)]
)
def get_tree(
    db: DbSession = Depends(get_db),
    offset: int = Query(0, ge=0, le=tree.CAPACITY),
    limit: int = Query(4096, ge=1, le=MAX_PAGE),
) -> dict:
    size = chunks.size(db)
    leaves = chunks.leaves(db, offset, min(offset + limit, size)) if offset < size else []
    return {"depth": tree.DEPTH, "size": size, "offset": offset, "leaves": [str(x) for x in leaves]}


def _cached(request: Request, body: bytes, media: str) -> Response:
    """A public, content-addressed answer: an ETag, and 304 when the caller holds it already."""
    tag = '"' + hashlib.sha256(body).hexdigest()[:32] + '"'
    headers = {"ETag": tag, "Cache-Control": "public, no-cache"}
    if request.headers.get("if-none-match") == tag:
        return Response(status_code=304, headers=headers)
    return Response(body, media_type=media, headers=headers)


@router.get(
    "/tree/summary",
    summary="The tree's size, root, every 1,024-leaf chunk's root and the levels above (the same for everyone)",
    dependencies=[Depends(rate_limited)],
)
def get_tree_summary(request: Request, db: DbSession = Depends(get_db)) -> Response:
    return _cached(request, json.dumps(chunks.summary(db)).encode(), "application/json")


@router.get(
    "/tree/prefixes/{page}",
    summary="The first 4 bytes of 65,536 leaves, binary (a prover fetches every page to find its leaf)",
    dependencies=[Depends(rate_limited)],
)
def get_tree_prefixes(
    request: Request, page: Annotated[int, Path(ge=0, lt=tree.CAPACITY // chunks.PREFIX_PAGE)], db=Depends(get_db)
) -> Response:
    return _cached(request, chunks.prefixes(db, page), "application/octet-stream")


@router.get(
    "/tree/chunks/{index}",
    summary="A whole chunk: 1,024 leaves, 32 bytes each, binary",
    dependencies=[Depends(rate_limited)],
)
def get_tree_chunk(
    request: Request, index: Annotated[int, Path(ge=0, lt=tree.CAPACITY // chunks.CHUNK)], db=Depends(get_db)
) -> Response:
    return _cached(request, chunks.chunk(db, index), "application/octet-stream")
