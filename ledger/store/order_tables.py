"""The tables behind the platform's orders: the orders, the settlement slots they hold on chain,
and the commission rule for new orders. Re-exported by `models`."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, DateTime, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from .base import Base


class Order(Base):
    """The platform's order, escrowed on chain under `order_key`, a keyed commitment to `order_id`
    opened by `salt` (see `ledger.money.orders.terms`), in settlement slot `slot`. `history` is a
    JSON list of its transitions ({at, status, tx, ...}); `shopper` never leaves this table."""

    __tablename__ = "orders"
    order_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    order_key: Mapped[str] = mapped_column(String(66), unique=True)
    salt: Mapped[str | None] = mapped_column(String(66), nullable=True)
    slot: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    merchant: Mapped[str] = mapped_column(String(42), index=True)
    payer: Mapped[str] = mapped_column(String(42))
    carrier: Mapped[str | None] = mapped_column(String(42), nullable=True)
    shopper: Mapped[str | None] = mapped_column(String(128), nullable=True)
    amount_fen: Mapped[int] = mapped_column(BigInteger)
    refunded_fen: Mapped[int] = mapped_column(BigInteger, default=0)
    referrers: Mapped[str] = mapped_column(Text)  # JSON [[address, bps], ...]
    platform_fee_bps: Mapped[int] = mapped_column(Integer)
    # escrowed | delivered | disputed | settled | refunded
    status: Mapped[str] = mapped_column(String(16), index=True)
    escrow_tx: Mapped[str] = mapped_column(String(66))
    close_tx: Mapped[str | None] = mapped_column(String(66), nullable=True)
    settle_after: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    window_ends_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    delivery_event: Mapped[str | None] = mapped_column(String(128), nullable=True, index=True)
    history: Mapped[str] = mapped_column(Text, default="[]")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class SettlementSlot(Base):
    """A storage slot of `OrderSettlement`: held by the key of the open order in it, or free."""

    __tablename__ = "settlement_slots"
    slot: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    holder: Mapped[str | None] = mapped_column(String(66), nullable=True, unique=True)
    #: the block of the transaction that freed it (settled, refunded): reused once that block is final
    freed_block: Mapped[int | None] = mapped_column(BigInteger, nullable=True)


class CommissionRule(Base):
    """The platform's default split for new orders, kept within the on-chain caps."""

    __tablename__ = "commission_rules"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    platform_fee_bps: Mapped[int] = mapped_column(Integer)
    referral_bps: Mapped[str] = mapped_column(String(64))  # JSON [l1, l2, l3]
    updated_by: Mapped[str] = mapped_column(String(42))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
