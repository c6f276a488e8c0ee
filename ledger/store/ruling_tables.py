"""Arbiters' co-signatures of rulings on cases and on disputed orders, collected across their
browsers. Re-exported by `models`."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Boolean, DateTime, String
from sqlalchemy.orm import Mapped, mapped_column

from .base import Base


class RulingCoSignature(Base):
    """An arbiter's EIP-712 signature of a ruling on a case, left for the other arbiters to collect:
    the case's ruling page shows them, and whoever submits the ruling sends them with its own."""

    __tablename__ = "ruling_cosignatures"
    case_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    pay_out: Mapped[bool] = mapped_column(Boolean, primary_key=True)
    signer: Mapped[str] = mapped_column(String(42), primary_key=True)
    signature: Mapped[str] = mapped_column(String(132))
    signed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class OrderRulingCoSignature(Base):
    """An arbiter's EIP-712 signature of a ruling on a disputed order (refund so much, settle the
    rest), left for the other arbiters to collect, as for cases."""

    __tablename__ = "order_ruling_cosignatures"
    order_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    refund_fen: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    signer: Mapped[str] = mapped_column(String(42), primary_key=True)
    signature: Mapped[str] = mapped_column(String(132))
    signed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
