"""Tables of the carbon domain (ledger.carbon): emission-factor tables as published and anchored,
footprints (PACT ProductFootprint documents with their inputs and anchor), PACT API clients and
their tokens, the CloudEvents received on `/3/events`, members' partners (whose `/3/events` we answer
requests on) and the requests received from them with their answers' state."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, DateTime, Integer, LargeBinary, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from .base import Base

TS = DateTime(timezone=True)


class CarbonFactorTable(Base):
    __tablename__ = "carbon_factor_tables"
    version: Mapped[str] = mapped_column(String(40), primary_key=True)
    publisher: Mapped[str] = mapped_column(String(42), index=True)
    body: Mapped[str] = mapped_column(Text)
    hash: Mapped[str] = mapped_column(String(66))
    signature: Mapped[str] = mapped_column(String(132))
    root: Mapped[str] = mapped_column(String(66))
    tx_hash: Mapped[str] = mapped_column(String(66))
    block_number: Mapped[int] = mapped_column(BigInteger)
    published_at: Mapped[datetime] = mapped_column(TS)


class CarbonFootprint(Base):
    """One computed footprint. `hash`: SHA-256 of its canonical document without `status` (which
    turns Deprecated when a recomputation supersedes it); `inputs`: JSON list of the event digests
    used; `root`: the Merkle root over [hash, factor table hash, input digests...] anchored on chain."""

    __tablename__ = "carbon_footprints"
    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    gtin: Mapped[str] = mapped_column(String(14), index=True)
    lot: Mapped[str] = mapped_column(String(20))
    product_id: Mapped[str] = mapped_column(String(300), index=True)  # lower case, for the productId filter
    status: Mapped[str] = mapped_column(String(12), index=True)
    valid_from: Mapped[datetime] = mapped_column(TS)
    valid_to: Mapped[datetime] = mapped_column(TS)
    merchant: Mapped[str] = mapped_column(String(42), index=True)
    body: Mapped[str] = mapped_column(Text)
    hash: Mapped[str] = mapped_column(String(66))
    table_version: Mapped[str] = mapped_column(String(40))
    inputs: Mapped[str] = mapped_column(Text)
    root: Mapped[str] = mapped_column(String(66))
    tx_hash: Mapped[str] = mapped_column(String(66))
    block_number: Mapped[int] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(TS, index=True)


class CarbonClient(Base):
    """A PACT API client (OAuth 2 client credentials) acting for a member."""

    __tablename__ = "carbon_clients"
    client_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    secret_hash: Mapped[str] = mapped_column(String(66))
    member: Mapped[str] = mapped_column(String(42), index=True)
    created_at: Mapped[datetime] = mapped_column(TS)


class CarbonToken(Base):
    __tablename__ = "carbon_tokens"
    token_hash: Mapped[str] = mapped_column(String(66), primary_key=True)
    client_id: Mapped[str] = mapped_column(String(64), index=True)
    expires_at: Mapped[datetime] = mapped_column(TS)


class CarbonEvent(Base):
    """A CloudEvent received on `/3/events` (request created / fulfilled / rejected, published)."""

    __tablename__ = "carbon_events"
    __table_args__ = (UniqueConstraint("source", "event_id"),)
    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True)
    event_id: Mapped[str] = mapped_column(String(200))
    source: Mapped[str] = mapped_column(String(300))
    type: Mapped[str] = mapped_column(String(100))
    client_id: Mapped[str] = mapped_column(String(64))
    body: Mapped[str] = mapped_column(Text)
    received_at: Mapped[datetime] = mapped_column(TS)


class CarbonPartner(Base):
    """A member's PACT partner: its host's base URL (a request's CloudEvent `source` must name it) and
    the client credentials agreed with it for its `{base}/auth/token`, the secret sealed at rest
    (`ledger.access.sealed`) and never answered."""

    __tablename__ = "carbon_partners"
    __table_args__ = (UniqueConstraint("member", "base_url"),)
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    member: Mapped[str] = mapped_column(String(42), index=True)
    base_url: Mapped[str] = mapped_column(String(300))
    client_id: Mapped[str] = mapped_column(String(200))
    secret_sealed: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(TS)


class CarbonRequest(Base):
    """A RequestCreatedEvent accepted from a partner, answered by the worker (`ledger.carbon.
    pact_replies`) with a RequestFulfilledEvent or RequestRejectedEvent sent to the partner's
    `/3/events`. `status`: pending (to send, at `retry_at` after a failure), fulfilled, rejected
    (sent), failed (given up); `reply_id`: the answer's CloudEvent id, the same on every try."""

    __tablename__ = "carbon_requests"
    __table_args__ = (UniqueConstraint("source", "event_id"),)
    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True)
    member: Mapped[str] = mapped_column(String(42), index=True)
    partner_id: Mapped[str] = mapped_column(String(32))
    event_id: Mapped[str] = mapped_column(String(200))
    source: Mapped[str] = mapped_column(String(300))
    criteria: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(12), index=True)
    reply_id: Mapped[str] = mapped_column(String(36))
    footprints: Mapped[int] = mapped_column(Integer, default=0)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    retry_at: Mapped[datetime | None] = mapped_column(TS, nullable=True)
    last_error: Mapped[str | None] = mapped_column(String(300), nullable=True)
    received_at: Mapped[datetime] = mapped_column(TS)
    answered_at: Mapped[datetime | None] = mapped_column(TS, nullable=True)
