"""Tables of the devices domain (ledger.devices): registered devices with their sealed PSK, every
signed batch received (accepted or refused, with the reason), and the readings of accepted ones.
Imported from here (`models` is full)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, DateTime, Float, ForeignKey, Index, Integer, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from .base import Base

TS = DateTime(timezone=True)
ID = BigInteger().with_variant(Integer, "sqlite")


class Device(Base):
    """A device as registered on chain (`device_id` = keccak256(GIAI)), with its MQTT identity, the
    PSK sealed at rest (`ledger.access.sealed`), and the last accepted sequence number."""

    __tablename__ = "devices"
    device_id: Mapped[str] = mapped_column(String(66), primary_key=True)
    giai: Mapped[str] = mapped_column(String(30), unique=True)
    identity: Mapped[str] = mapped_column(String(64), unique=True)
    owner: Mapped[str] = mapped_column(String(42), index=True)
    public_key: Mapped[str] = mapped_column(String(130))
    psk_sealed: Mapped[bytes] = mapped_column(LargeBinary)
    kind: Mapped[str] = mapped_column(String(20))
    registered_at: Mapped[datetime] = mapped_column(TS)
    revoked_at: Mapped[datetime | None] = mapped_column(TS, nullable=True)
    last_seq: Mapped[int] = mapped_column(BigInteger, default=0)
    last_seen_at: Mapped[datetime | None] = mapped_column(TS, nullable=True)


class DeviceBatch(Base):
    """One message from a device: `status` accepted | refused (`reason` says why); `sm3` is the
    SM3 hash of the signed body, `signature` the device's SM2 r||s over it (hex)."""

    __tablename__ = "device_batches"
    id: Mapped[int] = mapped_column(ID, primary_key=True, autoincrement=True)
    identity: Mapped[str] = mapped_column(String(64))
    device_id: Mapped[str | None] = mapped_column(String(66), nullable=True)
    seq: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    status: Mapped[str] = mapped_column(String(10))
    reason: Mapped[str | None] = mapped_column(String(200), nullable=True)
    sm3: Mapped[str | None] = mapped_column(String(64), nullable=True)
    signature: Mapped[str | None] = mapped_column(String(128), nullable=True)
    body: Mapped[str | None] = mapped_column(Text, nullable=True)
    sent_at: Mapped[datetime | None] = mapped_column(TS, nullable=True)
    received_at: Mapped[datetime] = mapped_column(TS)
    readings: Mapped[int] = mapped_column(Integer, default=0)
    #: the EPCIS events made from it (JSON list of hash IDs)
    event_ids: Mapped[str | None] = mapped_column(Text, nullable=True)

    __table_args__ = (
        Index("ix_device_batches_identity_status", "identity", "status"),
        Index("ix_device_batches_device_seq", "device_id", "seq"),
    )


class DeviceReading(Base):
    """A reading of an accepted batch: a sensor value (`kind` temperature/humidity, `value`, `uom`)
    or a tag read (`kind` rfid/nfc, `epc`), about `subject` (a lot or shipment identifier)."""

    __tablename__ = "device_readings"
    id: Mapped[int] = mapped_column(ID, primary_key=True, autoincrement=True)
    batch_id: Mapped[int] = mapped_column(ID, ForeignKey("device_batches.id"), index=True)
    device_id: Mapped[str] = mapped_column(String(66))
    at: Mapped[datetime] = mapped_column(TS)
    kind: Mapped[str] = mapped_column(String(16))
    value: Mapped[float | None] = mapped_column(Float, nullable=True)
    uom: Mapped[str | None] = mapped_column(String(8), nullable=True)
    epc: Mapped[str | None] = mapped_column(String(300), nullable=True)
    subject: Mapped[str | None] = mapped_column(String(300), nullable=True)

    __table_args__ = (Index("ix_device_readings_device_at", "device_id", "at"),)


class ColdChainRule(Base):
    """A merchant's temperature rule for a product (GTIN-14): allowed range in °C (either bound may
    be open) and how many cumulative minutes outside it a window may have before it is an
    excursion. Products without one get the chilled default (GB 31605: 0-8 °C)."""

    __tablename__ = "cold_chain_rules"
    gtin: Mapped[str] = mapped_column(String(14), primary_key=True)
    min_c: Mapped[float | None] = mapped_column(Float, nullable=True)
    max_c: Mapped[float | None] = mapped_column(Float, nullable=True)
    grace_minutes: Mapped[float] = mapped_column(Float, default=0)
    set_by: Mapped[str] = mapped_column(String(42))
    set_at: Mapped[datetime] = mapped_column(TS)


class ColdChainAlarm(Base):
    """A cold-chain excursion (GB 31605-2020: monitor, record, alarm): raised by the ingester in the
    transaction that captured the `ALARM_CONDITION` event, about a lot (`gtin`, `lot`) or another
    subject. `status` open | closed (the merchant or an operator closes it). While open, each
    delivered order of the lot within its return window is put on hold through the escrow's dispute
    (`ledger.flows.cold_chain_holds`): `orders` lists those disputed (JSON), `problems` what could
    not be done (JSON)."""

    __tablename__ = "cold_chain_alarms"
    id: Mapped[int] = mapped_column(ID, primary_key=True, autoincrement=True)
    device_id: Mapped[str] = mapped_column(String(66), index=True)
    recorder: Mapped[str] = mapped_column(String(42))
    subject: Mapped[str] = mapped_column(String(300))
    gtin: Mapped[str | None] = mapped_column(String(14), index=True, nullable=True)
    lot: Mapped[str | None] = mapped_column(String(60), nullable=True)
    event_hash_id: Mapped[str] = mapped_column(String(100))
    batch_sm3: Mapped[str] = mapped_column(String(64))
    min_c: Mapped[float] = mapped_column(Float)
    max_c: Mapped[float] = mapped_column(Float)
    first_at: Mapped[datetime] = mapped_column(TS)
    raised_at: Mapped[datetime] = mapped_column(TS)
    status: Mapped[str] = mapped_column(String(10), default="open", index=True)
    orders: Mapped[str] = mapped_column(Text, default="[]")
    problems: Mapped[str] = mapped_column(Text, default="[]")
    closed_at: Mapped[datetime | None] = mapped_column(TS, nullable=True)
