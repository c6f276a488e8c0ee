"""Which footprints PACT's criteria select, for ListFootprints' query parameters and a
RequestCreatedEvent's `data` alike (PACT 3.0: "the same set of criteria"): `productId`,
`companyId`, `geography`, `classification` (OR within a criterion, values case-insensitive),
`validOn`, `validAfter`, `validBefore`, `status` (AND across criteria)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ledger.clock import as_utc
from ledger.store.carbon_tables import CarbonFootprint

LISTS = ("productId", "companyId", "geography", "classification")
DATES = ("validOn", "validAfter", "validBefore")


def _geo(pcf: dict) -> set[str]:
    keys = ("geographyRegionOrSubregion", "geographyCountry", "geographyCountrySubdivision")
    return {str(pcf[k]).lower() for k in keys if k in pcf}


def matches(doc: dict, lists: dict[str, set[str]]) -> bool:
    """Whether a document matches every list criterion (values lower case) by one value at least."""
    have = {
        "companyId": {c.lower() for c in doc.get("companyIds", [])},
        "classification": {c.lower() for c in doc.get("productClassifications", [])},
        "geography": _geo(doc.get("pcf", {})),
        "productId": {p.lower() for p in doc.get("productIds", [])},
    }
    return all(have[name] & wanted for name, wanted in lists.items())


def rows(
    db: Session,
    lists: dict[str, set[str]],
    dates: dict[str, datetime],
    status: str | None,
    window: tuple[int, int] | None = None,
    merchant: str | None = None,
) -> Iterator[CarbonFootprint]:
    """Footprints, newest first, matching what SQL checks (status, productId, the dates, and the
    merchant when given); the other lists are for `matches`. `window`: offset and limit, when SQL
    checks every criterion."""
    q = select(CarbonFootprint).order_by(CarbonFootprint.created_at.desc(), CarbonFootprint.id)
    if merchant is not None:
        q = q.where(func.lower(CarbonFootprint.merchant) == merchant.lower())
    if status is not None:
        q = q.where(func.lower(CarbonFootprint.status) == status)
    if "productId" in lists:
        q = q.where(CarbonFootprint.product_id.in_(sorted(lists["productId"])))
    if "validOn" in dates:
        q = q.where(CarbonFootprint.valid_from <= dates["validOn"], CarbonFootprint.valid_to >= dates["validOn"])
    if "validAfter" in dates:
        q = q.where(CarbonFootprint.valid_from > dates["validAfter"])
    if "validBefore" in dates:
        q = q.where(CarbonFootprint.valid_to < dates["validBefore"])
    if window is not None:  # every criterion in SQL: the database pages
        q = q.offset(window[0]).limit(window[1])
    return db.execute(q.execution_options(yield_per=500)).scalars()


def of_request(data: dict) -> tuple[dict[str, set[str]], dict[str, datetime], str | None]:
    """A RequestCreatedEvent's criteria (already checked by the API: lists of strings, RFC 3339
    date-times, a status string) as `rows` and `matches` take them."""
    lists = {name: {v.strip().lower() for v in data[name]} for name in LISTS if name in data}
    dates = {name: as_utc(datetime.fromisoformat(data[name].upper().replace("Z", "+00:00"))) for name in DATES
             if name in data}  # fmt: skip
    status = data["status"].strip().lower() if isinstance(data.get("status"), str) else None
    return lists, dates, status


def requested(db: Session, data: dict, merchant: str, limit: int) -> list[dict]:
    """The documents of `merchant`'s footprints a request's criteria select, newest first, at most `limit`."""
    lists, dates, status = of_request(data)
    in_python = {k: v for k, v in lists.items() if k != "productId"}
    found = []
    for row in rows(db, lists, dates, status, merchant=merchant):
        doc = json.loads(row.body)
        if matches(doc, in_python):
            found.append(doc)
            if len(found) == limit:
                break
    return found
