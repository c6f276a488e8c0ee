"""Tables of the EPCIS 2.0 REST binding: capture jobs, named queries, their subscriptions, error
declarations in the order made, and master data (vocabulary elements with attributes and children)
from captured documents. Re-exported by `models`."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Boolean, DateTime, ForeignKeyConstraint, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from .base import Base

TS = DateTime(timezone=True)


class EpcisCaptureJob(Base):
    """One `POST /epcis/capture`: its outcome, its errors (RFC 7807 problems, JSON) and the
    hash IDs of the events it stored or found stored (JSON)."""

    __tablename__ = "epcis_capture_jobs"
    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    member: Mapped[str] = mapped_column(String(42), index=True)
    created_at: Mapped[datetime] = mapped_column(TS)
    finished_at: Mapped[datetime | None] = mapped_column(TS, nullable=True)
    behaviour: Mapped[str] = mapped_column(String(8))  # rollback | proceed
    running: Mapped[bool] = mapped_column(Boolean)
    success: Mapped[bool] = mapped_column(Boolean)
    errors: Mapped[str] = mapped_column(Text)
    events: Mapped[str] = mapped_column(Text)


class EpcisNamedQuery(Base):
    """A named SimpleEventQuery (`POST /epcis/queries`); `query` is its parameters as JSON. Names
    are the owner's own: two members may each have a query of the same name."""

    __tablename__ = "epcis_named_queries"
    owner: Mapped[str] = mapped_column(String(42), primary_key=True)
    name: Mapped[str] = mapped_column(String(100), primary_key=True)
    query: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(TS)


class EpcisSubscription(Base):
    """A webhook subscription to a named query. `cursor` is the last event (row id) delivered:
    deliveries are at least once, in capture order. A subscription failing `failures` times in a
    row waits until `retry_at`; past the limit it is paused (`paused_at`) until its owner resumes it."""

    __tablename__ = "epcis_subscriptions"
    __table_args__ = (
        ForeignKeyConstraint(["query_owner", "query_name"], ["epcis_named_queries.owner", "epcis_named_queries.name"]),
        Index("ix_epcis_subscriptions_query", "query_owner", "query_name"),
    )
    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    query_owner: Mapped[str] = mapped_column(String(42))
    query_name: Mapped[str] = mapped_column(String(100))
    owner: Mapped[str] = mapped_column(String(42))
    dest: Mapped[str] = mapped_column(String(2000))
    secret: Mapped[str] = mapped_column(String(200))
    stream: Mapped[bool] = mapped_column(Boolean)
    schedule: Mapped[str | None] = mapped_column(Text, nullable=True)  # JSON: {second, minute, hour, ...}
    report_if_empty: Mapped[bool] = mapped_column(Boolean)
    initial_record_time: Mapped[datetime] = mapped_column(TS)
    created_at: Mapped[datetime] = mapped_column(TS)
    cursor: Mapped[int] = mapped_column(BigInteger)
    next_run_at: Mapped[datetime | None] = mapped_column(TS, nullable=True)
    failures: Mapped[int] = mapped_column(Integer)
    retry_at: Mapped[datetime | None] = mapped_column(TS, nullable=True)
    paused_at: Mapped[datetime | None] = mapped_column(TS, nullable=True)
    last_error: Mapped[str | None] = mapped_column(Text, nullable=True)
    delivered: Mapped[int] = mapped_column(BigInteger)
    declared_cursor: Mapped[int] = mapped_column(BigInteger, default=0)  # the last declaration (row id) delivered


class EpcisDeclaration(Base):
    """An error declaration (EPCIS 2.0 7.4.1.2) kept on a stored event (`declarations`), in the
    order declared: a subscription delivers the declared event again (`declared_cursor`), as its
    subscribers got the event before it was declared."""

    __tablename__ = "epcis_declarations"
    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True)
    event_id: Mapped[int] = mapped_column(BigInteger, index=True)
    declared_at: Mapped[datetime] = mapped_column(TS)


class EpcisVocabulary(Base):
    """A master data vocabulary element as one member declared it in a captured document's
    `epcisHeader`: its attributes ({attribute id: value}, JSON) and children (URIs, JSON), for
    HASATTR_, EQATTR_ and WD_. Each declarer's declarations are its own row, never another's."""

    __tablename__ = "epcis_master_data"
    declarer: Mapped[str] = mapped_column(String(42), primary_key=True)
    uri: Mapped[str] = mapped_column(String(300), primary_key=True)
    vocab_type: Mapped[str] = mapped_column(String(300))
    attributes: Mapped[str] = mapped_column(Text)
    children: Mapped[str] = mapped_column(Text)
    updated_at: Mapped[datetime] = mapped_column(TS)
