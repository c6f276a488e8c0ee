"""Time as the ledger stores it: timezone-aware UTC, used by `ledger` and `api` alike."""

from __future__ import annotations

from datetime import UTC, datetime


def utcnow() -> datetime:
    return datetime.now(UTC)


def as_utc(t: datetime) -> datetime:
    """SQLite hands back naive datetimes; every stored time is UTC."""
    return t if t.tzinfo else t.replace(tzinfo=UTC)


def to_utc(t: datetime) -> datetime:
    """`t` (naive: UTC) as UTC: a bound compared with stored times must be, as SQLite compares their
    digits whatever the zone. A moment before year 1 or after 9999 in UTC is the first or the last."""
    try:
        return as_utc(t).astimezone(UTC)
    except OverflowError:
        return (datetime.min if t.year == 1 else datetime.max).replace(tzinfo=UTC)
