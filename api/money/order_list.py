"""Orders the caller may see (a merchant or carrier its own; auditors and operators all), searched by
order id prefix and status, sorted by order id, time or amount, paged by keyset (each page starts
after the last row of the one before: an index range, never an offset over the whole table), as
JSON or CSV. A page is at most 1,000 orders."""

from __future__ import annotations

import csv
import io
from datetime import datetime
from typing import Literal

from fastapi import APIRouter, Depends, Query, Response
from sqlalchemy import select, tuple_
from sqlalchemy.orm import Session as DbSession

from ledger import csv_cells
from ledger.access.roles import Role
from ledger.store.models import Order

from ..access.auth import READ_ALL, Member, require
from ..core.errors import invalid
from ..core.services import get_db
from .orders import OrderOut, order_out

router = APIRouter(prefix="/v1", tags=["orders"])
#: sort => (column, descending)
SORTS = {
    "order_id": (None, False),
    "newest": (Order.created_at, True),
    "oldest": (Order.created_at, False),
    "amount_high": (Order.amount_fen, True),
    "amount_low": (Order.amount_fen, False),
}
CSV_COLUMNS = ("order_id", "merchant", "payer", "carrier", "amount_fen", "refunded_fen", "platform_fee_bps", "status",
               "created_at", "escrow_tx", "close_tx")  # fmt: skip


@router.get("/orders", response_model=list[OrderOut], summary="Orders the caller may see: searched, sorted, paged")
def list_orders(
    response: Response,
    member: Member = Depends(require(Role.MERCHANT, Role.LOGISTICS, Role.ARBITER, *READ_ALL)),
    db: DbSession = Depends(get_db),
    limit: int = Query(100, ge=1, le=1000),
    after: str = Query("", max_length=200, description="the `next` cursor of the previous page (X-Next-After)"),
    status: str | None = Query(None, pattern=r"^(escrowed|delivered|disputed|settled|refunded)$"),
    q: str = Query("", max_length=64, description="order ids starting with this"),
    sort: Literal["order_id", "newest", "oldest", "amount_high", "amount_low"] = "order_id",
    format: Literal["json", "csv"] = "json",
) -> object:
    column, descending = SORTS[sort]
    query = select(Order)
    if status:
        query = query.where(Order.status == status)
    if q:
        query = query.where(Order.order_id.startswith(q, autoescape=True))
    if not member.has(READ_ALL):  # its own; an arbiter also every disputed order (it rules on them)
        mine = (Order.merchant == member.address) | (Order.carrier == member.address)
        query = query.where(mine | (Order.status == "disputed") if member.has(Role.ARBITER) else mine)
    if column is None:
        query = query.where(Order.order_id > after).order_by(Order.order_id)
    else:
        key = tuple_(column, Order.order_id)
        if after:
            value, _, last_id = after.partition("|")
            try:
                cursor = (_amount(value) if column is Order.amount_fen else datetime.fromisoformat(value), last_id)
            except ValueError:
                raise invalid("after", "not a cursor this listing gave") from None
            query = query.where(key < cursor if descending else key > cursor)
        query = query.order_by(*(c.desc() if descending else c for c in (column, Order.order_id)))
    rows = list(db.scalars(query.limit(limit)))
    nxt = _cursor(rows[-1], column) if len(rows) == limit else ""
    if format == "csv":
        out = io.StringIO()
        w = csv.writer(out)
        w.writerow(CSV_COLUMNS)
        for o in rows:
            d = order_out(o)
            w.writerow(csv_cells.row(d[c] if d[c] is not None else "" for c in CSV_COLUMNS))
        headers = {"Content-Disposition": "attachment; filename=orders.csv", "X-Next-After": nxt}
        return Response(out.getvalue(), media_type="text/csv; charset=utf-8", headers=headers)
    response.headers["X-Next-After"] = nxt
    return [order_out(o) for o in rows]


def _amount(value: str) -> int:
    """An amount cursor: ASCII digits up to the column's largest (a BigInteger). Beyond it, or
    negative below its smallest, SQLite raised an overflow (a 500); `²` passed int()'s guard."""
    if not (value.isascii() and value.isdigit()) or int(value) > 2**63 - 1:
        raise ValueError(value)
    return int(value)


def _cursor(o: Order, column: object) -> str:
    if column is None:
        return o.order_id
    value = o.amount_fen if column is Order.amount_fen else o.created_at.isoformat()
    return f"{value}|{o.order_id}"
