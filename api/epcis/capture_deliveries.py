"""The deliveries a carrier's capture confirms on chain once its events are stored
(`ledger.flows.delivery_capture`): what every capture door calls (`/v1/epcis/capture`, the EPCIS
2.0 binding's `POST /epcis/capture` and `POST /epcis/events`). A gateway holding no key for the
carrier (members sign for themselves) leaves the capture standing and reports its deliveries
failed with what to do, not a 409 for a capture whose events were stored."""

from __future__ import annotations

from fastapi import Request
from sqlalchemy.orm import Session as DbSession

from ledger.chain.client import Sender
from ledger.errors import Conflict
from ledger.flows import delivery_capture

from ..access.auth import Member
from ..access.deps import deployment_of, sender_of
from ..core.errors import ApiError
from ..core.services import services


def confirm_deliveries(request: Request, db: DbSession, member: Member, events: list, hash_ids: list) -> list[dict]:
    """The deliveries a carrier's capture confirms on chain, its events stored (ledger.flows):
    what every capture door calls."""

    def carrier() -> Sender:
        try:
            return sender_of(request, member)
        except ApiError as exc:  # a gateway holding no key for the carrier: the capture stands, its deliveries wait
            raise Conflict(
                f"{exc.detail}: the events are stored; confirm these deliveries with POST /v1/orders/deliveries "
                "signed with your key, or capture with 'X-Ledger-Sign: self'"
            ) from None

    return delivery_capture.confirm_captured_deliveries(
        db, events, hash_ids, member.address, member.roles,
        lambda: deployment_of(request), carrier, services(request).locks,
    )  # fmt: skip
