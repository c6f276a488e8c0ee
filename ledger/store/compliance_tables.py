"""Tables of the compliance domain (ledger.compliance): the GB 32100 pilot allow-list, trading
parties by URN with their checked credit codes, and each captured event's completeness against the
trace-record profile. Re-exported by `models`."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Boolean, DateTime, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from .base import Base

TS = DateTime(timezone=True)


class CreditCodePilot(Base):
    """A pilot-region credit code that is legally valid although its final GB 32100 check fails;
    governance adds them."""

    __tablename__ = "compliance_pilot_codes"
    code: Mapped[str] = mapped_column(String(18), primary_key=True)
    note: Mapped[str] = mapped_column(String(300))
    added_by: Mapped[str] = mapped_column(String(42))
    added_at: Mapped[datetime] = mapped_column(TS)


class TradingParty(Base):
    """A party as events name it (a URN in source/destination lists), with its unified social credit
    code (checked: `credit_status` valid | pilot), name, address and contact (GB/T 38156 §5)."""

    __tablename__ = "compliance_parties"
    urn: Mapped[str] = mapped_column(String(300), primary_key=True)
    credit_code: Mapped[str] = mapped_column(String(18), index=True)
    credit_status: Mapped[str] = mapped_column(String(8))
    name: Mapped[str] = mapped_column(String(200))
    address: Mapped[str] = mapped_column(String(300))
    contact: Mapped[str] = mapped_column(String(100))
    #: the member's address when the party is a member of the ledger (its records are signed by it)
    member: Mapped[str | None] = mapped_column(String(42), index=True, nullable=True)
    registered_by: Mapped[str] = mapped_column(String(42))
    updated_at: Mapped[datetime] = mapped_column(TS)


class EventCompleteness(Base):
    """One stored event checked against the trace-record profile `profile`: `missing` and
    `wrong` are JSON lists of {element, ...} (empty when complete)."""

    __tablename__ = "compliance_event_flags"
    event_id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), ForeignKey("epcis_events.id"), primary_key=True
    )
    profile: Mapped[str] = mapped_column(String(20))
    complete: Mapped[bool] = mapped_column(Boolean, index=True)
    missing: Mapped[str] = mapped_column(Text)
    wrong: Mapped[str] = mapped_column(Text)
    required: Mapped[int] = mapped_column(Integer)
    checked_at: Mapped[datetime] = mapped_column(TS)


class EventSignature(Base):
    """The recording member's EIP-191 signature over an event's hash ID (ledger.compliance.signatures):
    `signer` is the address it recovers to, which is the event's recorder."""

    __tablename__ = "compliance_event_signatures"
    event_id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), ForeignKey("epcis_events.id"), primary_key=True
    )
    signer: Mapped[str] = mapped_column(String(42))
    signature: Mapped[str] = mapped_column(String(132))
    signed_at: Mapped[datetime] = mapped_column(TS)
