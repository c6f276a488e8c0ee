"""Links of the GS1 Digital Link resolver. Re-exported by `models`."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, DateTime, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from .base import Base


class ResolverLink(Base):
    """A link a merchant registered for its product (GTIN), one batch (lot) or one item (serial):
    its link type (a GS1 Web Vocabulary URI such as https://gs1.org/voc/pip), target, title,
    media type, languages (comma separated), context, and whether it is the default link."""

    __tablename__ = "resolver_links"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    gtin: Mapped[str] = mapped_column(ForeignKey("products.gtin"), index=True)
    lot: Mapped[str | None] = mapped_column(String(20), nullable=True)
    serial: Mapped[str | None] = mapped_column(String(20), nullable=True)
    link_type: Mapped[str] = mapped_column(String(200))
    href: Mapped[str] = mapped_column(String(2000))
    title: Mapped[str] = mapped_column(String(300))
    media_type: Mapped[str | None] = mapped_column(String(100), nullable=True)
    hreflang: Mapped[str | None] = mapped_column(String(200), nullable=True)
    context: Mapped[str | None] = mapped_column(String(100), nullable=True)
    is_default: Mapped[bool] = mapped_column(Boolean)
    merchant: Mapped[str] = mapped_column(String(42))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
