"""Devices end to end through a real Mosquitto (TLS 1.2 PSK), the chain's DeviceRegistry and
SQLite: what is accepted becomes readings and EPCIS events; what is not is refused with a reason."""

import base64
import json
import threading
import time
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from ledger.devices import batches, registry, revocation
from ledger.devices.broker import Broker
from ledger.devices.ingester import Ingester
from ledger.devices.mqtt_client import DeviceConnection, topic
from ledger.devices.sm2 import Sm2Key
from ledger.errors import LedgerError
from ledger.store.db import make_engine, migrate, session_factory
from ledger.store.device_tables import DeviceBatch, DeviceReading
from ledger.store.models import EpcisEvent
from ledger.trace.epcis.anchoring import Anchorer, AnchorPolicy

LOT = "https://id.gs1.org/01/06901234567892/10/L1"


def _signed(key, ident: str, body: dict) -> bytes:
    """A device's message with a body `batches.make` cannot write (a time it cannot convert)."""
    raw = json.dumps(body, separators=(",", ":"), sort_keys=True).encode()
    msg = {"v": 1, "id": ident, "sig": key.sign(raw).hex(), "body": base64.b64encode(raw).decode()}
    return json.dumps(msg).encode()


class Rig:
    def __init__(self, tmp, dep, account, monkeypatch):
        monkeypatch.setenv("LEDGER_KEY_PASSPHRASE", "devices-test")
        monkeypatch.setenv("LEDGER_DATA_DIR", str(tmp / "data"))  # secrets sealed with this passphrase: its own
        engine = make_engine(f"sqlite:///{tmp / 'db.sqlite'}")
        migrate(engine)
        self.sessions, self.dep, self.account = session_factory(engine), dep, account
        self.broker = Broker(tmp / "broker")
        self.devices = {}

    def add(self, giai):
        key = Sm2Key.generate()
        with self.sessions() as db:
            sender = self.dep.sender(self.account)
            proof = key.sign(registry.statement(self.dep, giai, sender.address))
            issued = registry.register(db, self.dep, sender, giai, key.public, "logger", proof)
        self.devices[giai] = (key, issued)
        return key, issued

    def psks(self):
        with self.sessions() as db:
            return registry.psk_table(db)

    def count(self, **where):
        with self.sessions() as db:
            q = select(func.count()).select_from(DeviceBatch)
            for k, v in where.items():
                q = q.where(getattr(DeviceBatch, k) == v)
            return db.scalar(q)

    def wait(self, pred, timeout=60):
        deadline = time.monotonic() + timeout
        while not pred():
            with self.sessions() as db:
                seen = db.execute(select(DeviceBatch.identity, DeviceBatch.status, DeviceBatch.reason)).all()
            assert time.monotonic() < deadline, f"timed out; batches: {seen}"
            time.sleep(0.05)


@pytest.fixture
def rig(tmp_path, deployment, members, monkeypatch):
    dep, _ = deployment
    r = Rig(tmp_path, dep, members["logistics"], monkeypatch)
    yield r
    r.broker.stop()


def _temps(start, values, subject=LOT):
    return [
        {"t": (start + timedelta(minutes=i)).isoformat(), "k": "temp", "v": v, "s": subject}
        for i, v in enumerate(values)
    ]


