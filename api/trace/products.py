"""Master data: products (GTIN) and their batches (lots), registered on chain by their merchant.

A merchant sees and acts on its own products and batches only; another merchant's are a 404,
exactly as if they did not exist. Auditors and operators read all; nobody but the owning
merchant writes. The chain is the truth: the database row is written only after the
transaction is mined, so a refused transaction leaves nothing behind.
"""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, Depends, Path, Query, Request
from pydantic import BaseModel, Field, field_validator
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session as DbSession

from ledger.access.roles import Role
from ledger.chain.deploy import Deployment
from ledger.clock import as_utc, utcnow
from ledger.store.models import Batch, Product
from ledger.trace.gs1 import GtinError, check_cset82, normalize_gtin

from ..access.auth import READ_ALL, Member, require, visible
from ..core import segments  # noqa: F401  registers the `{name:gs1}` path convertor its routes use
from ..core.errors import ApiError, not_found
from ..core.fields import PlainText
from ..core.services import get_db, services

router = APIRouter(prefix="/v1", tags=["master data"])
LOT_PATTERN = r"^[!%-?A-Z_a-z\"]{1,20}$"  # GS1 AI (10): up to 20 characters of the GS1 set 82


def _gtin(value: str) -> str:
    try:
        return normalize_gtin(value)
    except GtinError as exc:
        raise ValueError(str(exc)) from None


class ProductIn(BaseModel):
    gtin: str = Field(description="GTIN-8/12/13/14; stored as GTIN-14", examples=["06901234567892"])
    name: PlainText = Field(min_length=1, max_length=200)

    _check_gtin = field_validator("gtin")(classmethod(lambda cls, v: _gtin(v)))


class ProductOut(BaseModel):
    gtin: str
    name: str
    merchant: str
    tx_hash: str
    block_number: int
    created_at: datetime


class BatchIn(BaseModel):
    gtin: str
    lot: str = Field(
        description="GS1 AI (10): 1-20 characters of GS1 character set 82 (a `/` included; in paths, `%2F`)",
        json_schema_extra={"pattern": LOT_PATTERN},
        examples=["HC-2026/12"],
    )

    _check_gtin = field_validator("gtin")(classmethod(lambda cls, v: _gtin(v)))
    _check_lot = field_validator("lot")(classmethod(lambda cls, v: check_cset82("lot", v)))


class BatchOut(BaseModel):
    batch_id: str
    gtin: str
    lot: str
    merchant: str
    tx_hash: str
    block_number: int
    created_at: datetime


def _product_out(p: Product) -> dict:
    return {
        "gtin": p.gtin,
        "name": p.name,
        "merchant": p.merchant,
        "tx_hash": p.tx_hash,
        "block_number": p.block_number,
        "created_at": as_utc(p.created_at),
    }


def _batch_out(b: Batch) -> dict:
    return {
        "batch_id": b.batch_id,
        "gtin": b.gtin,
        "lot": b.lot,
        "merchant": b.merchant,
        "tx_hash": b.tx_hash,
        "block_number": b.block_number,
        "created_at": as_utc(b.created_at),
    }


def _registered_earlier(dep: Deployment, event, filters: dict) -> dict | None:
    """The log of a registration this merchant already made on chain, if any: a write answered
    503 (no block sealed in time) may still be mined later from a node's pool, and then the
    merchant's retry adopts it instead of being refused with `ProductExists`/`BatchExists`."""
    logs = dep.logs(event, **filters)
    return dict(logs[0]) if logs else None


def visible_product(db: DbSession, member: Member, gtin: str) -> Product:
    """The product if this member may see it; 404 otherwise (never revealing that it exists)."""
    return visible(member, db.get(Product, gtin), f"product {gtin}")


@router.post("/products", response_model=ProductOut, status_code=201, summary="Register a product on chain")
def create_product(
    body: ProductIn, request: Request, member: Member = Depends(require(Role.MERCHANT)), db: DbSession = Depends(get_db)
) -> dict:
    if db.get(Product, body.gtin) is not None:
        raise ApiError(409, "conflict", f"product {body.gtin} is already registered")
    svc = services(request)
    dep = svc.chain.deployment()
    prov = dep.contract("Provenance")
    receipt = _registered_earlier(
        dep, prov.events.ProductRegistered, {"gtin": int(body.gtin), "merchant": member.address}
    )
    if receipt is None:
        receipt = svc.signers.sender_for(member.address).transact(prov.functions.registerProduct(int(body.gtin)))
    p = Product(
        gtin=body.gtin,
        merchant=member.address,
        name=body.name,
        tx_hash="0x" + bytes(receipt["transactionHash"]).hex(),
        block_number=receipt["blockNumber"],
        created_at=utcnow(),
    )
    db.add(p)
    db.commit()
    request.state.audit_detail = f"product {body.gtin} tx {p.tx_hash}"
    return _product_out(p)


@router.get("/products", response_model=list[ProductOut], summary="Products the caller may see")
def list_products(
    member: Member = Depends(require(Role.MERCHANT, *READ_ALL)), db: DbSession = Depends(get_db)
) -> list[dict]:
    q = select(Product).order_by(Product.gtin)
    if not member.has(READ_ALL):
        q = q.where(Product.merchant == member.address)
    return [_product_out(p) for p in db.scalars(q)]


@router.get("/products/{gtin}", response_model=ProductOut, summary="One product")
def get_product(
    gtin: str = Path(pattern=r"^\d{14}$"),
    member: Member = Depends(require(Role.MERCHANT, *READ_ALL)),
    db: DbSession = Depends(get_db),
) -> dict:
    return _product_out(visible_product(db, member, gtin))


