"""Time as the ledger stores it: timezone-aware UTC, used by `ledger` and `api` alike."""

from __future__ import annotations

from datetime import UTC, datetime


def utcnow() -> datetime:
    return datetime.now(UTC)


def as_utc(t: datetime) -> datetime:
    """SQLite hands back naive datetimes; every stored time is UTC."""
    return t if t.tzinfo else t.replace(tzinfo=UTC)
