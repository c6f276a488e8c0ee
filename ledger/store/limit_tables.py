"""Rate-limit counts kept in the database, for API hosts sharing PostgreSQL without Redis."""

from __future__ import annotations

from sqlalchemy import BigInteger, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from .base import Base


class RateCount(Base):
    """Requests of one client (`who`: its address) in one fixed window (`bucket`: the window's
    number since the epoch); rows of windows that ended are removed as new windows begin."""

    __tablename__ = "rate_counts"
    who: Mapped[str] = mapped_column(String(64), primary_key=True)
    bucket: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    n: Mapped[int] = mapped_column(Integer)
