"""The ingester: a persistent MQTT session (QoS 1, clean session off) on the broker's loopback
listener that turns devices' signed batches into stored readings and captured EPCIS events.

A message is acknowledged (PUBACK, paho's manual ack) only after the database transaction that
records it has committed, so an ingester that stops or crashes loses nothing: the broker keeps
the unacknowledged and the queued messages of the session and delivers them again. A message
delivered twice is recognised (same device, sequence and SM3) and not recorded twice. Every
refusal is recorded with its reason (`device_batches.status = refused`).

After the commit it also sends each device a receipt (`devices/<id>/receipts`, QoS 0: the SHA-256
of each payload now final, recorded, a duplicate or refused). The broker's PUBACK only says the
broker holds a batch, and a broker killed (SIGKILL, power loss) loses what arrived since its last
autosave; a device's client keeps every batch until its receipt and sends it again
(`mqtt_client.DeviceConnection(receipts=True)`), and the replay window takes the duplicates."""

from __future__ import annotations

import hashlib
import json
import logging
import queue
import threading
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime

import paho.mqtt.client as mqtt
from sqlalchemy import case, insert, select
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker

from ledger.access.sealed import unseal
from ledger.clock import as_utc
from ledger.devices import batches, cold_chain
from ledger.devices.broker import INGESTER_USER
from ledger.devices.registry import ChainStatus
from ledger.devices.sm2 import Sm2Key
from ledger.store.device_tables import ColdChainAlarm, Device, DeviceBatch, DeviceReading
from ledger.trace.epcis.capture import capture

TOPIC = "devices/+/batches"


def receipt_topic(identity: str) -> str:
    return f"devices/{identity}/receipts"


NUDGE = "ingester/nudge"
log = logging.getLogger(__name__)
#: every column of a device_batches row, so rows insert together (executemany needs equal keys)
_ROW = dict.fromkeys(("device_id", "seq", "reason", "sm3", "signature", "body", "sent_at", "event_ids"))


@dataclass
class Message:
    topic: str
    payload: bytes
    mid: int


