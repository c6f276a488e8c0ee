"""A carrier's capture confirms deliveries: after the events of an EPCIS capture are stored, each
delivery event (ledger.money.orders.deliveries: bizStep receiving or accepting, naming an open order of
the capturing carrier in its bizTransactionList) confirms that order's delivery on chain, signed
by the carrier. Every capture door calls this once its events are stored: `/v1/epcis/capture` and
the EPCIS 2.0 binding's `POST /epcis/capture` and `POST /epcis/events`.

The events stay stored whatever the chain answers; a confirmation that fails is reported as
failed, and capturing the same events again retries it. An event that is no evidence of its order's
delivery (`delivery_evidence`: e.g. a copy of an event another member stored first, or one older
than the order) is passed over for another of the capture's events naming its order, if one shows
it; an order none shows is reported as failed with its first event's reason, and the capture's
other orders are confirmed."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from sqlalchemy.orm import Session

from ledger.access.roles import Role
from ledger.chain.client import Sender, TransactionFailed
from ledger.chain.deploy import Deployment
from ledger.errors import LedgerError
from ledger.money.orders import deliveries
from ledger.money.orders.delivery_evidence import refusals
from ledger.money.orders.lifecycle import load_rows
from ledger.store.locks import Locks


def confirm_captured_deliveries(
    db: Session,
    events: Sequence[dict],
    hash_ids: Sequence[str],
    carrier: str,
    roles: int,
    deployment: Callable[[], Deployment],
    sender: Callable[[], Sender],
    locks: Locks | None = None,
) -> list[dict]:
    """For a capture by `carrier` (holding `roles` on chain) of `events` (stored, with their
    `hash_ids`): [{"order_id", "hashId", "status": delivered|failed, "detail"?}], one transaction
    for all the orders it confirms; [] when it confirms none (not a carrier, no delivery event)."""
    if not roles & Role.LOGISTICS:
        return []
    candidates = deliveries.delivered_orders(db, events, hash_ids, carrier)
    if not candidates:
        return []
    try:
        rows = {o.order_id: o for o in load_rows(db, list(dict.fromkeys(o for o, _ in candidates)))}
        found = refusals(db, [rows[o] for o, _ in candidates], [deliveries.event_bytes(h) for _, h in candidates])
    except LedgerError as exc:
        found = [exc] * len(candidates)
    best: dict[str, tuple[str, LedgerError | None]] = {}
    for (o, h), refusal in zip(candidates, found, strict=True):
        if o not in best or (best[o][1] is not None and refusal is None):
            best[o] = (h, refusal)  # the first of its events that shows it, else the first one's refusal
    pairs = [(o, h) for o, (h, _) in best.items()]
    why: dict[tuple[str, str], Exception | None] = {(o, h): refusal for o, (h, refusal) in best.items()}
    shown = [p for p in pairs if why[p] is None]
    if shown:
        try:
            deliveries.confirm_deliveries(db, deployment(), sender(), shown, locks)
            db.commit()
        except (LedgerError, TransactionFailed) as exc:
            db.rollback()
            why |= dict.fromkeys(shown, exc)
    return [
        {"order_id": o, "hashId": h, "status": "delivered"}
        if why[o, h] is None
        else {"order_id": o, "hashId": h, "status": "failed", "detail": str(why[o, h])}
        for o, h in pairs
    ]
