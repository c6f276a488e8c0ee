"""`/v1/devices/alarms`: cold-chain alarms (excursions raised by the ingester) as the merchant of
the product, the device's owner, auditors and operators see them, with the orders put on hold
(`ledger.flows.cold_chain_holds`); the product's merchant or an operator closes one (orders
already disputed stay disputed until the arbiters rule). Another member's alarm is a 404."""

from __future__ import annotations

import json
from datetime import datetime

from fastapi import APIRouter, Depends, Path, Query, Request
from pydantic import BaseModel, Field
from sqlalchemy import or_, select
from sqlalchemy.orm import Session as DbSession

from ledger.access.roles import Role
from ledger.clock import as_utc
from ledger.flows.cold_chain_holds import close
from ledger.store.device_tables import ColdChainAlarm, Device
from ledger.store.models import Product
from ledger.trace.recorders import authorised

from ..access.auth import READ_ALL, Member, require
from ..core.errors import ApiError
from ..core.services import get_db

router = APIRouter(prefix="/v1/devices/alarms", tags=["devices"])
WHO = (Role.MERCHANT, Role.PRODUCER, Role.LOGISTICS, Role.INSPECTOR, Role.OPERATOR)


class AlarmOut(BaseModel):
    id: int
    status: str
    device: str
    recorder: str
    subject: str
    gtin: str | None
    lot: str | None
    min_c: float
    max_c: float
    first_at: datetime
    raised_at: datetime
    event_hash_id: str
    batch_sm3: str
    orders_on_hold: list[str]
    problems: list[dict]
    closed_at: datetime | None
    recorder_authorised: bool = Field(description="the device's owner may record about the product (else not acted on)")


def _out(db: DbSession, a: ColdChainAlarm, giai: str) -> dict:
    allowed = authorised(db, a.gtin) if a.gtin else None
    return {
        "recorder_authorised": allowed is not None and a.recorder in allowed,
        "id": a.id, "status": a.status, "device": giai, "recorder": a.recorder, "subject": a.subject,
        "gtin": a.gtin, "lot": a.lot, "min_c": a.min_c, "max_c": a.max_c, "first_at": as_utc(a.first_at),
        "raised_at": as_utc(a.raised_at), "event_hash_id": a.event_hash_id, "batch_sm3": a.batch_sm3,
        "orders_on_hold": json.loads(a.orders), "problems": json.loads(a.problems),
        "closed_at": as_utc(a.closed_at) if a.closed_at else None,
    }  # fmt: skip


def _mine(member: Member):
    own_products = select(Product.gtin).where(Product.merchant == member.address)
    return or_(ColdChainAlarm.gtin.in_(own_products), ColdChainAlarm.recorder == member.address)


@router.get("", response_model=list[AlarmOut], summary="Cold-chain alarms about the caller's products or devices")
def list_alarms(
    status: str | None = Query(None, pattern="^(open|closed)$"),
    member: Member = Depends(require(*WHO, *READ_ALL)),
    db: DbSession = Depends(get_db),
) -> list:
    q = select(ColdChainAlarm, Device.giai).join(Device, Device.device_id == ColdChainAlarm.device_id)
    if not member.has(READ_ALL):
        q = q.where(_mine(member))
    if status:
        q = q.where(ColdChainAlarm.status == status)
    return [_out(db, a, giai) for a, giai in db.execute(q.order_by(ColdChainAlarm.id.desc()).limit(200))]


@router.post("/{alarm_id}/close", response_model=AlarmOut, summary="Close an alarm (the product's merchant)")
def close_alarm(
    request: Request,
    alarm_id: int = Path(ge=1, le=2**62),
    member: Member = Depends(require(Role.MERCHANT, Role.OPERATOR)),
    db: DbSession = Depends(get_db),
) -> dict:
    a = db.get(ColdChainAlarm, alarm_id)
    merchant = (
        a is not None and a.gtin is not None and db.scalar(select(Product.merchant).where(Product.gtin == a.gtin))
    )
    if a is None or not (member.has(Role.OPERATOR) or merchant == member.address):
        raise ApiError(404, "not_found", f"alarm {alarm_id} not found")
    close(db, alarm_id)
    db.commit()
    request.state.audit_detail = f"cold-chain alarm {alarm_id} closed"
    return _out(db, a, db.scalar(select(Device.giai).where(Device.device_id == a.device_id)))
