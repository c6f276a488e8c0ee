"""GS1 company prefixes: governance assigns each to its licensee (`assign_prefix`); a GTIN under an
assigned prefix is its holder's to register, and to take back from a merchant that registered it
first (`POST /v1/products/{gtin}/reclaim`). Codes that merchant anchored for it then no longer
verify: a code is genuine only when anchored by the product's owner (`ledger.trace.verify`)."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Path, Request
from sqlalchemy import update
from sqlalchemy.orm import Session as DbSession

from ledger.access.roles import Role
from ledger.clock import utcnow
from ledger.store.models import Batch, Product

from ..access.auth import Member, require
from ..core.errors import ApiError
from ..core.services import get_db, services
from .products import ProductOut, _product_out

router = APIRouter(prefix="/v1", tags=["master data"])
ZERO = "0x" + "00" * 20


@router.post(
    "/products/{gtin}/reclaim",
    response_model=ProductOut,
    summary="Take back a product another merchant registered under the caller's GS1 company prefix",
)
def reclaim_product(
    request: Request,
    gtin: str = Path(pattern=r"^\d{14}$"),
    member: Member = Depends(require(Role.MERCHANT)),
    db: DbSession = Depends(get_db),
) -> dict:
    svc = services(request)
    prov = svc.chain.deployment().contract("Provenance")
    owner = prov.functions.productOwner(int(gtin)).call()
    if owner == ZERO:
        raise ApiError(404, "not_found", f"product {gtin} not found")
    if owner == member.address:
        raise ApiError(409, "conflict", f"product {gtin} is already yours")
    # not under a prefix of the caller's: the contract refuses (PrefixHeldByOther, a 403)
    receipt = svc.signers.sender_for(member.address).transact(prov.functions.reclaimProduct(int(gtin)))
    tx_hash = "0x" + bytes(receipt["transactionHash"]).hex()
    p = db.get(Product, gtin)
    if p is None:  # registered on chain without this API: the name is the GTIN until the holder renames it
        p = Product(gtin=gtin, name=gtin, merchant=member.address, created_at=utcnow(), tx_hash="", block_number=0)
        db.add(p)
    p.merchant, p.tx_hash, p.block_number = member.address, tx_hash, receipt["blockNumber"]
    db.execute(update(Batch).where(Batch.gtin == gtin).values(merchant=member.address))
    db.commit()
    request.state.audit_detail = f"product {gtin} taken back from {owner} tx {tx_hash}"
    return _product_out(p)