@router.post("/batches", response_model=BatchOut, status_code=201, summary="Register a batch (lot) on chain")
def create_batch(
    body: BatchIn, request: Request, member: Member = Depends(require(Role.MERCHANT)), db: DbSession = Depends(get_db)
) -> dict:
    product = visible_product(db, member, body.gtin)
    if product.merchant != member.address:
        raise not_found(f"product {body.gtin}")
    svc = services(request)
    prov = svc.chain.deployment().contract("Provenance")
    batch_id = "0x" + prov.functions.batchId(int(body.gtin), body.lot).call().hex()
    if db.get(Batch, batch_id) is not None:
        raise ApiError(409, "conflict", f"batch {body.lot} of {body.gtin} is already registered")
    receipt = _registered_earlier(
        svc.chain.deployment(), prov.events.BatchRegistered, {"batchId": bytes.fromhex(batch_id[2:])}
    )
    if receipt is None:
        receipt = svc.signers.sender_for(member.address).transact(
            prov.functions.registerBatch(int(body.gtin), body.lot)
        )
    b = Batch(
        batch_id=batch_id,
        gtin=body.gtin,
        lot=body.lot,
        merchant=member.address,
        tx_hash="0x" + bytes(receipt["transactionHash"]).hex(),
        block_number=receipt["blockNumber"],
        created_at=utcnow(),
    )
    db.add(b)
    try:
        db.commit()
    except IntegrityError:
        db.rollback()
        raise ApiError(409, "conflict", f"batch {body.lot} of {body.gtin} is already registered") from None
    request.state.audit_detail = f"batch {body.gtin}/{body.lot} tx {b.tx_hash}"
    return _batch_out(b)


class BatchListed(BatchOut):
    recalled: bool = Field(description="recalled on chain (read from the chain's BatchRecalled events)")
    recalled_by: str | None = Field(None, description="who recalled it: the merchant, or an inspector")
    recall_reason: str | None = Field(None, description="the reason the recall gave")


@router.get("/batches", response_model=list[BatchListed], summary="Batches the caller may see, newest first")
def list_batches(
    request: Request,
    gtin: str | None = Query(None, pattern=r"^\d{14}$"),
    limit: int = Query(200, ge=1, le=500),
    member: Member = Depends(require(Role.MERCHANT, *READ_ALL)),
    db: DbSession = Depends(get_db),
) -> list[dict]:
    q = select(Batch).order_by(Batch.created_at.desc(), Batch.batch_id).limit(limit)
    if gtin:
        q = q.where(Batch.gtin == gtin)
    if not member.has(READ_ALL):
        q = q.where(Batch.merchant == member.address)
    batches = list(db.scalars(q))
    recalled: dict[str, dict] = {}
    if batches:
        dep = services(request).chain.deployment()
        ids = [bytes.fromhex(b.batch_id[2:]) for b in batches]
        logs = (
            dep.contract("Provenance")
            .events.BatchRecalled()
            .get_logs(from_block=int(dep.manifest["deployed_at_block"]), argument_filters={"batchId": ids})
        )
        said = [(bytes(log["args"]["batchId"]).hex(), log["args"]) for log in logs]
        recalled = {"0x" + i: {"recalled_by": a["by"], "recall_reason": a["reason"]} for i, a in said}
    return [_batch_out(b) | {"recalled": b.batch_id in recalled} | recalled.get(b.batch_id, {}) for b in batches]


@router.get("/batches/{gtin}/{lot:gs1}", response_model=BatchOut, summary="One batch")
def get_batch(
    gtin: str = Path(pattern=r"^\d{14}$"),
    lot: str = Path(pattern=LOT_PATTERN),
    member: Member = Depends(require(Role.MERCHANT, *READ_ALL)),
    db: DbSession = Depends(get_db),
) -> dict:
    visible_product(db, member, gtin)
    b = db.scalar(select(Batch).where(Batch.gtin == gtin, Batch.lot == lot))
    if b is None:
        raise not_found(f"batch {gtin}/{lot}")
    return _batch_out(b)


class RecallIn(BaseModel):
    reason: str = Field(min_length=1, max_length=500, description="shown to consumers who scan the batch's codes")


@router.post(
    "/batches/{gtin}/{lot:gs1}/recall",
    response_model=BatchOut,
    summary="Recall a batch on chain (its merchant, an inspector or an operator)",
)
def recall_batch(
    body: RecallIn,
    request: Request,
    gtin: str = Path(pattern=r"^\d{14}$"),
    lot: str = Path(pattern=LOT_PATTERN),
    member: Member = Depends(require(Role.MERCHANT, Role.INSPECTOR, Role.OPERATOR)),
    db: DbSession = Depends(get_db),
) -> dict:
    """Another merchant's batch is a 404, as if it did not exist; the chain refuses anyone else
    (403). Scans show the recall once their cache of the batch expires (`LEDGER_SCAN_CACHE_S`)."""
    b = db.scalar(select(Batch).where(Batch.gtin == gtin, Batch.lot == lot))
    if b is None or (not member.has(Role.INSPECTOR | Role.OPERATOR) and b.merchant != member.address):
        raise not_found(f"batch {gtin}/{lot}")
    svc = services(request)
    prov = svc.chain.deployment().contract("Provenance")
    receipt = svc.signers.sender_for(member.address).transact(
        prov.functions.recall(bytes.fromhex(b.batch_id[2:]), body.reason)
    )
    request.state.audit_detail = f"recalled {gtin}/{lot} tx 0x{bytes(receipt['transactionHash']).hex()}: {body.reason}"
    return _batch_out(b)
