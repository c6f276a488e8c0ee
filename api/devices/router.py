"""`/v1/devices`: a member registers its own devices (on chain, signed by the member), lists them,
revokes them (the broker then refuses the device and cuts off its connection), and reads what they
reported. Another member's device is a 404, exactly as if it did
not exist; auditors and operators read all. The PSK is in the registration's answer and nowhere
else: the database keeps it sealed, and the broker's PSK file is rewritten and reloaded."""

from __future__ import annotations

import logging
from datetime import datetime

from fastapi import APIRouter, Depends, Path, Query, Request
from pydantic import BaseModel, Field
from sqlalchemy import func, select
from sqlalchemy.orm import Session as DbSession

from ledger.access.roles import Role
from ledger.access.sealed import unseal
from ledger.chain.client import TransactionFailed
from ledger.clock import as_utc
from ledger.devices import registry
from ledger.devices.broker import broker_dir, reload_running
from ledger.devices.revocation import cut_off
from ledger.errors import LedgerError
from ledger.store.device_tables import Device, DeviceBatch, DeviceReading

from ..access.auth import READ_ALL, Member, require, visible
from ..core.errors import ApiError
from ..core.services import get_db, services

router = APIRouter(prefix="/v1/devices", tags=["devices"])
log = logging.getLogger(__name__)
OWNERS = (Role.MERCHANT, Role.PRODUCER, Role.LOGISTICS, Role.INSPECTOR, Role.OPERATOR)
DEVICE_ID = r"^0x[0-9a-f]{64}$"
GIAI = r"^[!%-?A-Z_a-z\"]{1,30}$"


class DeviceIn(BaseModel):
    giai: str = Field(pattern=GIAI, description="GS1 AI 8004, 1-30 characters")
    public_key: str = Field(pattern=r"^04[0-9a-fA-F]{128}$", description="SM2 public key, uncompressed, hex")
    kind: str = Field(pattern=r"^(reader|logger|gateway)$")
    proof: str = Field(
        pattern=r"^[0-9a-fA-F]{128}$",
        description="the device key's SM2 signature (r||s, hex) of GET /v1/devices/statement's bytes: "
        "proof that the registrant holds the key",
    )


class DeviceOut(BaseModel):
    device_id: str
    giai: str
    kind: str
    owner: str
    identity: str
    public_key: str
    registered_at: datetime
    revoked_at: datetime | None
    last_seq: int
    last_seen_at: datetime | None
    refused: int = 0


class Registered(DeviceOut):
    psk: str = Field(description="the device's TLS-PSK key (hex): shown this once, never again")
    tx_hash: str


class RevokeIn(BaseModel):
    reason: str = Field(min_length=1, max_length=200)


def _out(d: Device, refused: int = 0) -> dict:
    return {
        "device_id": d.device_id, "giai": d.giai, "kind": d.kind, "owner": d.owner, "identity": d.identity,
        "public_key": d.public_key, "registered_at": as_utc(d.registered_at),
        "revoked_at": as_utc(d.revoked_at) if d.revoked_at else None, "last_seq": d.last_seq,
        "last_seen_at": as_utc(d.last_seen_at) if d.last_seen_at else None, "refused": refused,
    }  # fmt: skip


def _refused(db: DbSession, identities: list[str]) -> dict[str, int]:
    q = select(DeviceBatch.identity, func.count()).where(DeviceBatch.status == "refused")
    return dict(db.execute(q.where(DeviceBatch.identity.in_(identities)).group_by(DeviceBatch.identity)).all())


def _reload_broker(db: DbSession) -> None:
    reload_running(broker_dir(), registry.psk_table(db))


