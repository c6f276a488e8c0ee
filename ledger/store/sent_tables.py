"""Transactions that answered for a write. Re-exported by `models`."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import DateTime, String
from sqlalchemy.orm import Mapped, mapped_column

from .base import Base


class SentTransaction(Base):
    """A transaction hash that answered for a write, however it was sent: signed at the gateway
    (`platform`), signed by the member and sent by the API (`raw`), or sent by the member's wallet
    and submitted by its hash (`wallet`). A hash answers for one write, ever."""

    __tablename__ = "sent_transactions"
    tx_hash: Mapped[str] = mapped_column(String(66), primary_key=True)
    sent_by: Mapped[str] = mapped_column(String(8))
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


def keep_sent(sessions: Any, tx_hash: bytes, how: str) -> None:
    """Keep a hash the gateway signed and sent: no wallet submission can claim it for a write later."""
    from sqlalchemy.exc import IntegrityError

    from ledger.clock import utcnow

    with sessions() as db:
        db.add(SentTransaction(tx_hash="0x" + tx_hash.hex(), sent_by=how, at=utcnow()))
        try:
            db.commit()
        except IntegrityError:  # already kept
            db.rollback()