def test_transport_refuses_wrong_and_revoked_psks_and_foreign_topics(rig):
    key_a, a = rig.add(f"T{time.time_ns() % 10**12}A")
    key_b, b = rig.add(f"T{time.time_ns() % 10**12}B")
    rig.broker.start(rig.psks())
    ing = Ingester(rig.sessions, rig.broker.local_port, rig.broker.ingester_password).start()
    try:
        with pytest.raises(LedgerError, match="refused"):
            DeviceConnection(rig.broker.psk_port, a.identity, "00" * 32, timeout=10)
        with pytest.raises(LedgerError, match="refused"):
            DeviceConnection(rig.broker.psk_port, "dnobody", a.psk_hex, timeout=10)
        conn = DeviceConnection(rig.broker.psk_port, a.identity, a.psk_hex)
        now = datetime.now(UTC)
        msg = batches.make(key_a, a.identity, a.device.giai, 1, _temps(now, [4.0]))
        conn.publish(msg, subtopic=topic(b.identity))  # A on B's topic: the ACL drops it
        conn.publish(batches.make(key_a, a.identity, a.device.giai, 2, _temps(now, [4.0])))
        rig.wait(lambda: rig.count(identity=a.identity) == 1)
        assert rig.count(identity=b.identity) == 0
        assert rig.count(status="accepted") == 1

        conn_b = DeviceConnection(rig.broker.psk_port, b.identity, b.psk_hex)
        drops = []
        kept = conn_b.client.on_disconnect
        conn_b.client.on_disconnect = lambda *args: (drops.append(args), kept(*args))
        # a device cannot take another's connection over: its client id is its identity, whatever it asks
        conn.close()
        intruder = DeviceConnection(rig.broker.psk_port, a.identity, a.psk_hex)
        intruder.client._client_id = b.identity.encode()  # noqa: SLF001 - a device misbehaving
        intruder.client.reconnect()
        time.sleep(1.0)
        assert drops == [] and conn_b.connected and intruder.connected
        intruder.close()
        conn = DeviceConnection(rig.broker.psk_port, a.identity, a.psk_hex)

        with rig.sessions() as db:
            registry.revoke(db, rig.dep, rig.dep.sender(rig.account), a.device.device_id, "lost")
        assert conn.connected
        assert revocation.cut_off(rig.broker.folder, rig.psks(), {a.identity: a.psk_hex})
        deadline = time.monotonic() + 30
        while conn.connected:  # cut off at once, and its own reconnection (paho retries) is refused
            assert time.monotonic() < deadline, "the revoked device is still connected"
            time.sleep(0.05)
        time.sleep(2.0)  # paho's reconnection attempts run meanwhile (every 0.1-2 s)
        assert not conn.connected
        with pytest.raises(LedgerError, match="refused"):
            DeviceConnection(rig.broker.psk_port, a.identity, a.psk_hex, timeout=10)
        assert conn_b.connected  # the other device is untouched
        conn_b.publish(batches.make(key_b, b.identity, b.device.giai, 1, _temps(now, [5.0])))
        rig.wait(lambda: rig.count(identity=b.identity) == 1)
        assert rig.count(identity=a.identity) == 1  # nothing more from the revoked device
        conn.close()
        conn_b.close()
    finally:
        ing.stop()


def test_bad_batches_are_refused_with_reasons_and_good_ones_become_events(rig, members):
    key, d = rig.add(f"T{time.time_ns() % 10**12}C")
    rig.broker.start(rig.psks())
    ing = Ingester(rig.sessions, rig.broker.local_port, rig.broker.ingester_password).start()
    try:
        conn = DeviceConnection(rig.broker.psk_port, d.identity, d.psk_hex)
        now, giai, ident = datetime.now(UTC), d.device.giai, d.identity
        readings = _temps(now - timedelta(minutes=30), [3.0, 4.0, 9.5, 10.0, 6.0]) + [
            {"t": now.isoformat(), "k": "rfid", "epc": "urn:epc:id:sgtin:0614141.107346.2017", "s": None}
        ]
        good = batches.make(key, ident, giai, 1, readings, psk_hex=d.psk_hex)  # sealed with SM4-GCM
        other = Sm2Key.generate()
        sent = [
            good,
            good,  # replayed (same sequence): a duplicate, not a second fact
            batches.make(key, ident, giai, 1, _temps(now, [4.0])),  # replayed sequence, new content
            batches.make(other, ident, giai, 2, _temps(now, [4.0])),  # wrongly signed
            batches.make(key, ident, giai, 3, _temps(now, [4.0]), sent_at=now + timedelta(hours=1)),
            batches.make(key, ident, giai, 4, _temps(now, [200.0])),  # out of range
            b'{"v":1,"id":"' + ident.encode() + b'","body":"e30="}',  # unsigned
            b"not json",
            b"[" * 3000 + b"]" * 3000,  # nested deeper than the decoder recurses: refused, not a dead ingester
            # dated long before the device was registered (a reading "of 1900" opened an alarm), a time
            # beyond the calendar, a sequence beyond 64 bits: each refused and recorded (they were dropped
            # with a traceback, or taken; outside probe)
            batches.make(key, ident, giai, 6, [{"t": "1900-01-01T00:00:00+00:00", "k": "temp", "v": 25.0, "s": LOT}]),
            _signed(key, ident, {"giai": giai, "seq": 7, "sentAt": "0001-01-01T00:00+01:00", "readings": []}),
            batches.make(key, ident, giai, 2**70, _temps(now, [4.0])),
            batches.make(key, ident, giai, 5, _temps(now, [5.0])),
        ]
        for m in sent:
            conn.publish(m)
        rig.wait(lambda: rig.count(status="accepted") == 2 and rig.count(status="refused") == 10)
        with rig.sessions() as db:
            reasons = sorted(
                r.split(":")[0] for r in db.scalars(select(DeviceBatch.reason).where(DeviceBatch.reason.isnot(None)))
            )
            assert reasons == [
                "bad-signature",
                "future-dated",
                "malformed",
                "malformed",
                "malformed",
                "malformed",
                "out-of-range",
                "past-dated",
                "replayed",
                "unsigned",
            ]
            assert db.scalar(select(func.count()).select_from(DeviceReading)) == 7
            events = [
                e for e in db.scalars(select(EpcisEvent).where(EpcisEvent.recorder == members["logistics"].address))
            ]
        bodies = [e.body for e in events]
        alarms = [b for b in bodies if "ALARM_CONDITION" in b]
        assert len(alarms) == 1 and '"maxValue":10.0' in alarms[0] and LOT in alarms[0]
        assert any("urn:epc:id:sgtin:0614141.107346.2017" in b for b in bodies)
        assert ing.stats["duplicate"] == 1
        anchorer = Anchorer(rig.sessions, lambda: rig.dep, lambda: rig.dep.sender(members["platform"]), AnchorPolicy())
        anchorer.anchor_once(force=True)
        with rig.sessions() as db:
            assert all(db.get(EpcisEvent, e.id).anchor_id is not None for e in events)
        conn.close()

        # revoked on chain only (this database not told): the chain's word refuses the next batch
        contract = registry.registry(rig.dep)
        rig.dep.sender(rig.account).transact(contract.functions.revoke(bytes.fromhex(d.device.device_id[2:]), "x"))
        checker = Ingester(rig.sessions, 0, "", chain=registry.ChainStatus(rig.dep, ttl_s=0))
        late = batches.make(key, ident, giai, 6, _temps(now, [5.0]))
        with rig.sessions() as db:
            assert checker.ingest(db, [(topic(ident), late)])[0]["reason"] == "revoked"
    finally:
        ing.stop()


