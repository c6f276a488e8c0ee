"""Running a SimpleEventQuery page by page: SQL narrows, each candidate is matched as captured,
and a page ends at `perPage` events or when its scanning budget is spent (then it is shorter, and
its token still leads on). Tokens are opaque, tied to the query they came from, and carry how many
events the pages before returned (for `eventCountLimit`).

`orderBy` an extension field (EPCIS 2.0 8.2.7.1: "the fully qualified name of an extension field
whose type is Int, Float, Time, or String") orders what SQL cannot: the matching events are read
(at most `SORT_BUDGET` candidates, else a 413 asking to narrow the query), ordered by the field's
value at the event's top level (numbers, then times, then other strings; events without it last,
as the standard allows them "in any position"), and paged from the last one given."""

from __future__ import annotations

import base64
import hashlib
import json
import math
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session

from ledger.clock import as_utc
from ledger.errors import LedgerError
from ledger.store.models import EpcisEvent
from ledger.trace.epcis.binding import event_match
from ledger.trace.epcis.canonical import namespaces_of
from ledger.trace.epcis.query import visible

from .simple_query import ORDER_FIELDS, Query, QueryParameterError, sql_filter

SCAN_BUDGET = 20_000  # candidate rows one page may examine
SORT_BUDGET = 20_000  # candidate rows read to order by an extension field
COUNT_BUDGET = 200_000  # rows examined to count a result against maxEventCount
CHUNK = 500


class QueryTooLarge(LedgerError):
    """More events match than the query's maxEventCount allows (EPCIS QueryTooLargeException)."""


@dataclass
class Page:
    rows: list[EpcisEvent]
    next_token: str | None


