"""Database tables (SQLAlchemy 2.0), made by Alembic migrations (`ledger/store/migrations`) in SQLite or PostgreSQL."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Boolean, DateTime, ForeignKey, Index, Integer, String, Text, false
from sqlalchemy.orm import Mapped, mapped_column

from .base import Base
from .compliance_tables import CreditCodePilot, EventCompleteness, EventSignature, TradingParty  # noqa: F401
from .epcis_tables import EpcisCaptureJob, EpcisNamedQuery, EpcisSubscription, EpcisVocabulary
from .order_tables import CommissionRule, Order, SettlementSlot
from .recon_tables import ReconBreak, ReconBreakEvent, ReconInputOrder, ReconRun
from .resolver_tables import ResolverLink
from .sent_tables import SentTransaction

__all__ = [
    "Base",
    "CommissionRule",
    "Order",
    "SettlementSlot",
    "ReconRun",
    "ReconBreak",
    "ReconBreakEvent",
    "ReconInputOrder",
    "EpcisCaptureJob",
    "EpcisNamedQuery",
    "EpcisSubscription",
    "EpcisVocabulary",
    "ResolverLink",
    "SentTransaction",
]  # and the tables below


class AuthNonce(Base):
    """A sign-in nonce: issued once, consumed by at most one login before it expires."""

    __tablename__ = "auth_nonces"
    nonce: Mapped[str] = mapped_column(String(64), primary_key=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class Session(Base):
    """A short-lived login; only the SHA-256 of its token is stored."""

    __tablename__ = "sessions"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    address: Mapped[str] = mapped_column(String(42), index=True)
    nonce: Mapped[str] = mapped_column(ForeignKey("auth_nonces.nonce"), unique=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class ApiKey(Base):
    """A long-lived key for a member's servers; only the SHA-256 of the key is stored."""

    __tablename__ = "api_keys"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    address: Mapped[str] = mapped_column(String(42), index=True)
    name: Mapped[str] = mapped_column(String(100))
    prefix: Mapped[str] = mapped_column(String(16))
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    last_used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class AuditEntry(Base):
    """One write request: who, what, when, request id, outcome. Append-only (enforced by
    database triggers created in the migration)."""

    __tablename__ = "audit_log"
    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    request_id: Mapped[str] = mapped_column(String(64), index=True)
    actor: Mapped[str | None] = mapped_column(String(42), index=True, nullable=True)
    auth: Mapped[str | None] = mapped_column(String(16), nullable=True)
    method: Mapped[str] = mapped_column(String(8))
    path: Mapped[str] = mapped_column(String(512))
    status: Mapped[int] = mapped_column(Integer)
    outcome: Mapped[str] = mapped_column(String(16))
    detail: Mapped[str | None] = mapped_column(Text, nullable=True)


class Product(Base):
    """A product registered on chain (GTIN-14), cached for queries; the chain is the truth."""

    __tablename__ = "products"
    gtin: Mapped[str] = mapped_column(String(14), primary_key=True)
    merchant: Mapped[str] = mapped_column(String(42), index=True)
    name: Mapped[str] = mapped_column(String(200))
    tx_hash: Mapped[str] = mapped_column(String(66))
    block_number: Mapped[int] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class Batch(Base):
    """A batch (lot) of a product registered on chain."""

    __tablename__ = "batches"
    batch_id: Mapped[str] = mapped_column(String(66), primary_key=True)
    gtin: Mapped[str] = mapped_column(ForeignKey("products.gtin"), index=True)
    lot: Mapped[str] = mapped_column(String(20))
    merchant: Mapped[str] = mapped_column(String(42), index=True)
    tx_hash: Mapped[str] = mapped_column(String(66))
    block_number: Mapped[int] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class ChainEvent(Base):
    """A decoded contract event, exactly once per (transaction hash, log index). `final` once the
    block is `confirmations` deep; rolled back if its block leaves the canonical chain."""

    __tablename__ = "chain_events"
    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True)
    tx_hash: Mapped[str] = mapped_column(String(66))
    log_index: Mapped[int] = mapped_column(Integer)
    block_number: Mapped[int] = mapped_column(BigInteger, index=True)
    block_hash: Mapped[str] = mapped_column(String(66))
    contract: Mapped[str] = mapped_column(String(40))
    event: Mapped[str] = mapped_column(String(60), index=True)
    key: Mapped[str | None] = mapped_column(String(66), index=True, nullable=True)
    args: Mapped[str] = mapped_column(Text)
    final: Mapped[bool] = mapped_column(default=False)