def _flood(rig, conn, key, d, seqs):
    now = datetime.now(UTC)
    infos = [
        conn.publish(batches.make(key, d.identity, d.device.giai, s, _temps(now, [4.0])), wait=False) for s in seqs
    ]
    for info in infos:
        info.wait_for_publish(60)


def _settled(rig, ing, timeout=90):
    """The accepted count once the ingester has nothing in hand and it stopped growing for 3 s."""
    last, since = -1, time.monotonic()
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        n = rig.count(status="accepted")
        if n != last or ing.backlog:
            last, since = n, time.monotonic()
        elif time.monotonic() - since > 3:
            return n
        time.sleep(0.1)
    return last


def test_queue_limits_and_an_ingester_restart_under_load(rig, tmp_path):
    """Mosquitto's default (1,000 queued per offline session) drops the rest silently; ours keeps
    them, and an ingester stopped in the middle of a flood picks up every message when it returns."""
    key, d = rig.add(f"T{time.time_ns() % 10**12}Q")
    n, m = 1100, 600
    rig.broker = Broker(tmp_path / "default-broker", max_queued=1000).start(rig.psks())
    Ingester(rig.sessions, rig.broker.local_port, rig.broker.ingester_password, client_id="q").start().stop()
    conn = DeviceConnection(rig.broker.psk_port, d.identity, d.psk_hex)
    _flood(rig, conn, key, d, range(1, n + 1))  # the ingester is away: its session queues
    conn.close()
    ing = Ingester(rig.sessions, rig.broker.local_port, rig.broker.ingester_password, client_id="q").start()
    dropped = n - _settled(rig, ing)
    ing.stop()
    rig.broker.stop()
    assert dropped == n - 1000, dropped  # 1,000 queued of 1,100, the rest dropped silently

    rig.broker = Broker(tmp_path / "our-broker").start(rig.psks())
    # small transactions, so that the stop below lands in the middle of the flood on a fast machine
    ing = Ingester(rig.sessions, rig.broker.local_port, rig.broker.ingester_password, client_id="r", max_batch=20)
    ing.start()
    base = rig.count(status="accepted")
    conn = DeviceConnection(rig.broker.psk_port, d.identity, d.psk_hex)
    seqs = range(n + 1, n + m + 1)
    flood = threading.Thread(target=_flood, args=(rig, conn, key, d, seqs))
    flood.start()
    rig.wait(lambda: rig.count(status="accepted") - base >= 100)
    ing.stop()  # mid-flood: whatever it received and did not commit stays unacknowledged
    stopped_at = rig.count(status="accepted") - base
    flood.join(120)
    assert rig.count(status="accepted") - base == stopped_at  # nothing recorded while it was away
    ing = Ingester(rig.sessions, rig.broker.local_port, rig.broker.ingester_password, client_id="r").start()
    try:
        rig.wait(lambda: rig.count(status="accepted") - base == m, timeout=120)
        with rig.sessions() as db:
            q = select(func.count(func.distinct(DeviceBatch.seq))).where(DeviceBatch.status == "accepted")
            assert db.scalar(q.where(DeviceBatch.seq > n)) == m  # each once, none lost
        assert rig.count(status="refused") == 0
        assert stopped_at < m
    finally:
        ing.stop()
        conn.close()
