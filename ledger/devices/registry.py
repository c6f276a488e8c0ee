"""Registering and revoking devices: on chain first (`DeviceRegistry`, signed by the owner), then
the database row with the device's MQTT identity and its PSK, sealed at rest and returned once.

The chain is the truth: a device revoked there (by its owner or by governance) is refused by the
ingester within `ChainStatus.ttl_s` even if this database was not told."""

from __future__ import annotations

import secrets
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from ledger.access.sealed import seal, unseal
from ledger.chain.deploy import Deployment
from ledger.devices.sm2 import Sm2Key
from ledger.errors import LedgerError
from ledger.store.device_tables import Device

KINDS = ("reader", "logger", "gateway")


def registry(dep: Deployment) -> Any:
    if "DeviceRegistry" not in dep.manifest["contracts"]:
        raise LedgerError("this deployment has no DeviceRegistry: deploy anew (`python -m ledger deploy --fresh`)")
    return dep.contract("DeviceRegistry")


def device_id(dep: Deployment, giai: str) -> str:
    from web3 import Web3

    return "0x" + Web3.keccak(text=giai).hex().removeprefix("0x")


@dataclass
class Issued:
    """What registration hands out once: the device's transport identity and PSK."""

    device: Device
    identity: str
    psk_hex: str
    tx_hash: str


def statement(dep: Deployment, giai: str, owner: str) -> bytes:
    """What a device signs with its SM2 key to show that its registrant holds the key: this chain,
    this registry, the device's GIAI and the member registering it, so a proof serves once only."""
    return (
        f"traceledger device registration v1\nchain {dep.w3.eth.chain_id}\n"
        f"registry {registry(dep).address.lower()}\ngiai {giai}\nowner {owner.lower()}\n"
    ).encode()


def register(
    db: Session, dep: Deployment, sender: Any, giai: str, public_key: bytes, kind: str, proof: bytes
) -> Issued:
    """Register `giai` with `public_key` for `sender`'s member. `proof`: the device key's SM2
    signature of `statement(dep, giai, sender.address)`, made on the device."""
    if kind not in KINDS:
        raise LedgerError(f"kind is one of {', '.join(KINDS)}")
    key = Sm2Key(public_key)  # refuses a point that is not on the SM2 curve
    if not key.verify(proof, statement(dep, giai, sender.address)):
        raise LedgerError(
            "proof: not this key's SM2 signature of the registration statement (GET /v1/devices/statement)"
        )
    did = device_id(dep, giai)
    if db.get(Device, did) is not None:
        raise LedgerError(f"device {giai} is already registered")
    receipt = sender.transact(registry(dep).functions.register(giai, public_key[1:33], public_key[33:]))
    identity = "d" + did[2:26]
    psk_hex = secrets.token_hex(32)
    row = Device(
        device_id=did,
        giai=giai,
        identity=identity,
        owner=sender.address,
        public_key=public_key.hex(),
        psk_sealed=seal(psk_hex.encode()),
        kind=kind,
        registered_at=datetime.now(UTC),
        last_seq=0,
    )
    db.add(row)
    db.commit()
    return Issued(row, identity, psk_hex, "0x" + bytes(receipt["transactionHash"]).hex())


def prefix_holder(dep: Deployment, giai: str) -> str | None:
    """The member holding the GS1 company prefix `giai` begins with, if governance assigned it."""
    holder = registry(dep).functions.prefixHolderOf(giai).call()
    return None if int(holder, 16) == 0 else holder


def revoke(db: Session, dep: Deployment, sender: Any, did: str, reason: str) -> Device:
    row = db.get(Device, did)
    if row is None:
        raise LedgerError(f"no device {did}")
    if row.revoked_at is None:
        on_chain = registry(dep).functions.device(bytes.fromhex(did[2:])).call()
        if on_chain[2] == 0:  # revokedAt
            sender.transact(registry(dep).functions.revoke(bytes.fromhex(did[2:]), reason[:200]))
        row.revoked_at = datetime.now(UTC)
        db.commit()
    return row


def psk_table(db: Session) -> dict[str, str]:
    """identity => PSK (hex) of every device not revoked: what the broker's PSK file holds."""
    rows = db.scalars(select(Device).where(Device.revoked_at.is_(None)))
    return {r.identity: unseal(r.psk_sealed).decode() for r in rows}


class ChainStatus:
    """Whether a device is active on chain (`isActive`), cached for `ttl_s` seconds."""

    def __init__(self, dep: Deployment, ttl_s: float = 5.0):
        self.dep, self.ttl_s = dep, ttl_s
        self._cache: dict[str, tuple[float, bool]] = {}
        self._lock = threading.Lock()

    def active(self, did: str) -> bool:
        now = time.monotonic()
        with self._lock:
            hit = self._cache.get(did)
        if hit and now - hit[0] < self.ttl_s:
            return hit[1]
        value = bool(registry(self.dep).functions.isActive(bytes.fromhex(did[2:])).call())
        with self._lock:
            self._cache[did] = (now, value)
        return value