class IndexedBlock(Base):
    """Hashes of blocks the indexer has read, kept for reorg detection."""

    __tablename__ = "indexed_blocks"
    number: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    hash: Mapped[str] = mapped_column(String(66))


class IndexerCheckpoint(Base):
    """The last block fully read for one contract; moves in the same transaction as its events."""

    __tablename__ = "indexer_checkpoints"
    contract: Mapped[str] = mapped_column(String(40), primary_key=True)
    address: Mapped[str] = mapped_column(String(42))
    block_number: Mapped[int] = mapped_column(BigInteger)


class IdempotencyKey(Base):
    """A write made with an Idempotency-Key: the same key and body get the first answer again."""

    __tablename__ = "idempotency_keys"
    actor: Mapped[str] = mapped_column(String(42), primary_key=True)
    key: Mapped[str] = mapped_column(String(128), primary_key=True)
    request_hash: Mapped[str] = mapped_column(String(64))
    status_code: Mapped[int | None] = mapped_column(Integer, nullable=True)
    response: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class CodeIssue(Base):
    """One issue of serialized codes for a batch, its Merkle root anchored on chain; stored before the
    anchor is sent (`anchor_tx`, `block_number` null until mined). `short`: printed as short codes."""

    __tablename__ = "code_issues"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    gtin: Mapped[str] = mapped_column(String(14), index=True)
    lot: Mapped[str] = mapped_column(String(20))
    merchant: Mapped[str] = mapped_column(String(42), index=True)
    count: Mapped[int] = mapped_column(Integer)
    root: Mapped[str] = mapped_column(String(66), unique=True)
    kid: Mapped[str] = mapped_column(String(16))
    public_key: Mapped[str] = mapped_column(String(64))
    anchor_tx: Mapped[str | None] = mapped_column(String(66), nullable=True)
    block_number: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    short: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())


class Code(Base):
    """One issued code; `leaf_index` is its position in the issue's Merkle tree."""

    __tablename__ = "codes"
    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True)
    issue_id: Mapped[int] = mapped_column(ForeignKey("code_issues.id"), index=True)
    gtin: Mapped[str] = mapped_column(String(14))
    lot: Mapped[str] = mapped_column(String(20))
    serial: Mapped[str] = mapped_column(String(20))
    leaf_index: Mapped[int] = mapped_column(Integer)
    uri: Mapped[str] = mapped_column(Text)