@router.post("", response_model=Registered, status_code=201, summary="Register a device of the caller's")
def register(
    body: DeviceIn, request: Request, member: Member = Depends(require(*OWNERS)), db: DbSession = Depends(get_db)
) -> dict:
    svc = services(request)
    dep = svc.chain.deployment()
    if db.get(Device, registry.device_id(dep, body.giai)) is not None:
        raise ApiError(409, "conflict", f"device {body.giai} is already registered")
    try:
        key, proof = bytes.fromhex(body.public_key), bytes.fromhex(body.proof)
        issued = registry.register(db, dep, svc.signers.sender_for(member.address), body.giai, key, body.kind, proof)
    except TransactionFailed:
        raise  # the contract's refusal, by its name (PrefixHeldByOther: 403)
    except LedgerError as e:
        raise ApiError(422, "invalid_device", str(e)) from None
    _reload_broker(db)
    request.state.audit_detail = f"device {body.giai} tx {issued.tx_hash}"
    return _out(issued.device) | {"psk": issued.psk_hex, "tx_hash": issued.tx_hash}


@router.get("/statement", summary="What a device signs to be registered by the caller (its proof)")
def registration_statement(
    request: Request,
    giai: str = Query(pattern=GIAI),
    member: Member = Depends(require(*OWNERS)),
) -> dict:
    text = registry.statement(services(request).chain.deployment(), giai, member.address).decode()
    return {"statement": text, "encoding": "utf-8", "signature": "SM2 (GB/T 32918.2, default ID), r||s hex"}


@router.get("", response_model=list[DeviceOut], summary="Devices the caller may see")
def list_devices(member: Member = Depends(require(*OWNERS, *READ_ALL)), db: DbSession = Depends(get_db)) -> list:
    q = select(Device).order_by(Device.registered_at)
    if not member.has(READ_ALL):
        q = q.where(Device.owner == member.address)
    rows = list(db.scalars(q.limit(1000)))
    refused = _refused(db, [d.identity for d in rows])
    return [_out(d, refused.get(d.identity, 0)) for d in rows]


@router.post(
    "/{device_id}/revoke",
    response_model=DeviceOut,
    summary="Revoke a device of the caller's, or one registered under the caller's GS1 company prefix by another",
)
def revoke(
    body: RevokeIn,
    request: Request,
    device_id: str = Path(pattern=DEVICE_ID),
    member: Member = Depends(require(*OWNERS)),
    db: DbSession = Depends(get_db),
) -> dict:
    d = db.get(Device, device_id)
    svc = services(request)
    if d is None or (
        d.owner != member.address and registry.prefix_holder(svc.chain.deployment(), d.giai) != member.address
    ):
        raise ApiError(404, "not_found", f"device {device_id} not found")
    old_key = unseal(d.psk_sealed).decode()
    d = registry.revoke(db, svc.chain.deployment(), svc.signers.sender_for(member.address), device_id, body.reason)
    try:  # refused from now on, and cut off if it is connected
        told = cut_off(broker_dir(), registry.psk_table(db), {d.identity: old_key})
    except LedgerError as e:  # revoked on chain all the same: the ingester refuses its batches
        log.warning("device %s revoked, but the broker did not confirm it: %s", d.giai, e)
        told = False
    request.state.audit_detail = f"device {d.giai} revoked{'' if told else ' (no broker told)'}"
    return _out(d)


@router.get("/{device_id}/readings", summary="A device's latest readings and refused batches")
def readings(
    device_id: str = Path(pattern=DEVICE_ID),
    limit: int = Query(100, ge=1, le=1000),
    member: Member = Depends(require(*OWNERS, *READ_ALL)),
    db: DbSession = Depends(get_db),
) -> dict:
    d = visible(member, db.get(Device, device_id), f"device {device_id}", owners=("owner",))
    rows = db.scalars(
        select(DeviceReading).where(DeviceReading.device_id == device_id).order_by(DeviceReading.id.desc()).limit(limit)
    )
    refusals = db.execute(
        select(DeviceBatch.seq, DeviceBatch.reason, DeviceBatch.received_at)
        .where(DeviceBatch.identity == d.identity, DeviceBatch.status == "refused")
        .order_by(DeviceBatch.id.desc())
        .limit(limit)
    ).all()
    return {
        "device": _out(d, _refused(db, [d.identity]).get(d.identity, 0)),
        "readings": [
            {"at": as_utc(r.at), "kind": r.kind, "value": r.value, "uom": r.uom, "epc": r.epc, "subject": r.subject}
            for r in rows
        ],
        "refused": [{"seq": s, "reason": why, "received_at": as_utc(at)} for s, why, at in refusals],
    }
