"""Footprints and factor tables kept and anchored: a table is published by its member (signature
checked, its hash anchored by that member's key as a one-leaf root `carbon:factors/<version>`); a
footprint is computed from the batch's stored genealogy, refused while incomplete or while any
input event is not yet anchored, and anchored by the platform as the Merkle root over
[footprint hash, factor table hash, input event digests...] (`carbon:footprint/<id>`). A later
footprint of the same batch names the earlier ones in `precedingPfIds` and deprecates them."""

from __future__ import annotations

import hashlib
import json
import uuid
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from ledger.chain.client import Sender
from ledger.chain.deploy import Deployment
from ledger.compliance.genealogy import class_uri, trace
from ledger.errors import LedgerError
from ledger.store.carbon_tables import CarbonFactorTable, CarbonFootprint
from ledger.store.models import (
    EpcisEvent,
    Product,
    TradingParty,
)
from ledger.trace.epcis.proofs import proof_of
from ledger.trace.merkle import MerkleTree

from . import factors, pact
from .footprint import Result, compute
from .quantities import BadQuantity

CHUNK = 500  # identifiers per IN (...): SQLite's bound on parameters


class CarbonConflict(LedgerError):
    status = 409


class NotFound(LedgerError):
    status = 404


def footprint_hash(doc: dict) -> str:
    """SHA-256 of the canonical document without `status` (the one field that changes later)."""
    return "0x" + hashlib.sha256(factors.canonical({k: v for k, v in doc.items() if k != "status"})).hexdigest()


def footprint_root(fp_hash: str, table_hash: str, digests: list[str]) -> bytes:
    return MerkleTree([bytes.fromhex(h[2:]) for h in [fp_hash, table_hash, *sorted(digests)]]).root


def table_root(table_hash: str) -> bytes:
    return MerkleTree([bytes.fromhex(table_hash[2:])]).root


def publish_table(db: Session, dep: Deployment, sender: Sender, doc: dict, signature: str) -> CarbonFactorTable:
    table = factors.parse(doc)
    if factors.signer_of(doc, signature) != table.publisher:
        raise BadQuantity("factor table signature: not by the publisher it names")
    if sender.address.lower() != table.publisher:
        raise BadQuantity("a factor table is published by the member who signed it")
    if db.get(CarbonFactorTable, table.version) is not None:
        raise CarbonConflict(f"factor table version {table.version} exists; publish a new version")
    root = table_root(table.hash)
    receipt = sender.transact(dep.contract("Provenance").functions.anchor(root, 1, f"carbon:factors/{table.version}"))
    row = CarbonFactorTable(
        version=table.version,
        publisher=table.publisher,
        body=json.dumps(doc, ensure_ascii=False),
        hash=table.hash,
        signature=signature,
        root="0x" + root.hex(),
        tx_hash=receipt["transactionHash"].hex(),
        block_number=receipt["blockNumber"],
        published_at=datetime.now(UTC),
    )
    db.add(row)
    db.commit()
    return row


def load_table(db: Session, version: str) -> factors.FactorTable:
    row = db.get(CarbonFactorTable, version)
    if row is None:
        raise NotFound(f"no factor table version {version!r}")
    return factors.parse(json.loads(row.body))


def genealogy_events(db: Session, gtin: str, lot: str) -> list[tuple[str, dict]]:
    """Every stored event of the batch's backward genealogy (hash ID, body), in capture order."""
    t = trace(db, {class_uri(gtin, lot)}, forward=False)
    return [(t.hash_ids[i], t.events[i]) for i in sorted(t.events)]


def compute_batch(db: Session, gtin: str, lot: str, version: str) -> Result:
    return compute(genealogy_events(db, gtin, lot), load_table(db, version), gtin, lot)


def _company(db: Session, merchant: str) -> tuple[str, list[str]]:
    party = db.scalar(select(TradingParty).where(TradingParty.member == merchant).limit(1))
    if party is not None:
        return party.name, [party.urn]
    return merchant, [f"urn:traceledger:member:{merchant.lower()}"]


