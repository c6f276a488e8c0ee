"""Commitments to shoppers' secrets that came with orders (issue 28).

A row links an order to the Poseidon commitment its shopper's browser made at checkout: the
platform knows it, as it knows the order. The tree of delivered purchases holds the commitment at
`leaf_index` once the order is delivered (state `anchored`), zeroed when it is refunded (`zeroed`);
a proof names neither: reviews and claims carry nullifiers, which nothing here links to a row."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from .base import Base


class PurchaseCommitment(Base):
    __tablename__ = "purchase_commitments"
    order_id: Mapped[str] = mapped_column(ForeignKey("orders.order_id"), primary_key=True)
    # decimal field elements (BN254 scalars): the batch id and the leaf Poseidon(Poseidon(secret), batch)
    batch: Mapped[str] = mapped_column(String(78), index=True)
    commitment: Mapped[str] = mapped_column(String(78))
    # waiting (no carrier vouched for it yet) | vouched (its carrier did: the next anchor takes it)
    # | anchored | zeroed | void (refunded before a carrier vouched for it)
    state: Mapped[str] = mapped_column(String(16), index=True)
    leaf_index: Mapped[int | None] = mapped_column(Integer, nullable=True, unique=True)
    anchor_tx: Mapped[str | None] = mapped_column(String(66), nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class PurchaseForeignLeaf(Base):
    """A leaf no order here explains: a commitment a carrier vouched for on chain directly (not
    through this API). The contract makes every anchor take it all the same, so the tree's mirror
    keeps it, by index, beside the leaves that came with orders."""

    __tablename__ = "purchase_foreign_leaves"
    leaf_index: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    commitment: Mapped[str] = mapped_column(String(78))
    vouch_tx: Mapped[str] = mapped_column(String(66))


class PurchaseReview(Base):
    """A verified buyer's review: its nullifier (which no row links to an order or a commitment),
    the batch, rating and text, and the transaction that recorded it on chain."""

    __tablename__ = "purchase_reviews"
    nullifier: Mapped[str] = mapped_column(String(78), primary_key=True)
    gtin: Mapped[str] = mapped_column(String(14), index=True)
    lot: Mapped[str] = mapped_column(String(20))
    rating: Mapped[int] = mapped_column(Integer)
    text: Mapped[str] = mapped_column(String(2000))
    tx: Mapped[str] = mapped_column(String(66))
    # the day only: an exact time would help match a review with a delivery
    day: Mapped[str] = mapped_column(String(10))


class PurchaseChunkRoot(Base):
    """A 1,024-leaf chunk's subtree root, kept so that a restarted server does not hash the whole
    tree again (`ledger.privacy.chunk_store`): trusted only while `digest`, the SHA-256 of the
    chunk's leaves, matches what the chunk holds now; a sample is re-hashed on first use."""

    __tablename__ = "purchase_chunk_roots"
    chunk: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    digest: Mapped[str] = mapped_column(String(64))
    root: Mapped[str] = mapped_column(String(78))


class PurchaseDispute(Base):
    """A shopper's proven dispute: the vault case it opened (frozen from the merchant's deposit
    for the address the shopper named) and the statement arbiters read; like a review, nothing
    here names an order, a shopper or a commitment."""

    __tablename__ = "purchase_disputes"
    case_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    gtin: Mapped[str] = mapped_column(String(14), index=True)
    lot: Mapped[str] = mapped_column(String(20))
    statement: Mapped[str] = mapped_column(String(2000))
    tx: Mapped[str] = mapped_column(String(66))
    day: Mapped[str] = mapped_column(String(10))
