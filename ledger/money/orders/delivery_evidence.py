"""What a carrier's delivery must name: an EPCIS event captured here that shows it (`evidenced`),
and how an event is read for that: its business step (`step`: CBV 2.0 `receiving` or `accepting`
in any of CBV's spellings; CBV has no `delivering` step) and the orders its bizTransactionList names
(`named_orders`: a value that is an order id, or a URI whose last `:`- or `/`-separated part is;
`urn:epcglobal:cbv:bt:<party>:<id>` keeps an id holding a `:`)."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator, Sequence
from datetime import timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session as DbSession

from ledger.clock import as_utc
from ledger.errors import Conflict, Forbidden, InvalidInput, LedgerError
from ledger.store.locks import Locks
from ledger.store.models import EpcisEvent, Order

DELIVERY_STEPS = frozenset({"receiving", "accepting"})
_STEP_PREFIXES = ("urn:epcglobal:cbv:bizstep:", "https://ref.gs1.org/cbv/BizStep-", "cbv:BizStep-", "gs1:BizStep-")


def step(value: Any) -> str:
    v = str(value or "")
    for p in _STEP_PREFIXES:
        if v.startswith(p):
            return v[len(p) :]
    return v


_BT_URN = "urn:epcglobal:cbv:bt:"


def named_orders(event: dict) -> set[str]:
    names: set[str] = set()
    for t in event.get("bizTransactionList") or []:
        v = t.get("bizTransaction") if isinstance(t, dict) else t
        if not isinstance(v, str) or not v:
            continue
        names.update({v, v.rsplit(":", 1)[-1], v.rstrip("/").rsplit("/", 1)[-1]})
        if v.startswith(_BT_URN) and len(parts := v[len(_BT_URN) :].split(":", 1)) == 2:
            names.add(parts[1])  # urn:epcglobal:cbv:bt:<party>:<id>: an order id may hold a `:` itself
    return {n for n in names if 0 < len(n) <= 64}


def hash_id(h: bytes) -> str:
    return "ni:///sha-256;" + h.hex() + "?ver=CBV2.0"


#: how far a delivery event's time may lie before its order's escrow, or after the event was
#: captured here: the carrier's device clock against ours (an event older than that cannot show the
#: delivery of an order not yet placed; one dated later than that after its capture records no
#: delivery that had happened, and could be captured before any order and named for a later one)
CLOCK_SKEW = timedelta(minutes=15)


def dated_ahead(e: EpcisEvent) -> bool:
    """Whether `e` is dated more than `CLOCK_SKEW` after it was captured here."""
    return as_utc(e.event_time) > as_utc(e.record_time) + CLOCK_SKEW


def evidenced(db: DbSession, rows: Sequence[Order], hashes: Sequence[bytes]) -> None:
    """Each order's delivery names an EPCIS event stored here that shows it: a delivery step
    (receiving or accepting), recorded by the order's carrier or merchant (as `waiting` offers
    them), not declared erroneous, not older than the order nor dated after its capture
    (`CLOCK_SKEW` allowed either way), and naming this order if it names orders of ours at all; an
    event naming none backs the orders of one confirmation only, not another order's later
    (`held`). Otherwise a 422 (403 for another member's event, 409 for an event already used),
    before anything is sent: a hash nobody captured would put a delivery on chain that no record
    backs, and open the return window that pays the merchant."""
    for refusal in refusals(db, rows, hashes):
        if refusal is not None:
            raise refusal


def refusals(db: DbSession, rows: Sequence[Order], hashes: Sequence[bytes]) -> list[LedgerError | None]:
    """For each (order, event hash) pair, why the event is no evidence of that order's delivery
    (`evidenced`), or None: a capture confirms the orders its events show and reports the others."""
    ids = {hash_id(h): h for h in hashes}
    found: dict[bytes, EpcisEvent] = {}
    wanted = list(ids)
    for i in range(0, len(wanted), 500):
        found.update(
            {
                ids[e.hash_id]: e
                for e in db.scalars(select(EpcisEvent).where(EpcisEvent.hash_id.in_(wanted[i : i + 500])))
            }
        )
    named: dict[bytes, tuple[dict, set[str]]] = {}
    for h, e in found.items():
        body = json.loads(e.body)
        named[h] = (body, orders_among(db, named_orders(body)))
    used = _used_elsewhere(db, rows, {h: orders for h, (_, orders) in named.items()})
    return [_refusal(o, h, found.get(h), named.get(h), used.get(h)) for o, h in zip(rows, hashes, strict=True)]


def _refusal(
    o: Order, h: bytes, e: EpcisEvent | None, named: tuple[dict, set[str]] | None, used_by: str | None
) -> LedgerError | None:
    if e is None or named is None:
        return InvalidInput(
            f"order {o.order_id}: no EPCIS event with hash ID {h.hex()} is captured here; "
            "capture the delivery event first"
        )
    if step(e.biz_step) not in DELIVERY_STEPS:
        return InvalidInput(
            f"order {o.order_id}: event {h.hex()} is a {step(e.biz_step) or 'no'} step, "
            "not a delivery (receiving or accepting)"
        )
    if e.recorder not in (o.carrier, o.merchant):
        return Forbidden(
            f"order {o.order_id}: event {h.hex()} was recorded by another member, not its carrier or merchant"
        )
    body, orders = named
    if isinstance(body.get("errorDeclaration"), dict):  # (EPCIS 2.0 7.4.1.2)
        return InvalidInput(f"order {o.order_id}: event {h.hex()} was declared erroneous by its recorder")
    if orders and o.order_id not in orders:
        return InvalidInput(f"order {o.order_id}: event {h.hex()} names other orders in its bizTransactionList")
    if as_utc(e.event_time) < as_utc(o.created_at) - CLOCK_SKEW:
        return InvalidInput(
            f"order {o.order_id}: event {h.hex()} happened at {as_utc(e.event_time).isoformat()}, before the "
            f"order was escrowed at {as_utc(o.created_at).isoformat()}; name the event of this order's delivery"
        )
    if dated_ahead(e):
        return InvalidInput(
            f"order {o.order_id}: event {h.hex()} is dated {as_utc(e.event_time).isoformat()}, after it was captured "
            f"at {as_utc(e.record_time).isoformat()}: it records no delivery that had happened"
        )
    if used_by is not None:
        return Conflict(
            f"order {o.order_id}: event {h.hex()} " + ("names no order and " if not orders else "")
            + f"already backs the delivery of order {used_by}"
            + (", which it does not name" if orders else "") + "; capture this delivery's own event"
        )  # fmt: skip
    return None


#: the locks delivery events share, by their hash (as orders share `turns`)
EVENT_TURNS = 64


@contextlib.contextmanager
def held(locks: Locks | None, db: DbSession, hashes: Sequence[bytes]) -> Iterator[None]:
    """Hold the turns of the events `hashes` for the block, the session's earlier reads forgotten:
    a confirmation checks its events (`evidenced`), sends and writes its deliveries in them, so two
    confirmations of different orders naming one event that names no order cannot both find it
    unused and both be sent. Taken before any order's turn (`turns.held`): no two holders wait on
    each other. Without `locks` (a one-off CLI command) nothing is held."""
    with contextlib.ExitStack() as stack:
        if locks is not None:
            names = sorted({int.from_bytes(h[:4], "big") % EVENT_TURNS for h in hashes})
            stack.enter_context(locks.exclusive_all([f"delivery-events/{t}" for t in names]))
        db.commit()  # a new transaction: the deliveries the last holder committed (SQLite reads a snapshot)
        db.expire_all()
        yield


def _used_elsewhere(db: DbSession, rows: Sequence[Order], events: dict[bytes, set[str]]) -> dict[bytes, str]:
    """The events (each with the orders of ours it names) that already back the delivery of an
    order other than `rows` that they do not name, each with one such order: an event naming no
    order backs the orders of the one confirmation that first names it, or one receipt would
    deliver every order a carrier holds; and an event that backed such a delivery backs no other
    order, also one placed since under an id it names (a carrier could name guessed order ids)."""
    here, out = [o.order_id for o in rows], {}
    for h, orders in events.items():
        q = select(Order.order_id).where(
            Order.delivery_event == hash_id(h), Order.order_id.not_in([*here, *sorted(orders)])
        )
        if (other := db.scalars(q.limit(1)).first()) is not None:
            out[h] = other
    return out


def orders_among(db: DbSession, names: set[str]) -> set[str]:
    """The names that are orders here (an event's bizTransactionList may also name a purchase order
    or a despatch advice: those leave the carrier to pick the order, as `waiting` offers it)."""
    listed, out = sorted(names), set()
    for i in range(0, len(listed), 500):
        out.update(db.scalars(select(Order.order_id).where(Order.order_id.in_(listed[i : i + 500]))))
    return out