class Ingester:
    def __init__(
        self,
        sessions: sessionmaker[Session],
        port: int,
        password: str,
        chain: ChainStatus | None = None,
        client_id: str = "traceledger-ingester",
        max_batch: int = 500,
    ):
        self.sessions, self.port, self.password, self.chain = sessions, port, password, chain
        self.client_id, self.max_batch = client_id, max_batch
        self.stats: Counter[str] = Counter()
        self._inbox: queue.Queue[Message] = queue.Queue()
        self._keys: dict[str, Sm2Key] = {}
        self._psks: dict[str, str] = {}
        self._stop = threading.Event()
        self._worker: threading.Thread | None = None
        self._subscribed = threading.Event()
        self._working = 0
        self.client: mqtt.Client | None = None

    @property
    def backlog(self) -> int:
        """Messages received and not yet recorded."""
        return self._inbox.qsize() + self._working

    def start(self, timeout: float = 15.0) -> Ingester:
        c = mqtt.Client(
            mqtt.CallbackAPIVersion.VERSION2,
            client_id=self.client_id,
            clean_session=False,
            protocol=mqtt.MQTTv311,
            manual_ack=True,
        )
        c.username_pw_set(INGESTER_USER, self.password)
        c.on_connect = lambda cl, u, f, rc, p: cl.subscribe(TOPIC, qos=1) if not rc.is_failure else None
        c.on_subscribe = lambda *a: self._subscribed.set()
        c.on_message = lambda cl, u, m: self._inbox.put(Message(m.topic, m.payload, m.mid))
        c.reconnect_delay_set(0.2, 2)
        self.client = c
        self._stop.clear()
        self._worker = threading.Thread(target=self._run, name="devices-ingester", daemon=True)
        self._worker.start()
        c.connect("127.0.0.1", self.port, keepalive=30)
        c.loop_start()
        if not self._subscribed.wait(timeout):
            self.stop()
            raise TimeoutError("the ingester did not subscribe in time")
        return self

    def stop(self) -> None:
        """Stop at once: what is received but not yet committed stays unacknowledged (redelivered)."""
        self._stop.set()
        if self._worker:
            self._worker.join(30)
        if self.client:
            self.client.disconnect()
            self.client.loop_stop()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                first = self._inbox.get(timeout=0.5)
            except queue.Empty:
                # Mosquitto 2.0.11 may sit on a persistent session's queued messages after a
                # reconnect until the client sends something (seen here: until the next PINGREQ,
                # up to a keep-alive later). An idle ingester therefore says something every
                # half second: a QoS 0 publish the ACL discards.
                self.client.publish(NUDGE, b"", qos=0)
                continue
            msgs = [first]
            while len(msgs) < self.max_batch:
                try:
                    msgs.append(self._inbox.get_nowait())
                except queue.Empty:
                    break
            if self._stop.is_set():
                return  # never acknowledged: the broker delivers them again
            self._working = len(msgs)
            for group in self._write(msgs):
                for m in group:
                    self.client.ack(m.mid, 1)
                self._receipts(group)
            self._working = 0

    def _receipts(self, msgs: list[Message]) -> None:
        """Tell each device which of its batches are final (recorded, duplicate or refused)."""
        done: dict[str, list[str]] = {}
        for m in msgs:
            parts = m.topic.split("/")
            if len(parts) == 3 and parts[2] == "batches":
                done.setdefault(parts[1], []).append(hashlib.sha256(m.payload).hexdigest())
        for ident, digests in done.items():
            self.client.publish(receipt_topic(ident), json.dumps(digests).encode(), qos=0)

    def _write(self, msgs: list[Message]) -> list[list[Message]]:
        """Record `msgs` together; if that fails, one by one, so one bad message cannot hold up the
        rest. The database being down is not the messages' fault: they stay unacknowledged, and
        the broker delivers them again when the ingester reconnects."""
        try:
            with self.sessions() as db:
                self.ingest(db, [(m.topic, m.payload) for m in msgs])
            return [msgs]
        except OperationalError:
            log.exception("devices ingester: database unavailable; %d messages left unacknowledged", len(msgs))
            self._stop.wait(1.0)
            return []
        except Exception:
            if len(msgs) == 1:
                log.exception("devices ingester: a message could not be recorded: %s", msgs[0].topic)
                self.stats["failed"] += 1
                return [msgs]
            return [g for m in msgs for g in self._write([m])]

    def _key(self, dev: Device) -> Sm2Key:
        if dev.device_id not in self._keys:
            self._keys[dev.device_id] = Sm2Key(bytes.fromhex(dev.public_key))
            self._psks[dev.device_id] = unseal(dev.psk_sealed).decode()
        return self._keys[dev.device_id]

    def ingest(self, db: Session, messages: list[tuple[str, bytes]], now: datetime | None = None) -> list[dict]:
        """Check and record `messages` (topic, payload) in one transaction per owner; the outcome
        of each, in order: {"status": accepted|refused|duplicate, "reason", "events"}."""
        now = now or datetime.now(UTC)
        idents = {t.split("/")[1] for t, _ in messages if t.count("/") == 2}
        devices = {d.identity: d for d in db.scalars(select(Device).where(Device.identity.in_(idents)))}
        last = {d.device_id: d.last_seq for d in devices.values()}
        groups: dict[str, list[tuple[dict, dict, list[dict]]]] = {}
        refused, outcomes = [], []
        taken: set[tuple[str, str]] = set()  # (device, SM3) accepted in this call
        seqs: set[tuple[str, int]] = set()  # (device, sequence) accepted in this call
        for topic, payload in messages:
            ident = topic.split("/")[1] if topic.count("/") == 2 else ""
            dev = devices.get(ident)
            row = {**_ROW, "identity": ident[:64], "received_at": now, "readings": 0}
            try:
                if dev is None:
                    raise batches.Refused("unknown-device")
                row["device_id"] = dev.device_id
                if dev.revoked_at is not None or (self.chain and not self.chain.active(dev.device_id)):
                    raise batches.Refused("revoked")
                key = self._key(dev)
                opened = batches.open_message(payload, ident, self._psks[dev.device_id])
                row.update(sm3=opened.sm3, signature=opened.signature.hex()[:128])
                try:
                    body = batches.check(opened, key, dev.giai, last[dev.device_id], now, as_utc(dev.registered_at))
                    if body["seq"] <= last[dev.device_id] and self._seq_taken(db, dev.device_id, body["seq"], seqs):
                        raise batches.Refused("replayed", f"sequence {body['seq']} already accepted")
                except batches.Refused as e:
                    seen = (dev.device_id, opened.sm3) in taken or self._seen(db, dev.device_id, opened.sm3)
                    if e.reason == "replayed" and seen:
                        outcomes.append({"status": "duplicate", "reason": None, "events": []})
                        self.stats["duplicate"] += 1
                        continue
                    raise
            except batches.Refused as e:
                row.update(status="refused", reason=str(e)[:200])
                refused.append(row)
                outcomes.append({"status": "refused", "reason": e.reason, "events": []})
                self.stats[f"refused:{e.reason}"] += 1
                continue
            last[dev.device_id] = max(last[dev.device_id], body["seq"])
            taken.add((dev.device_id, opened.sm3))
            seqs.add((dev.device_id, body["seq"]))
            subjects = {r["subject"] for r in body["readings"] if r["subject"]}
            events = cold_chain.events_for(dev.giai, opened.sm3, body["readings"], cold_chain.rules_for(db, subjects))
            row.update(
                status="accepted", seq=body["seq"], sent_at=body["sentAt"], readings=len(body["readings"]),
                body=opened.body.decode(),
            )  # fmt: skip
            groups.setdefault(dev.owner, []).append((row, body, events))
            out = {"status": "accepted", "reason": None, "events": events}
            outcomes.append(out)
            self.stats["accepted"] += 1
            self.stats["readings"] += len(body["readings"])
        for owner, items in groups.items():
            self._store(db, owner, items, now)
        if refused:
            db.execute(insert(DeviceBatch.__table__), refused)
        db.commit()
        return outcomes

    @staticmethod
    def _seq_taken(db: Session, did: str, seq: int, seqs: set[tuple[str, int]]) -> bool:
        if (did, seq) in seqs:
            return True
        q = select(DeviceBatch.id).where(DeviceBatch.device_id == did, DeviceBatch.seq == seq)
        return db.scalar(q.where(DeviceBatch.status == "accepted").limit(1)) is not None

    @staticmethod
    def _seen(db: Session, did: str, sm3: str) -> bool:
        q = select(DeviceBatch.id).where(DeviceBatch.device_id == did, DeviceBatch.sm3 == sm3)
        return db.scalar(q.where(DeviceBatch.status == "accepted").limit(1)) is not None

    def _store(self, db: Session, owner: str, items: list[tuple[dict, dict, list[dict]]], now: datetime) -> None:
        events = [e for _, _, evs in items for e in evs]

        def rows(db: Session, hash_ids: list[str]) -> None:
            aligned = len(hash_ids) == len(events)
            i = 0
            for row, body, evs in items:
                ids = hash_ids[i : i + len(evs)] if aligned else []
                row["event_ids"] = json.dumps(ids)
                i += len(evs)
                alarms = cold_chain.alarm_rows(evs, ids, row["device_id"], owner, now) if ids else []
                if alarms:
                    db.execute(insert(ColdChainAlarm.__table__), alarms)
                batch_id = db.execute(insert(DeviceBatch.__table__).returning(DeviceBatch.id), [row]).scalar_one()
                db.execute(
                    insert(DeviceReading.__table__),
                    [{**r, "batch_id": batch_id, "device_id": row["device_id"]} for r in body["readings"]],
                )
                newer = case((Device.last_seq < body["seq"], body["seq"]), else_=Device.last_seq)
                db.query(Device).filter(Device.device_id == row["device_id"]).update(
                    {"last_seq": newer, "last_seen_at": now}
                )

        doc = {
            "@context": cold_chain.CONTEXT,
            "type": "EPCISDocument",
            "schemaVersion": "2.0",
            "creationDate": now.isoformat().replace("+00:00", "Z"),
            "epcisBody": {"eventList": events},
        }
        if events:
            capture(db, doc, events, owner, now=now, also=rows)
        else:
            rows(db, [])
