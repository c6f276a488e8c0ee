"""Links merchants register for the GS1 Digital Link resolver (product information, instructions,
certifications, a recall notice, a default link...) per GTIN, lot or serial of their own products,
and the resolver's description at `/.well-known/gs1resolver`."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Body, Depends, Path, Request, Response
from sqlalchemy import select
from sqlalchemy.orm import Session as DbSession

from ledger.access.roles import Role
from ledger.clock import utcnow
from ledger.store.models import ResolverLink
from ledger.trace import resolver_links as rl
from ledger.trace.gs1 import GtinError, normalize_gtin

from ..access.auth import Member, require
from ..core.errors import invalid, not_found
from ..core.services import get_db, rate_limited, services

router = APIRouter(tags=["GS1 Digital Link resolver"])

_EXAMPLE = {"linkType": "gs1:pip", "href": "https://brand.example/p/06901234567892", "title": "Product information",
            "type": "text/html", "hreflang": ["zh", "en"]}  # fmt: skip


def _gtin(value: str) -> str:
    try:
        return normalize_gtin(value)
    except GtinError as exc:
        raise invalid("path.gtin", str(exc)) from None


@router.post("/v1/products/{gtin}/links", status_code=201, summary="Register a resolver link for an own product")
def add_link(
    gtin: str,
    request: Request,
    body: dict[str, Any] = Body(
        examples=[_EXAMPLE], description="linkType, href, title; type, hreflang, context, default, lot, serial optional"
    ),  # fmt: skip
    member: Member = Depends(require(Role.MERCHANT)),
    db: DbSession = Depends(get_db),
) -> dict:
    row = rl.register(db, member.address, _gtin(gtin), body, utcnow())
    request.state.audit_detail = f"link {row.id} {rl.compact(row.link_type)} for {row.gtin}"
    return rl.row_out(row)


@router.get(
    "/v1/products/{gtin}/links",
    dependencies=[Depends(rate_limited)],
    summary="The resolver links of a product (public, as the resolver shows)",
)
def list_links(gtin: str, db: DbSession = Depends(get_db)) -> list[dict]:
    rows = db.scalars(select(ResolverLink).where(ResolverLink.gtin == _gtin(gtin)).order_by(ResolverLink.id))
    return [rl.row_out(r) for r in rows]


@router.delete("/v1/products/{gtin}/links/{link_id}", status_code=204, summary="Remove one of the product's links")
def remove_link(
    gtin: str,
    link_id: int = Path(ge=1, le=2**63 - 1),  # SQLite's largest integer: beyond it the query raised (a 500)
    member: Member = Depends(require(Role.MERCHANT)),
    db: DbSession = Depends(get_db),
) -> Response:
    row = db.get(ResolverLink, link_id)
    if row is None or row.gtin != _gtin(gtin) or row.merchant != member.address:
        raise not_found(f"link {link_id}")
    db.delete(row)
    db.commit()
    return Response(status_code=204)


@router.get(
    "/.well-known/gs1resolver",
    dependencies=[Depends(rate_limited)],
    summary="What this GS1-conformant resolver supports",
)
def resolver_description(request: Request, response: Response) -> dict:
    response.headers["Access-Control-Allow-Origin"] = "*"
    settings = services(request).settings
    root = settings.resolver_url.rstrip("/")
    return {
        "name": "traceledger GS1 Digital Link resolver",
        "resolverRoot": root,
        "supportedPrimaryKeys": ["01"],  # as numeric AIs (GS1 resolver description file schema)
        "supportedKeyQualifiers": ["22", "10", "21", "235"],  # ours (GS1's schema has none); as numeric AIs
        "linkTypeDefaultCanBeLinkset": False,
        "supportsSemanticWeb": False,
        "supportedLinkType": [
            {"namespace": rl.GS1_VOC, "prefix": "gs1:", "profile": "https://gs1.org/voc/?show=linktypes"}
        ],
        "supportedContextValuesEnumerated": [],
        "validatingResolver": True,
        "compressedDigitalLink": True,  # whole or partly compressed links are answered as their uncompressed URI
        "linkset": f"{root}/01/{{gtin}}?linkType=linkset",
        "jsonLdContextLocation": "https://ref.gs1.org/standards/resolver/linkset-context",
        "contact": {"fn": settings.resolver_contact},  # GS1's schema: an object (vCard's fn, hasAddress)
    }
