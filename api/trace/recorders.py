"""Who may record events about a product: its merchant authorises producers, carriers and
inspectors on chain (`Provenance.setRecorder`); capture refuses events about a registered product
from anyone else, and the scan page shows only events of the merchant and its recorders.
"""

from __future__ import annotations

from eth_utils import to_checksum_address
from fastapi import APIRouter, Depends, Path, Request
from pydantic import BaseModel, Field
from sqlalchemy.orm import Session as DbSession

from ledger.access.roles import Role
from ledger.store.models import Product
from ledger.trace.recorders import current_recorders

from ..access.auth import READ_ALL, Member, require
from ..core.errors import ApiError
from ..core.services import get_db, services
from .products import visible_product

router = APIRouter(prefix="/v1", tags=["products"])


class RecordersOut(BaseModel):
    gtin: str
    merchant: str
    recorders: list[str] = Field(description="members the merchant authorised to record about the product")


def _owned(db: DbSession, member: Member, gtin: str) -> Product:
    p = visible_product(db, member, gtin)
    if p.merchant != member.address:
        raise ApiError(403, "forbidden", f"only product {gtin}'s merchant decides who records about it")
    return p


@router.get("/products/{gtin}/recorders", response_model=RecordersOut, summary="Who may record about a product")
def get_recorders(
    request: Request,
    gtin: str = Path(pattern=r"^\d{14}$"),
    member: Member = Depends(require(Role.MERCHANT, *READ_ALL)),
    db: DbSession = Depends(get_db),
) -> dict:
    p = visible_product(db, member, gtin)
    return {
        "gtin": gtin,
        "merchant": p.merchant,
        "recorders": current_recorders(services(request).chain.deployment(), gtin),
    }


def _set_recorder(request: Request, db: DbSession, member: Member, gtin: str, address: str, allowed: bool) -> dict:
    p = _owned(db, member, gtin)
    svc = services(request)
    dep = svc.chain.deployment()
    prov = dep.contract("Provenance")
    svc.signers.sender_for(member.address).transact(prov.functions.setRecorder(int(gtin), address, allowed))
    request.state.audit_detail = f"product {gtin} recorder {address} {'authorised' if allowed else 'removed'}"
    return {"gtin": gtin, "merchant": p.merchant, "recorders": current_recorders(dep, gtin)}


def _target(
    gtin: str = Path(pattern=r"^\d{14}$"), address: str = Path(pattern=r"^0x[0-9a-fA-F]{40}$")
) -> tuple[str, str]:
    return gtin, to_checksum_address(address)


RECORDER = "/products/{gtin}/recorders/{address}"


@router.put(RECORDER, response_model=RecordersOut, summary="Authorise a recorder for the product (its merchant)")
def put_recorder(
    request: Request,
    target: tuple[str, str] = Depends(_target),
    member: Member = Depends(require(Role.MERCHANT)),
    db: DbSession = Depends(get_db),
) -> dict:
    """A producer, carrier or inspector may then record events about the product."""
    return _set_recorder(request, db, member, *target, True)


@router.delete(RECORDER, response_model=RecordersOut, summary="Stop authorising a recorder (its merchant)")
def delete_recorder(
    request: Request,
    target: tuple[str, str] = Depends(_target),
    member: Member = Depends(require(Role.MERCHANT)),
    db: DbSession = Depends(get_db),
) -> dict:
    """Its events leave the product's scan page; its new events about the product are refused."""
    return _set_recorder(request, db, member, *target, False)
