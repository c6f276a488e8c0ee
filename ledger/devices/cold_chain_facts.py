"""A batch's cold chain as people read it: its sensor windows (one per signed device batch that
reported the lot's temperature) with min, max and mean, the device (GIAI), the time span, the
product's allowed range and whether the window stayed within it.

A window is an excursion by the same rule as ingestion (`cold_chain.events_for`): readings outside
the range for at least the rule's grace minutes. Read from the stored readings of accepted
batches only, so every window traces back to a batch whose SM2 signature was checked; the SM3 of
that batch is given. Only devices of the product's merchant and of the recorders it authorised
count (`ledger.trace.recorders.authorised`, as for the scan's supply chain): anybody can register
a logger and report a rival's lot, and those readings are kept but not shown as the lot's cold
chain. Bounded: the latest `MAX_WINDOWS` windows of the lot."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ledger.clock import as_utc
from ledger.store.device_tables import Device, DeviceBatch, DeviceReading
from ledger.trace.recorders import authorised

from . import cold_chain

MAX_WINDOWS = 50


def lot_uri(gtin: str, lot: str) -> str:
    """The subject devices report a lot under (as `cold_chain` reads it)."""
    return f"https://id.gs1.org/01/{gtin}/10/{lot}"


def _iso(t: Any) -> str:
    return as_utc(t).isoformat().replace("+00:00", "Z")


def batch_cold_chain(db: Session, gtin: str, lot: str) -> dict[str, Any] | None:
    """{"rule": {min_c, max_c, grace_minutes}, "windows": [...], "excursion": bool} for the lot, or
    None when no device reported its temperature."""
    subject = lot_uri(gtin, lot)
    r = DeviceReading
    q = (
        select(
            r.batch_id,
            func.min(r.at),
            func.max(r.at),
            func.min(r.value),
            func.max(r.value),
            func.avg(r.value),
            func.count(),
            Device.giai,
            DeviceBatch.sm3,
        )
        .join(DeviceBatch, DeviceBatch.id == r.batch_id)
        .join(Device, Device.device_id == r.device_id)
        .where(r.subject == subject, r.kind == "temp", DeviceBatch.status == "accepted")
        .group_by(r.batch_id, Device.giai, DeviceBatch.sm3)
        .order_by(func.max(r.at).desc())
        .limit(MAX_WINDOWS)
    )
    allowed = authorised(db, gtin)
    if allowed is not None:
        q = q.where(Device.owner.in_(allowed))
    rows = db.execute(q).all()
    if not rows:
        return None
    rule = cold_chain.rules_for(db, {subject})[subject]
    windows = []
    for batch_id, start, end, lo, hi, mean, n, giai, sm3 in reversed(rows):
        outside_minutes = 0.0
        excursion = False
        if rule.outside(lo) or rule.outside(hi):
            readings = [
                {"at": at, "value": v}
                for at, v in db.execute(
                    select(r.at, r.value).where(r.batch_id == batch_id, r.subject == subject, r.kind == "temp")
                )
            ]
            outside_minutes = cold_chain.minutes_outside(readings, rule)
            excursion = outside_minutes >= rule.grace_minutes
        windows.append(
            {
                "device": giai,
                "start": _iso(start),
                "end": _iso(end),
                "min_c": round(lo, 2),
                "max_c": round(hi, 2),
                "mean_c": round(mean, 2),
                "readings": n,
                "minutes_outside": round(outside_minutes, 1),
                "within": not excursion,
                "batch_sm3": sm3,
            }
        )
    return {
        "rule": {"min_c": rule.min_c, "max_c": rule.max_c, "grace_minutes": rule.grace_minutes},
        "windows": windows,
        "excursion": any(not w["within"] for w in windows),
    }
