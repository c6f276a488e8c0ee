"""Shoppers' reports of a suspected counterfeit, sent from the scan page, kept for the product's
merchant and the regulator (inspectors). Read by `api.scan.reports`."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, DateTime, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from .base import Base


class CounterfeitReport(Base):
    __tablename__ = "counterfeit_reports"
    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True)
    gtin: Mapped[str] = mapped_column(String(14), index=True)
    lot: Mapped[str] = mapped_column(String(20))
    serial: Mapped[str] = mapped_column(String(20), index=True)
    message: Mapped[str] = mapped_column(String(1000))
    contact: Mapped[str] = mapped_column(String(100))
    place: Mapped[str] = mapped_column(String(100))
    lang: Mapped[str] = mapped_column(String(2))
    client: Mapped[str] = mapped_column(String(16))  # a salted hash of the sender's address: spotting floods only
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
