"""The members' side of carbon (`/v1/carbon`): publish a signed factor table (anchored by the
publisher's key), register a PACT client, preview a batch's footprint (what is missing), compute
and anchor it, and the public summary and evidence anyone can check (`ledger verify-footprint`)."""

from __future__ import annotations

import json
import re
import secrets
from collections.abc import Callable
from typing import Any, TypeVar
from urllib.parse import quote

from fastapi import APIRouter, Body, Depends, Query, Request, Response
from fastapi.responses import HTMLResponse
from pydantic import BaseModel, Field
from sqlalchemy import select
from sqlalchemy.orm import Session as DbSession

from ledger.access.roles import Role
from ledger.carbon import records
from ledger.carbon.footprint import GenealogyCycle
from ledger.carbon.quantities import BadQuantity
from ledger.clock import utcnow
from ledger.i18n import negotiate
from ledger.store.carbon_tables import CarbonClient, CarbonFactorTable, CarbonFootprint
from ledger.store.models import Product, ResolverLink
from ledger.trace import resolver_links
from ledger.trace.gs1 import GtinError, normalize_gtin

from ..access.auth import READ_ALL, Member, authenticate, require
from ..core.errors import ApiError, forbidden, not_found
from ..core.services import get_db, rate_limited, services
from . import evidence_cache, scan
from .pact_auth import digest
from .summary import summary

router = APIRouter(prefix="/v1/carbon", tags=["carbon"])
PUBLISHERS = Role.MERCHANT | Role.OPERATOR | Role.PRODUCER | Role.LOGISTICS | Role.INSPECTOR
T = TypeVar("T")
URN = re.compile(r"urn:[A-Za-z0-9][A-Za-z0-9-]{0,31}:[!-~]{1,160}")


def _run(fn: Callable[[], T]) -> T:
    try:
        return fn()
    except (BadQuantity, GenealogyCycle) as exc:
        raise ApiError(422, "invalid_input", str(exc)) from None
    except records.CarbonConflict as exc:
        detail: Any = exc.args[0]
        raise ApiError(
            409, detail.get("status", "conflict") if isinstance(detail, dict) else "conflict", detail
        ) from None
    except records.NotFound as exc:
        raise not_found(str(exc)) from None


def _gtin(gtin: str) -> str:
    try:
        return normalize_gtin(gtin)
    except GtinError as exc:
        raise ApiError(422, "invalid_input", f"gtin: {exc}") from None


def _own(db: DbSession, gtin: str, member: Member) -> None:
    product = db.get(Product, gtin)
    if product is None or (product.merchant.lower() != member.address.lower() and not member.has(READ_ALL)):
        raise not_found(f"product {gtin}")


class TableIn(BaseModel):
    document: dict = Field(description="the factor table (ledger.carbon.factors)")
    signature: str = Field(max_length=200, description="the publisher's EIP-191 signature over its canonical hash")


@router.post(
    "/factor-tables", status_code=201, summary="Publish an emission-factor table you signed (anchored with your key)"
)
def publish_table(
    request: Request, body: TableIn, member: Member = Depends(require(PUBLISHERS)), db: DbSession = Depends(get_db)
) -> dict:
    s = services(request)
    if str(body.document.get("publisher", "")).lower() != member.address.lower():
        raise forbidden("a factor table names its publisher: you")
    row = _run(
        lambda: records.publish_table(
            db, s.chain.deployment(), s.signers.sender_for(member.address), body.document, body.signature
        )
    )
    return {"version": row.version, "hash": row.hash, "root": row.root, "tx": row.tx_hash, "block": row.block_number}


@router.get("/factor-tables/{version}", summary="Public: a factor table, its signature and anchor")
def get_table(version: str, db: DbSession = Depends(get_db), _: None = Depends(rate_limited)) -> dict:
    row = db.get(CarbonFactorTable, version[:40])
    if row is None:
        raise not_found(f"factor table {version[:40]}")
    return {
        "document": json.loads(row.body),
        "signature": row.signature,
        "hash": row.hash,
        "root": row.root,
        "tx": row.tx_hash,
        "block": row.block_number,
    }


@router.post("/clients", status_code=201, summary="A PACT API client for you (its secret is shown once)")
def new_client(member: Member = Depends(authenticate), db: DbSession = Depends(get_db)) -> dict:
    client_id, secret = "pc_" + secrets.token_hex(12), secrets.token_urlsafe(32)
    db.add(CarbonClient(client_id=client_id, secret_hash=digest(secret), member=member.address, created_at=utcnow()))
    db.commit()
    return {"client_id": client_id, "client_secret": secret, "token_url": "/pact/auth/token"}


@router.get("/batches/{gtin}/{lot}/preview", summary="What a batch's footprint would be now, and what is missing")
def preview(
    gtin: str,
    lot: str,
    table: str = Query(max_length=40),
    member: Member = Depends(authenticate),
    db: DbSession = Depends(get_db),
) -> dict:
    gtin = _gtin(gtin)
    _own(db, gtin, member)
    result = _run(lambda: records.compute_batch(db, gtin, lot[:20], table))
    return {
        "complete": result.complete,
        "missing": result.missing,
        "figures": result.figures(),
        "inputs": len(result.inputs),
    }


