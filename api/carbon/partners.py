"""A member's PACT partners and the requests they sent (`/v1/carbon/partners`, `/v1/carbon/requests`).

A partner is a data recipient's host system: its base URL (a RequestCreatedEvent's CloudEvent
`source` must be exactly this, else the event is refused) and the client credentials agreed with
it, which we present at its `{base}/auth/token` before sending our answer to its `{base}/3/events`
(`ledger.carbon.pact_replies`). The secret is sealed at rest (`ledger.access.sealed`) and never
answered. The base URL is checked as a webhook's destination is (`webhook_dest.check`: public hosts
only unless LEDGER_WEBHOOK_ALLOW_PRIVATE), and must be HTTPS unless private hosts are allowed."""

from __future__ import annotations

import secrets

from fastapi import APIRouter, Depends, Query, Request, Response
from pydantic import BaseModel, Field
from sqlalchemy import select
from sqlalchemy.orm import Session as DbSession

from ledger.access.sealed import seal
from ledger.clock import utcnow
from ledger.errors import InvalidInput
from ledger.store.carbon_tables import CarbonPartner, CarbonRequest
from ledger.trace.epcis.binding import webhook_dest

from ..access.auth import Member, authenticate
from ..core.errors import ApiError, not_found
from ..core.services import get_db, services

router = APIRouter(prefix="/v1/carbon", tags=["carbon"])
STATUSES = ("pending", "fulfilled", "rejected", "failed")


class PartnerIn(BaseModel):
    base_url: str = Field(max_length=300, description="the partner's PACT base: its `/auth/token` and `/3/events` "
                          "are under it; its requests' CloudEvent `source` must be exactly this")  # fmt: skip
    client_id: str = Field(min_length=1, max_length=200, description="our client id at the partner's token endpoint")
    client_secret: str = Field(min_length=1, max_length=500, description="our secret there (kept sealed, never shown)")


def _partner(p: CarbonPartner) -> dict:
    return {"id": p.id, "base_url": p.base_url, "client_id": p.client_id, "created": p.created_at.isoformat()}


def base_of(url: str) -> str:
    return url.strip().rstrip("/")


@router.post("/partners", status_code=201, summary="Register a PACT partner whose requests you answer")
def add_partner(
    request: Request, body: PartnerIn, member: Member = Depends(authenticate), db: DbSession = Depends(get_db)
) -> dict:
    allow_private = services(request).settings.webhook_allow_private
    base = base_of(body.base_url)
    try:
        url = webhook_dest.parse(base)
        if url.query is not None or url.fragment is not None:
            raise InvalidInput("base_url: no query or fragment")
        if url.scheme != "https" and not allow_private:
            raise InvalidInput("base_url: PACT host systems are served over HTTPS only")
        webhook_dest.check(base, allow_private)
    except InvalidInput as exc:
        raise ApiError(422, "invalid_input", str(exc).replace("dest:", "base_url:")) from None
    if any(ord(c) < 32 or ord(c) > 126 for c in body.client_id + body.client_secret):
        raise ApiError(422, "invalid_input", "client_id and client_secret are printable ASCII")
    mine = CarbonPartner.member == member.address
    if db.scalar(select(CarbonPartner.id).where(mine, CarbonPartner.base_url == base)) is not None:
        raise ApiError(409, "conflict", f"a partner at {base} is registered already: remove it first")
    row = CarbonPartner(id="pp_" + secrets.token_hex(12), member=member.address, base_url=base,
                        client_id=body.client_id, secret_sealed=seal(body.client_secret.encode()),
                        created_at=utcnow())  # fmt: skip
    db.add(row)
    db.commit()
    return _partner(row)


@router.get("/partners", summary="Your PACT partners (their secrets are never shown)")
def list_partners(member: Member = Depends(authenticate), db: DbSession = Depends(get_db)) -> list[dict]:
    q = select(CarbonPartner).where(CarbonPartner.member == member.address).order_by(CarbonPartner.created_at)
    return [_partner(p) for p in db.scalars(q.limit(1000))]


@router.delete("/partners/{partner_id}", status_code=204, summary="Remove a partner (its pending answers fail)")
def remove_partner(
    partner_id: str, member: Member = Depends(authenticate), db: DbSession = Depends(get_db)
) -> Response:
    row = db.get(CarbonPartner, partner_id[:32])
    if row is None or row.member != member.address:
        raise not_found(f"partner {partner_id[:32]}")
    db.delete(row)
    db.commit()
    return Response(status_code=204)


@router.get("/requests", summary="PACT requests your partners sent, newest first, and where their answers are")
def list_requests(
    status: str | None = Query(None, max_length=12, description=" | ".join(STATUSES)),
    member: Member = Depends(authenticate),
    db: DbSession = Depends(get_db),
) -> list[dict]:
    q = select(CarbonRequest).where(CarbonRequest.member == member.address)
    if status is not None:
        if status not in STATUSES:
            raise ApiError(422, "invalid_input", f"status is one of {', '.join(STATUSES)}")
        q = q.where(CarbonRequest.status == status)
    rows = db.scalars(q.order_by(CarbonRequest.received_at.desc(), CarbonRequest.id.desc()).limit(200))
    return [
        {
            "eventId": r.event_id,
            "source": r.source,
            "status": r.status,
            "footprints": r.footprints,
            "attempts": r.attempts,
            "retryAt": r.retry_at.isoformat() if r.retry_at else None,
            "lastError": r.last_error,
            "received": r.received_at.isoformat(),
            "answered": r.answered_at.isoformat() if r.answered_at else None,
            "replyId": r.reply_id,
        }
        for r in rows
    ]
