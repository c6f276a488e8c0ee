"""How the merchant's codes are scanned: `GET /v1/scans/stats?days=30` (merchants: their own
products; auditors and operators: all, or one merchant's with `merchant=`), per day: scans,
distinct codes, distinct /24 networks (kept only as keyed hashes), and scans by verdict; and the
codes scanned as suspicious most often."""

from __future__ import annotations

from datetime import timedelta

from fastapi import APIRouter, Depends, Query
from sqlalchemy import case, func, select
from sqlalchemy.orm import Session as DbSession

from ledger.access.roles import Role
from ledger.clock import utcnow
from ledger.store.models import Product, Scan

from ..access.auth import READ_ALL, Member, require
from ..core.services import get_db

router = APIRouter(prefix="/v1/scans", tags=["codes"])


@router.get("/stats", summary="Scans of the caller's codes per day: scans, codes, networks, verdicts")
def scan_stats(
    days: int = Query(30, ge=1, le=366),
    merchant: str | None = Query(None, pattern=r"^0x[0-9a-fA-F]{40}$", description="auditors, operators: one merchant"),
    member: Member = Depends(require(Role.MERCHANT, *READ_ALL)),
    db: DbSession = Depends(get_db),
) -> dict:
    whose = member.address if not member.has(READ_ALL) else merchant
    since = utcnow() - timedelta(days=days)
    scans = select(Scan).where(Scan.at >= since)
    if whose is not None:
        scans = scans.where(Scan.gtin.in_(select(Product.gtin).where(Product.merchant == whose)))
    s = scans.subquery()
    day = func.date(s.c.at)  # SQLite and PostgreSQL alike

    def count_of(verdict: str):
        return func.sum(case((s.c.verdict == verdict, 1), else_=0))

    rows = db.execute(
        select(
            day, func.count(), func.count(func.distinct(s.c.code_id)), func.count(func.distinct(s.c.network)),
            count_of("suspicious"), count_of("forged"),
        )
        .group_by(day)
        .order_by(day)
    ).all()  # fmt: skip
    suspicious = db.execute(
        select(s.c.gtin, s.c.lot, s.c.serial, func.count().label("n"), func.count(func.distinct(s.c.network)))
        .where(s.c.verdict == "suspicious")
        .group_by(s.c.gtin, s.c.lot, s.c.serial)
        .order_by(func.count().desc())
        .limit(20)
    ).all()
    return {
        "days": days,
        "per_day": [
            {"day": str(d), "scans": n, "codes": c, "networks": k, "suspicious": int(sus or 0), "forged": int(f or 0)}
            for d, n, c, k, sus, f in rows
        ],
        "suspicious_codes": [
            {"gtin": g, "lot": lot, "serial": ser, "scans": n, "networks": k} for g, lot, ser, n, k in suspicious
        ],
    }
