"""Signed batches of readings: what a device publishes and what the ingester accepts.

A message is JSON `{"v": 1, "id": <PSK identity>, "body"|"box": base64, "sig": hex}`. The body is
canonical JSON `{"giai", "seq", "sentAt", "readings": [...]}`; `sig` is the device's SM2
signature (r||s, GB/T 32918.2 with the default ID) over the body bytes, so the batch's identity is
SM3(body). With `box` the body travels sealed (SM4-GCM under a key derived from the device's PSK
with HKDF-SM3, the identity as associated data) and is signed before sealing.
A reading is `{"t": time, "k": "temp"|"hum"|"rfid"|"nfc", "v": number, "epc": tag, "s": subject}`."""

from __future__ import annotations

import base64
import binascii
import json
import math
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from ledger.devices import gm
from ledger.devices.sm2 import Sm2Key
from ledger.errors import LedgerError

MAX_MESSAGE_BYTES = 512 * 1024
MAX_READINGS = 5000
MAX_SKEW = timedelta(seconds=120)
#: how far below the highest accepted sequence a batch not seen yet may still arrive: QoS 1 resends
#: what was in flight when a connection or the broker went away, after newer batches (a sliding
#: window, as IPsec's and DTLS's anti-replay: each sequence once, nothing older than the window)
REPLAY_WINDOW = 4096
SENSOR_KINDS = {"temp": ("CEL", -80.0, 80.0), "hum": ("A93", 0.0, 100.0)}
TAG_KINDS = {"rfid", "nfc"}


class Refused(LedgerError):
    """A batch the ingester does not take as fact; `reason` is a short stable code."""

    def __init__(self, reason: str, detail: str = ""):
        self.reason = reason
        super().__init__(f"{reason}: {detail}" if detail else reason)


def sm4_key(psk_hex: str, identity: str) -> bytes:
    hkdf = HKDF(hashes.SM3(), 16, salt=None, info=b"traceledger sm4-gcm " + identity.encode())
    return hkdf.derive(bytes.fromhex(psk_hex))


def _iso(t: datetime) -> str:
    return t.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def make(key: Sm2Key, identity: str, giai: str, seq: int, readings: list[dict], *, sent_at=None, psk_hex=None) -> bytes:
    """A device's message (`psk_hex`: seal the body with SM4-GCM)."""
    body = {"giai": giai, "seq": seq, "sentAt": _iso(sent_at or datetime.now(UTC)), "readings": readings}
    raw = json.dumps(body, separators=(",", ":"), sort_keys=True).encode()
    msg: dict = {"v": 1, "id": identity, "sig": key.sign(raw).hex()}
    if psk_hex:
        msg["box"] = base64.b64encode(gm.seal(sm4_key(psk_hex, identity), raw, identity.encode())).decode()
    else:
        msg["body"] = base64.b64encode(raw).decode()
    return json.dumps(msg, separators=(",", ":")).encode()


@dataclass
class Opened:
    identity: str
    body: bytes
    signature: bytes
    sealed: bool

    @property
    def sm3(self) -> str:
        return gm.sm3(self.body).hex()


def open_message(raw: bytes, topic_identity: str, psk_hex=None) -> Opened:
    """Parse a message and unseal its body; signature and contents are checked by `check`."""
    if len(raw) > MAX_MESSAGE_BYTES:
        raise Refused("too-large", f"{len(raw)} bytes")
    try:
        msg = json.loads(raw)
        assert isinstance(msg, dict) and msg.get("v") == 1
        ident, sig = msg.get("id"), msg.get("sig")
    except (ValueError, AssertionError, RecursionError):  # RecursionError: JSON nested thousands deep
        raise Refused("malformed", "not a version 1 message") from None
    if ident != topic_identity:
        raise Refused("wrong-topic", f"message of {ident!r} on the topic of {topic_identity!r}")
    if not isinstance(sig, str) or not sig:
        raise Refused("unsigned")
    try:
        signature = bytes.fromhex(sig)
        if "box" in msg:
            if psk_hex is None:
                raise Refused("sealed-unknown-key")
            box = base64.b64decode(msg["box"], validate=True)
            body = gm.unseal(sm4_key(psk_hex, ident), box, ident.encode())
        else:
            body = base64.b64decode(msg.get("body") or "", validate=True)
    except (ValueError, binascii.Error, TypeError):
        raise Refused("malformed", "bad hex or base64") from None
    except LedgerError as e:
        if isinstance(e, Refused):
            raise
        raise Refused("unsealable", str(e)) from None
    return Opened(ident, body, signature, "box" in msg)