def publish_footprint(
    db: Session,
    dep: Deployment,
    sender: Sender,
    gtin: str,
    lot: str,
    version: str,
    merchant: str,
    classifications: list[str] | None = None,
) -> CarbonFootprint:
    product = db.get(Product, gtin)
    if product is None or product.merchant.lower() != merchant.lower():
        raise NotFound(f"no product {gtin} of {merchant}")
    result = compute_batch(db, gtin, lot, version)
    if not result.complete:
        raise CarbonConflict({"status": "incomplete", "missing": result.missing})
    inputs = sorted(result.inputs)
    rows = [
        row
        for i in range(0, len(inputs), CHUNK)
        for row in db.execute(
            select(EpcisEvent.hash_id, EpcisEvent.digest, EpcisEvent.anchor_id).where(
                EpcisEvent.hash_id.in_(inputs[i : i + CHUNK])
            )
        ).all()
    ]
    pending = [h for h, _, a in rows if a is None]
    if pending:
        raise CarbonConflict(f"{len(pending)} input events are not anchored yet; anchor them, then compute")
    earlier = db.scalars(
        select(CarbonFootprint)
        .where(CarbonFootprint.gtin == gtin, CarbonFootprint.lot == lot)
        .order_by(CarbonFootprint.created_at.desc())
    ).all()
    pf_id, now = str(uuid.uuid4()), datetime.now(UTC)
    name, ids = _company(db, product.merchant)
    doc = pact.document(
        result, pf_id, now, name, ids, product.name, [e.id for e in earlier] or None, classifications=classifications
    )
    fp_hash, digests = footprint_hash(doc), [d for _, d, _ in rows]
    root = footprint_root(fp_hash, result.table.hash, digests)
    receipt = sender.transact(
        dep.contract("Provenance").functions.anchor(root, len(digests) + 2, f"carbon:footprint/{pf_id}")
    )
    for e in earlier:
        if e.status != "Deprecated":
            e.status, e.body = (
                "Deprecated",
                json.dumps(json.loads(e.body) | {"status": "Deprecated"}, ensure_ascii=False),
            )
    row = CarbonFootprint(
        id=pf_id,
        gtin=gtin,
        lot=lot,
        product_id=doc["productIds"][0].lower(),
        status="Active",
        valid_from=datetime.fromisoformat(doc["validityPeriodStart"]),
        valid_to=datetime.fromisoformat(doc["validityPeriodEnd"]),
        merchant=product.merchant,
        body=json.dumps(doc, ensure_ascii=False),
        hash=fp_hash,
        table_version=version,
        inputs=json.dumps(sorted(digests)),
        root="0x" + root.hex(),
        tx_hash=receipt["transactionHash"].hex(),
        block_number=receipt["blockNumber"],
        created_at=now,
    )
    db.add(row)
    db.commit()
    return row


def evidence(db: Session, fp: CarbonFootprint) -> dict:
    """What a verifier needs to recompute the footprint without trusting this service: the
    document, its anchor, the signed factor table, every input event with its proof."""
    table = db.get(CarbonFactorTable, fp.table_version)
    assert table is not None
    digests = json.loads(fp.inputs)
    rows = sorted(
        (r for i in range(0, len(digests), CHUNK)
         for r in db.scalars(select(EpcisEvent).where(EpcisEvent.digest.in_(digests[i : i + CHUNK])))),
        key=lambda r: r.id,
    )  # fmt: skip
    return {
        "document": json.loads(fp.body),
        "hash": fp.hash,
        "anchor": {"root": fp.root, "tx": fp.tx_hash, "block": fp.block_number, "uri": f"carbon:footprint/{fp.id}"},
        "factorTable": {
            "document": json.loads(table.body),
            "signature": table.signature,
            "hash": table.hash,
            "root": table.root,
            "tx": table.tx_hash,
            "block": table.block_number,
        },
        "events": [
            {
                "body": json.loads(r.body),
                "context": json.loads(r.context) if r.context else None,
                "proof": proof_of(db, r),
            }
            for r in rows
        ],
    }


def latest(db: Session, gtin: str, lot: str) -> CarbonFootprint | None:
    return db.scalar(
        select(CarbonFootprint)
        .where(CarbonFootprint.gtin == gtin, CarbonFootprint.lot == lot, CarbonFootprint.status == "Active")
        .order_by(CarbonFootprint.created_at.desc())
        .limit(1)
    )