class Scan(Base):
    """One resolution of a code by a consumer. The client is kept only as salted hashes of its
    address and of its /24 (or /48) network, enough to tell many places from one."""

    __tablename__ = "scans"
    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True)
    gtin: Mapped[str] = mapped_column(String(14))
    lot: Mapped[str] = mapped_column(String(20))
    serial: Mapped[str] = mapped_column(String(20))
    code_id: Mapped[int | None] = mapped_column(ForeignKey("codes.id"), nullable=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    client: Mapped[str] = mapped_column(String(16))
    network: Mapped[str] = mapped_column(String(16))
    verdict: Mapped[str] = mapped_column(String(20))
    __table_args__ = (Index("ix_scans_code_id", "code_id"),)


class ScanStat(Base):
    """How often and when a code was scanned from one network: what a scan shows of the code's
    history, kept up to date by the scan writer in the transaction that stores the scans. A scan
    reads one row per network, however often the code was scanned (a copied code may be scanned
    thousands of times: reading its scans one by one made exactly those scans the slowest)."""

    __tablename__ = "scan_stats"
    code_id: Mapped[int] = mapped_column(ForeignKey("codes.id"), primary_key=True)
    network: Mapped[str] = mapped_column(String(16), primary_key=True)
    count: Mapped[int] = mapped_column(BigInteger)
    first_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    last_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class EpcisAnchor(Base):
    """Where captured events' hashes are on chain. Kind `merkle`: a Merkle root over them, anchored
    by `Provenance.anchor`. Kind `chain`: one event recorded by its recorder into a batch's hash
    chain (`Provenance.recordEvent`); `root` is then the batch's head after the entry and
    `chain_index` the entry's place in that batch's history."""

    __tablename__ = "epcis_anchors"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    kind: Mapped[str] = mapped_column(String(8), default="merkle", server_default="merkle")
    root: Mapped[str] = mapped_column(String(66), unique=True)
    leaf_count: Mapped[int] = mapped_column(Integer)
    tx_hash: Mapped[str] = mapped_column(String(66))
    block_number: Mapped[int] = mapped_column(BigInteger)
    submitter: Mapped[str] = mapped_column(String(42))
    anchored_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    batch_id: Mapped[str | None] = mapped_column(String(66), nullable=True)
    chain_index: Mapped[int | None] = mapped_column(BigInteger, nullable=True)


class EpcisEvent(Base):
    """One captured EPCIS event, stored once per CBV 2.0 event hash ID, as it came.

    `digest` is the SHA-256 of the hash ID's pre-hash string: the Merkle leaf's event hash.
    `leaf_index` is its place in the anchor's tree (both null while pending)."""

    __tablename__ = "epcis_events"
    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True)
    hash_id: Mapped[str] = mapped_column(String(100), unique=True)
    digest: Mapped[str] = mapped_column(String(66))
    event_type: Mapped[str] = mapped_column(String(24))
    event_time: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    record_time: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    biz_step: Mapped[str | None] = mapped_column(String(200), index=True, nullable=True)
    disposition: Mapped[str | None] = mapped_column(String(200), index=True, nullable=True)
    action: Mapped[str | None] = mapped_column(String(8), nullable=True)
    read_point: Mapped[str | None] = mapped_column(String(200), index=True, nullable=True)
    biz_location: Mapped[str | None] = mapped_column(String(300), index=True, nullable=True)
    #: the eventID the event declared, else its hash ID: what `/epcis/events/{eventID}` finds it by
    event_ref: Mapped[str | None] = mapped_column(String(300), index=True, nullable=True)
    recorder: Mapped[str] = mapped_column(String(42), index=True)
    merchant: Mapped[str | None] = mapped_column(String(42), index=True, nullable=True)
    capture_id: Mapped[str] = mapped_column(String(36), index=True)
    body: Mapped[str] = mapped_column(Text)  # the event JSON as captured
    context: Mapped[str] = mapped_column(Text)  # the document's @context (JSON), for its extensions
    anchor_id: Mapped[int | None] = mapped_column(ForeignKey("epcis_anchors.id"), index=True, nullable=True)
    leaf_index: Mapped[int | None] = mapped_column(Integer, nullable=True)


class EpcisEpc(Base):
    """An identifier an event names (epcList, parentID, childEPCs, inputs, outputs, quantities),
    as its canonical Digital Link URI and, for trade items, GTIN / lot / serial, for queries."""

    __tablename__ = "epcis_epcs"
    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True)
    event_id: Mapped[int] = mapped_column(ForeignKey("epcis_events.id"), index=True)
    uri: Mapped[str] = mapped_column(String(300), index=True)
    gtin: Mapped[str | None] = mapped_column(String(14), nullable=True)
    lot: Mapped[str | None] = mapped_column(String(60), nullable=True)
    serial: Mapped[str | None] = mapped_column(String(60), nullable=True)


#: how long a prepared transaction may be submitted after it was prepared
PREPARED_TTL_S = 600


class PreparedTransaction(Base):
    """A write stopped at its unsigned transaction for the member to sign (`X-Ledger-Sign: self`),
    with the request to run again once the signed transaction is submitted (within PREPARED_TTL_S)."""

    __tablename__ = "prepared_transactions"
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    member: Mapped[str] = mapped_column(String(42), index=True)
    request: Mapped[str] = mapped_column(Text)  # JSON: method, path, query, body
    tx: Mapped[str] = mapped_column(Text)  # JSON: the unsigned transaction
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    submitted_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    #: the hash of the transaction when the member's wallet sent it itself (submitted by hash)
    sent_tx: Mapped[str | None] = mapped_column(String(66), unique=True, index=True, nullable=True)
