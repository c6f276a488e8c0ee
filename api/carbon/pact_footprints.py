"""`GET /pact/3/footprints` (ListFootprints) and `GET /pact/3/footprints/{id}` (GetFootprint).

Filters as PACT 3.0 defines them, names matched case-insensitively: `productId`, `companyId`,
`geography`, `classification` (each repeatable: OR within a criterion), `validOn`, `validAfter`,
`validBefore`, `status` (AND across criteria), values matched case-insensitively; `x-...`
parameters are ignored (none are offered), any other name is a 400. `limit` (any positive
integer, at most 1000 answered at once, default 100) and `offset` page the list; a
`Link: <absolute URI>; rel="next"` header says where the rest is."""

from __future__ import annotations

import json
from datetime import datetime
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse
from sqlalchemy.orm import Session as DbSession

from ledger.carbon import pact_filters
from ledger.clock import as_utc
from ledger.store.carbon_tables import CarbonFootprint

from ..core.services import get_db
from .pact_auth import pact_client
from .pact_errors import PactError

router = APIRouter(prefix="/pact/3", tags=["carbon (PACT v3)"])
LISTS = {
    "productid": "productId",
    "companyid": "companyId",
    "geography": "geography",
    "classification": "classification",
}
DATES = {"validon": "validOn", "validafter": "validAfter", "validbefore": "validBefore"}
MAX_LIMIT, MAX_VALUES = 1000, 100


def _date(name: str, value: str) -> datetime:
    try:
        t = datetime.fromisoformat(value.replace("Z", "+00:00").replace(" ", "+"))
    except ValueError:
        raise PactError(400, f"{name}: {value!r} is not an RFC 3339 date-time") from None
    if t.tzinfo is None:
        raise PactError(400, f"{name}: {value!r} has no time zone")
    return as_utc(t)


def _int(name: str, value: str, low: int, high: int) -> int:
    # ASCII digits only: isdigit() takes `²` (int() refuses it) and `３` (int() reads it); 18 at most
    if not (value.isascii() and value.isdigit() and len(value) <= 18) or not low <= int(value) <= high:
        raise PactError(400, f"{name} must be an integer from {low} to {high}")
    return int(value)


def _filters(request: Request) -> tuple[dict[str, set[str]], dict[str, datetime], str | None, int, int]:
    lists: dict[str, set[str]] = {}
    dates: dict[str, datetime] = {}
    status, limit, offset = None, 100, 0
    for raw, value in request.query_params.multi_items():
        name = raw.lower()
        if name in LISTS:
            lists.setdefault(LISTS[name], set()).add(value.strip().lower())
            if len(lists[LISTS[name]]) > MAX_VALUES:
                raise PactError(400, f"at most {MAX_VALUES} values of {LISTS[name]}")
        elif name in DATES:
            dates[DATES[name]] = _date(DATES[name], value)
        elif name == "status":
            status = value.strip().lower()
        elif name == "limit":  # any positive integer; more than MAX_LIMIT gets MAX_LIMIT and a next link
            limit = min(_int("limit", value, 1, 10**18), MAX_LIMIT)
        elif name == "offset":
            offset = _int("offset", value, 0, 10**9)
        elif not name.startswith("x-"):
            raise PactError(400, f"unknown filter {raw!r}")
    return lists, dates, status, limit, offset


@router.get("/footprints", summary="PACT ListFootprints: every footprint, filtered and paged")
def list_footprints(request: Request, _: str = Depends(pact_client), db: DbSession = Depends(get_db)) -> JSONResponse:
    lists, dates, status, limit, offset = _filters(request)
    page, seen, more = [], 0, False
    in_python = {k: v for k, v in lists.items() if k != "productId"}  # productId: one per footprint, in SQL
    window = None if in_python else (offset, limit + 1)
    if window is not None:
        seen = offset
    for row in pact_filters.rows(db, lists, dates, status, window):
        doc = json.loads(row.body)
        if in_python and not pact_filters.matches(doc, in_python):
            continue
        seen += 1
        if seen <= offset:
            continue
        if len(page) == limit:
            more = True
            break
        page.append(doc)
    headers = {}
    if more:
        params = [(k, v) for k, v in request.query_params.multi_items() if k.lower() not in ("limit", "offset")]
        params += [("limit", str(limit)), ("offset", str(offset + limit))]
        headers["Link"] = f'<{_absolute(request, params)}>; rel="next"'
    return JSONResponse({"data": page}, headers=headers)


def _absolute(request: Request, params: list[tuple[str, str]]) -> str:
    base = request.url.replace(query="")
    return f"{base}?{urlencode(params)}"


@router.get("/footprints/{pf_id}", summary="PACT GetFootprint: one footprint by its id")
def get_footprint(pf_id: str, _: str = Depends(pact_client), db: DbSession = Depends(get_db)) -> JSONResponse:
    row = db.get(CarbonFootprint, pf_id[:36]) if len(pf_id) <= 36 else None
    if row is None:
        raise PactError(404, f"Footprint with ID {pf_id[:80]!r} does not exist")
    return JSONResponse({"data": json.loads(row.body)})