def _time(value) -> datetime:
    t = datetime.fromisoformat(value)
    if t.tzinfo is None:
        raise ValueError("no time zone")
    try:
        return t.astimezone(UTC)
    except OverflowError:  # year 1 east of UTC: no such instant (it was an unrecorded traceback; outside probe)
        raise ValueError("beyond the calendar") from None


#: a sequence number fits the database's signed 64-bit integer (2**70 was an unrecorded traceback)
MAX_SEQ = 2**63 - 1
#: how long before its registration a device's readings are taken (a logger started at packing and
#: registered when it ships); anything older is no fact this device attests ("1900" opened an alarm)
BEFORE_REGISTRATION = timedelta(days=1)


def check(opened: Opened, key: Sm2Key, giai: str, last_seq: int, now: datetime, since: datetime | None = None) -> dict:
    """Verify the signature, then the body: GIAI, sequence (replay: not older than the window below
    the highest accepted; the caller refuses a sequence already accepted), times (not in the future,
    nor more than `BEFORE_REGISTRATION` before `since`, the device's registration), readings."""
    if not key.verify(opened.signature, opened.body):
        raise Refused("bad-signature")
    try:
        body = json.loads(opened.body)
        seq, sent_at, readings = body["seq"], _time(body["sentAt"]), body["readings"]
        assert isinstance(seq, int) and isinstance(readings, list) and seq <= MAX_SEQ
    except (ValueError, KeyError, TypeError, AssertionError):
        raise Refused("malformed", "body fields") from None
    if body.get("giai") != giai:
        raise Refused("wrong-device", "GIAI differs from the registered one")
    if seq <= last_seq - REPLAY_WINDOW or seq < 0:
        raise Refused("replayed", f"sequence {seq} older than the window below {last_seq}")
    if sent_at > now + MAX_SKEW:
        raise Refused("future-dated", f"sent at {_iso(sent_at)}")
    earliest = since - BEFORE_REGISTRATION if since is not None else None
    if earliest is not None and sent_at < earliest:
        raise Refused("past-dated", f"sent at {_iso(sent_at)}, before the device was registered")
    if not readings or len(readings) > MAX_READINGS:
        raise Refused("bad-readings", f"{len(readings)} readings (1 to {MAX_READINGS})")
    out = []
    for r in readings:
        out.append(_reading(r, now, earliest))
    return {"seq": seq, "sentAt": sent_at, "readings": out}


def _reading(r, now: datetime, earliest: datetime | None = None) -> dict:
    try:
        at, kind, subject = _time(r["t"]), r["k"], r.get("s")
        assert subject is None or (isinstance(subject, str) and len(subject) <= 300)
    except (ValueError, KeyError, TypeError, AttributeError, AssertionError):
        raise Refused("bad-readings", "a reading lacks a time, kind or has a bad subject") from None
    if at > now + MAX_SKEW:
        raise Refused("future-dated", f"a reading at {_iso(at)}")
    if earliest is not None and at < earliest:
        raise Refused("past-dated", f"a reading at {_iso(at)}, before the device was registered")
    if kind in SENSOR_KINDS:
        uom, low, high = SENSOR_KINDS[kind]
        v = r.get("v")
        if not isinstance(v, int | float) or isinstance(v, bool) or not math.isfinite(v) or not low <= v <= high:
            raise Refused("out-of-range", f"{kind} {v!r}")
        return {"at": at, "kind": kind, "value": float(v), "uom": uom, "epc": None, "subject": subject}
    if kind in TAG_KINDS:
        epc = r.get("epc")
        if not isinstance(epc, str) or not 0 < len(epc) <= 300:
            raise Refused("bad-readings", "a tag read without an EPC")
        return {"at": at, "kind": kind, "value": None, "uom": None, "epc": epc, "subject": subject}
    raise Refused("bad-readings", f"unknown kind {kind!r}")
