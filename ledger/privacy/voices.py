"""What a shopper's proof lets them say about a batch: a verified buyer's review, a claim (to an
address they name), a dispute (the terms' amount frozen from the deposit as a vault case for an
address they name, paid there if arbiters uphold it). Each goes on chain through the platform's relaying key, which
learns nothing but the proof: no order, no shopper, no commitment. Counts are the contract's."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session as DbSession
from web3.logs import DISCARD

from ledger.chain.client import Sender
from ledger.chain.deploy import Deployment
from ledger.errors import Conflict, NotFound
from ledger.store.models import Batch
from ledger.store.purchase_tables import PurchaseDispute, PurchaseReview

from . import onchain
from .fields import batch_id, text_hash

#: reviews shown with a batch (newest first)
SHOWN = 20


def require_batch(db: DbSession, gtin: str, lot: str) -> int:
    if db.scalar(select(Batch.batch_id).where(Batch.gtin == gtin, Batch.lot == lot)) is None:
        raise NotFound(f"unknown batch {gtin}/{lot}")
    return batch_id(gtin, lot)


def review(
    db: DbSession,
    dep: Deployment,
    relayer: Sender,
    gtin: str,
    lot: str,
    rating: int,
    text: str,
    root: int,
    nullifier: int,
    proof: list[int],
) -> dict[str, Any]:
    b = require_batch(db, gtin, lot)
    c = dep.contract("PurchaseProofs")
    receipt = onchain.send(dep, relayer, c.functions.review(proof, root, b, nullifier, rating, text_hash(text)))
    tx = "0x" + bytes(receipt["transactionHash"]).hex()
    day = datetime.now(UTC).date().isoformat()
    db.add(PurchaseReview(nullifier=str(nullifier), gtin=gtin, lot=lot, rating=rating, text=text, tx=tx, day=day))
    db.commit()
    return {"batch": str(b), "nullifier": str(nullifier), "rating": rating, "tx": tx, "gas": int(receipt["gasUsed"])}


def claim(
    db: DbSession,
    dep: Deployment,
    relayer: Sender,
    gtin: str,
    lot: str,
    pay_to: str,
    amount_fen: int,
    root: int,
    nullifier: int,
    proof: list[int],
) -> dict[str, Any]:
    b = require_batch(db, gtin, lot)
    c = dep.contract("PurchaseProofs")
    receipt = onchain.send(dep, relayer, c.functions.claim(proof, root, b, nullifier, pay_to, amount_fen))
    tx = "0x" + bytes(receipt["transactionHash"]).hex()
    return {"batch": str(b), "nullifier": str(nullifier), "pay_to": pay_to, "paid_fen": amount_fen, "tx": tx}


def dispute(
    db: DbSession,
    dep: Deployment,
    relayer: Sender,
    gtin: str,
    lot: str,
    statement: str,
    pay_to: str,
    root: int,
    nullifier: int,
    proof: list[int],
) -> dict[str, Any]:
    b = require_batch(db, gtin, lot)
    c = dep.contract("PurchaseProofs")
    fn = c.functions.dispute(proof, root, b, nullifier, text_hash(statement), pay_to)
    receipt = onchain.send(dep, relayer, fn)
    tx = "0x" + bytes(receipt["transactionHash"]).hex()
    args = c.events.DisputeRecorded().process_receipt(receipt, errors=DISCARD)[0]["args"]
    day = datetime.now(UTC).date().isoformat()
    db.add(PurchaseDispute(case_id=int(args["caseId"]), gtin=gtin, lot=lot, statement=statement, tx=tx, day=day))
    db.commit()
    return {
        "batch": str(b),
        "nullifier": str(nullifier),
        "case_id": int(args["caseId"]),
        "pay_to": pay_to,
        "frozen_fen": int(args["amount"]),
        "tx": tx,
        "gas": int(receipt["gasUsed"]),
    }


def pay_dispute(db: DbSession, dep: Deployment, relayer: Sender, case_id: int) -> dict[str, Any]:
    """Send what an upheld dispute awarded to the address its shopper named (and nowhere else)."""
    if db.get(PurchaseDispute, case_id) is None:
        raise NotFound(f"no shopper's dispute opened case {case_id}")
    vault = dep.contract("GuaranteeVault")
    _merchant, _amount, claimant, still_open = vault.functions.cases(case_id).call()
    if still_open:
        raise Conflict(f"case {case_id} is still open: arbiters have not decided it", code="case_open")
    owed = int(vault.functions.claimable(claimant).call())
    if owed == 0:
        raise Conflict(
            f"nothing is owed to case {case_id}'s payout address (released, or paid already)", code="nothing_owed"
        )
    receipt = relayer.transact(vault.functions.claimFor(claimant))
    tx = "0x" + bytes(receipt["transactionHash"]).hex()
    return {"case_id": case_id, "pay_to": claimant, "paid_fen": owed, "tx": tx, "gas": int(receipt["gasUsed"])}


def set_terms(
    db: DbSession, dep: Deployment, merchant: Sender, gtin: str, lot: str, amount_fen: int, until: int, count: int
) -> dict[str, Any]:
    """A merchant offers what each proven claim on its batch pays from its own deposit."""
    b = require_batch(db, gtin, lot)
    c = dep.contract("PurchaseProofs")
    fn = c.functions.setClaimTerms(int(gtin), lot, amount_fen, until, count)  # the product's owner's own
    onchain.send(dep, merchant, fn, gas=200_000)
    return terms(dep, b) | {"batch": str(b)}


def terms(dep: Deployment, b: int) -> dict[str, Any] | None:
    """The batch's claim terms as the chain holds them (None: its claims pay nothing)."""
    c = dep.contract("PurchaseProofs")
    merchant, amount, until, left, imposed, paying_from = c.functions.claimTerms(b).call()
    if int(merchant, 16) == 0:
        return None
    delay = int(c.functions.claimDelay().call())
    return {
        "merchant": merchant,
        "amount_fen": amount,
        "until": until,
        "left": left,
        "imposed": imposed,
        "pays_from": paying_from,  # a merchant's own terms wait the vault's withdrawal cooldown
        "root_delay_s": delay,
        "paid_fen": int(c.functions.claimPaid(b).call()),
    }


def summary(db: DbSession, dep: Deployment, gtin: str, lot: str) -> dict[str, Any]:
    """What the scan page and an auditor see of a batch: counts from the chain, texts from here."""
    b = require_batch(db, gtin, lot)
    c = dep.contract("PurchaseProofs")
    count = int(c.functions.reviewCount(b).call())
    total = int(c.functions.ratingSum(b).call())
    rows = db.scalars(
        select(PurchaseReview)
        .where(PurchaseReview.gtin == gtin, PurchaseReview.lot == lot)
        .order_by(PurchaseReview.day.desc(), PurchaseReview.nullifier)
        .limit(SHOWN)
    )
    return {
        "batch": str(b),
        "reviews": count,
        "rating": round(total / count, 2) if count else None,
        "claims": int(c.functions.claimCount(b).call()),
        "claim_terms": terms(dep, b),
        "disputes": int(c.functions.disputeCount(b).call()),
        "recent": [{"rating": r.rating, "text": r.text, "day": r.day} for r in rows],
    }