def _fingerprint(q: Query, visible_to: str | None) -> str:
    text = json.dumps([sorted(q.params.items()), visible_to], sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _token(q: Query, visible_to: str | None, row: EpcisEvent, returned: int, value: tuple | None = None) -> str:
    body: dict = {"f": _fingerprint(q, visible_to), "i": row.id, "n": returned}
    if q.order_key is not None:
        body["k"] = None if value is None else list(value)
    elif q.order_by:
        body["k"] = as_utc(getattr(row, _order_attr(q))).isoformat()
    return base64.urlsafe_b64encode(json.dumps(body, separators=(",", ":")).encode()).decode().rstrip("=")


def _read_token(q: Query, visible_to: str | None, token: str) -> dict:
    """The token's position, checked: its fingerprint is no secret (anyone can compute it from the
    query), so every field is a client's value: ids and counts in range, the key a time."""
    try:
        body = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
        ok = isinstance(body, dict) and all(_whole(body.get(f)) for f in ("i", "n"))
        if ok and q.order_key is not None:
            body["k"] = _value_in_token(body["k"])
        elif ok and q.order_by:
            body["k"] = as_utc(datetime.fromisoformat(body["k"]))
    except (ValueError, TypeError, KeyError, OverflowError):
        ok = False
    if not ok or body.get("f") != _fingerprint(q, visible_to):
        raise QueryParameterError("nextPageToken", "not a token this query gave out")
    return body


def _whole(v: object) -> bool:
    return type(v) is int and 0 <= v < 2**63


def _value_in_token(k: object) -> tuple | None:
    """An extension field's value as a token carries it: None, or [kind, value] as `order_value` gives."""
    if k is None:
        return None
    if isinstance(k, list) and len(k) == 2 and k[0] in (0, 1, 2) and type(k[0]) is int:
        kind, v = k
        if (kind < 2 and type(v) in (int, float) and math.isfinite(v)) or (kind == 2 and isinstance(v, str)):
            return (kind, v)
    raise ValueError(k)


def _order_attr(q: Query) -> str:
    return "event_time" if q.order_by == "eventTime" else "record_time"


def _base(q: Query, visible_to: str | None):
    return select(EpcisEvent).where(sql_filter(q), visible(visible_to))


def _ordered(q: Query, stmt, after: dict | None):
    if q.order_by is None or q.order_key is not None:  # (an extension field is ordered by `_sorted`)
        if after:
            stmt = stmt.where(EpcisEvent.id > after["i"])
        return stmt.order_by(EpcisEvent.id)
    col = ORDER_FIELDS[q.order_by]
    if after:
        k, i = after["k"], after["i"]
        if q.descending:
            stmt = stmt.where(or_(col < k, and_(col == k, EpcisEvent.id < i)))
        else:
            stmt = stmt.where(or_(col > k, and_(col == k, EpcisEvent.id > i)))
    return stmt.order_by(col.desc(), EpcisEvent.id.desc()) if q.descending else stmt.order_by(col, EpcisEvent.id)


def candidates(db: Session, q: Query, visible_to: str | None, after: dict | None, budget: int) -> Iterator[EpcisEvent]:
    """Rows the SQL part admits, in the query's order, CHUNK at a time, at most `budget`."""
    seen = 0
    while seen < budget:
        rows = list(db.scalars(_ordered(q, _base(q, visible_to), after).limit(min(CHUNK, budget - seen))))
        if not rows:
            return
        yield from rows
        seen += len(rows)
        last = rows[-1]
        after = {"i": last.id, "k": getattr(last, _order_attr(q)) if q.order_by else None}


def matches(q: Query, row: EpcisEvent) -> bool:
    if not q.expands:
        return True
    prefixes = namespaces_of(json.loads(row.context))
    return q.matches(event_match.expand(json.loads(row.body), prefixes))


def page(db: Session, q: Query, per_page: int, visible_to: str | None, token: str | None = None) -> Page:
    if q.order_key is not None:
        return _sorted_page(db, q, per_page, visible_to, token)
    after = _read_token(q, visible_to, token) if token else None
    returned = after["n"] if after else 0
    if q.max_event_count is not None and after is None:
        _check_size(db, q, visible_to)
    want = per_page
    if q.event_count_limit is not None:
        want = max(0, min(per_page, q.event_count_limit - returned))
    out: list[EpcisEvent] = []
    last = None
    for row in candidates(db, q, visible_to, after, SCAN_BUDGET) if want else ():
        last = row
        if matches(q, row):
            out.append(row)
            if len(out) == want:
                break
    # a full page, or a scanning budget spent first: lead on from the last row examined, if any remain
    limit_reached = q.event_count_limit is not None and returned + len(out) >= q.event_count_limit
    if last is not None and not limit_reached and _remaining(db, q, visible_to, last):
        return Page(out, _token(q, visible_to, last, returned + len(out)))
    return Page(out, None)


def _remaining(db: Session, q: Query, visible_to: str | None, last: EpcisEvent) -> bool:
    """Whether rows the SQL admits remain after `last`."""
    after = {"i": last.id, "k": getattr(last, _order_attr(q)) if q.order_by else None}
    return db.scalar(_ordered(q, _base(q, visible_to), after).limit(1)) is not None


def _check_size(db: Session, q: Query, visible_to: str | None) -> None:
    n = 0
    for row in candidates(db, q, visible_to, None, COUNT_BUDGET):
        if matches(q, row):
            n += 1
            if n > q.max_event_count:  # type: ignore[operator]
                raise QueryTooLarge(f"more than maxEventCount={q.max_event_count} events match")


def order_value(event: dict, key: str) -> tuple | None:
    """The value an extension field gives an event to be ordered by, as (kind, value): numbers (0),
    times (1, as POSIX seconds), other strings (2); None where the event has none (or an object)."""
    v = event.get(key)
    if isinstance(v, dict):
        v = v.get("@value")
    if isinstance(v, bool) or not isinstance(v, int | float | str):
        return None
    if isinstance(v, str) and (t := event_match.when(v)) is not None:
        return (1, t.timestamp())
    n = event_match.number(v)
    return (0, float(n)) if n is not None else (2, v) if isinstance(v, str) else None


def _sorted(db: Session, q: Query, visible_to: str | None) -> list[tuple[tuple | None, EpcisEvent]]:
    found = []
    for examined, row in enumerate(candidates(db, q, visible_to, None, SORT_BUDGET + 1), 1):
        if examined > SORT_BUDGET:
            raise QueryTooLarge(
                f"orderBy={q.order_by} orders at most {SORT_BUDGET} events; narrow the query (e.g. GE_eventTime)"
            )
        event = event_match.expand(json.loads(row.body), namespaces_of(json.loads(row.context)))
        if not q.expands or q.matches(event):
            found.append((order_value(event, q.order_key or ""), row))
    present = sorted((e for e in found if e[0] is not None), key=lambda e: (e[0], e[1].id), reverse=q.descending)
    absent = sorted((e for e in found if e[0] is None), key=lambda e: e[1].id, reverse=q.descending)
    return present + absent


def _given(entry: tuple[tuple | None, EpcisEvent], after: dict, descending: bool) -> bool:
    """Whether `entry` comes at or before the position `after` (the last event a page gave)."""
    (v, row), k = entry, after["k"]
    if (v is None) != (k is None):
        return k is None
    a, b = ((v, row.id), (k, after["i"])) if v is not None else (row.id, after["i"])
    return a >= b if descending else a <= b


def _sorted_page(db: Session, q: Query, per_page: int, visible_to: str | None, token: str | None) -> Page:
    after = _read_token(q, visible_to, token) if token else None
    returned = after["n"] if after else 0
    want = per_page if q.event_count_limit is None else max(0, min(per_page, q.event_count_limit - returned))
    ordered = _sorted(db, q, visible_to)
    if q.max_event_count is not None and after is None and len(ordered) > q.max_event_count:
        raise QueryTooLarge(f"more than maxEventCount={q.max_event_count} events match")
    start = 0
    while after is not None and start < len(ordered) and _given(ordered[start], after, q.descending):
        start += 1
    out = ordered[start : start + want]
    limit_reached = q.event_count_limit is not None and returned + len(out) >= q.event_count_limit
    if not out or limit_reached or start + len(out) >= len(ordered):
        return Page([r for _, r in out], None)
    return Page([r for _, r in out], _token(q, visible_to, out[-1][1], returned + len(out), out[-1][0]))