@router.post(
    "/batches/{gtin}/{lot}/footprint",
    status_code=201,
    summary="Compute the batch's footprint from its anchored events and anchor it (supersedes the last)",
)
def compute(
    request: Request,
    gtin: str,
    lot: str,
    table: str = Body(max_length=40, embed=True),
    classifications: list[str] = Body([], embed=True, max_length=20, description="PACT productClassifications (URNs)"),
    member: Member = Depends(require(Role.MERCHANT)),
    db: DbSession = Depends(get_db),
) -> dict:
    gtin = _gtin(gtin)
    _own(db, gtin, member)
    if not all(URN.fullmatch(c) for c in classifications):
        raise ApiError(422, "invalid_input", "classifications are URNs (urn:<nid>:<nss>, at most 200 characters)")
    if len(set(classifications)) != len(classifications):  # PACT 3.0: productClassifications are unique
        raise ApiError(422, "invalid_input", "classifications are each given once")
    s = services(request)
    sender = s.signers.sender_for(s.anchor_address())
    row = _run(
        lambda: records.publish_footprint(
            db, s.chain.deployment(), sender, gtin, lot[:20], table, member.address, classifications
        )
    )
    _sustainability_links(db, s.settings.resolver_url, gtin, lot[:20], member.address)
    return summary(row)


def _sustainability_links(db: DbSession, base: str, gtin: str, lot: str, merchant: str) -> None:
    """The batch's `gs1:sustainabilityInfo` links on the resolver (JSON for machines, the page for
    people, one URL negotiating both), registered with its first footprint."""
    kind = resolver_links.link_type("gs1:sustainabilityInfo")
    if db.scalar(select(ResolverLink.id).where(ResolverLink.gtin == gtin, ResolverLink.lot == lot,
                                               ResolverLink.link_type == kind).limit(1)) is not None:  # fmt: skip
        return
    href = f"{base.rstrip('/')}/v1/carbon/batches/{gtin}/{quote(lot, safe='')}/footprint"
    for media, title in (("application/json", "Carbon footprint (PACT v3 summary)"), ("text/html", "Carbon footprint")):
        body = {"linkType": "gs1:sustainabilityInfo", "href": href, "title": title, "type": media, "lot": lot}
        resolver_links.register(db, merchant, gtin, body, utcnow())


@router.get(
    "/batches/{gtin}/{lot}/footprint", summary="Public: the batch's current footprint, in short (JSON, or a page)"
)
def current(request: Request, gtin: str, lot: str, lang: str | None = Query(None, max_length=5),
            db: DbSession = Depends(get_db), _: None = Depends(rate_limited)) -> Any:  # fmt: skip
    row = records.latest(db, _gtin(gtin), lot[:20])
    if row is None:
        raise not_found(f"a footprint of batch {gtin}/{lot[:20]}")
    accept = request.headers.get("accept", "")
    if "text/html" in accept and "application/json" not in accept:
        language = negotiate(lang, request.headers.get("accept-language"))
        return HTMLResponse(scan.page(summary(row), language))
    return summary(row)


@router.get("/products/{gtin}/trend", summary="The current footprint of each batch of a product, oldest first")
def trend(gtin: str, member: Member = Depends(authenticate), db: DbSession = Depends(get_db)) -> list[dict]:
    gtin = _gtin(gtin)
    _own(db, gtin, member)
    rows = db.scalars(
        select(CarbonFootprint)
        .where(CarbonFootprint.gtin == gtin, CarbonFootprint.status == "Active")
        .order_by(CarbonFootprint.created_at)
        .limit(1000)
    )
    return [{"lot": r.lot, "created": r.created_at.isoformat()} | summary(r) for r in rows]


@router.get("/batches/{gtin}/{lot}/evidence", summary="Public: the evidence of the batch's current footprint")
def batch_evidence(gtin: str, lot: str, db: DbSession = Depends(get_db), _: None = Depends(rate_limited)) -> Response:
    row = records.latest(db, _gtin(gtin), lot[:20])
    if row is None:
        raise not_found(f"a footprint of batch {gtin}/{lot[:20]}")
    return evidence_cache.answer(db, row)


@router.get("/footprints/{pf_id}", summary="Public: a footprint's PACT ProductFootprint document")
def document(pf_id: str, db: DbSession = Depends(get_db), _: None = Depends(rate_limited)) -> dict:
    row = db.get(CarbonFootprint, pf_id[:36])
    if row is None:
        raise not_found(f"footprint {pf_id[:36]}")
    return {"data": json.loads(row.body)}


@router.get("/footprints/{pf_id}/evidence", summary="Public: a footprint's document, inputs with proofs, factor table")
def evidence(pf_id: str, db: DbSession = Depends(get_db), _: None = Depends(rate_limited)) -> Response:
    row = db.get(CarbonFootprint, pf_id[:36])
    if row is None:
        raise not_found(f"footprint {pf_id[:36]}")
    return evidence_cache.answer(db, row)
