"""Restarts under load: three devices publish signed batches at QoS 1 over TLS-PSK without pause
while the ingester is stopped and started again; then, the ingester away again, the broker
(persistence on) is stopped with SIGTERM and started again before the ingester returns. Afterwards
every batch is a fact exactly once: none lost, none twice (redeliveries are recognised as
duplicates), no refusal. The backlogs the broker held for the ingester's session are measured
against `max_queued_messages`. (With `persistence false` the second part loses the backlog: seen.)"""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select

from ledger.devices import batches
from ledger.devices.broker import DEFAULT_MAX_QUEUED
from ledger.devices.ingester import Ingester
from ledger.devices.mqtt_client import DeviceConnection, topic
from ledger.store.device_tables import DeviceBatch, DeviceReading
from ledger.store.models import EpcisEvent

from .test_devices_ingest import rig  # noqa: F401  the broker, registry and database of the device tests

DEVICES, BATCHES, READINGS = 3, 300, 5
PACE_S = 0.02  # between one device's batches: ~50 batches/s per device, for ~6 s, through both restarts


def _ingester(rig):  # noqa: F811
    return Ingester(
        rig.sessions, rig.broker.local_port, rig.broker.ingester_password, client_id="restarts", max_batch=20
    )


def test_ingester_then_broker_restarts_under_qos1_load_lose_and_repeat_nothing(rig):  # noqa: F811
    lot = "https://id.gs1.org/01/06901234567892/10/R1"
    devices = [rig.add(f"R{time.time_ns() % 10**12}{i}") for i in range(DEVICES)]
    t0 = datetime.now(UTC) - timedelta(hours=1)  # readings a second apart, all in the past
    signed = {  # signed before the clock starts
        d.identity: [
            batches.make(
                key,
                d.identity,
                d.device.giai,
                s,
                [
                    {"t": (t0 + timedelta(seconds=s * READINGS + j)).isoformat(), "k": "temp", "v": 4.0, "s": lot}
                    for j in range(READINGS)
                ],
            )  # fmt: skip
            for s in range(1, BATCHES + 1)
        ]
        for key, d in devices
    }
    rig.broker.start(rig.psks())
    ing = _ingester(rig).start()
    conns = [DeviceConnection(rig.broker.psk_port, d.identity, d.psk_hex) for _, d in devices]
    infos: list = []  # every publish
    acked: set = set()  # (device, mid) the broker acknowledged (PUBACK)
    for c in conns:
        c.client.on_publish = lambda cl, u, mid, rc, p, ident=c.identity: acked.add((ident, mid))

    def publish(conn):
        for payload in signed[conn.identity]:
            # straight to paho: while the broker is away it keeps QoS 1 messages and sends them
            # (again, if unacknowledged) once reconnected
            infos.append(conn.client.publish(topic(conn.identity), payload, qos=1))
            time.sleep(PACE_S)

    threads = [threading.Thread(target=publish, args=(c,)) for c in conns]
    started = time.monotonic()
    for t in threads:
        t.start()
    try:
        rig.wait(lambda: len(infos) >= 150 and rig.count(status="accepted") > 0)
        ing.stop()  # the ingester away: the broker queues for its persistent session
        recorded_at_stop = rig.count(status="accepted")
        time.sleep(1.5)
        acked_by_broker = len(acked)
        backlog = acked_by_broker - recorded_at_stop  # accepted by the broker, not yet recorded
        ing = _ingester(rig).start()
        time.sleep(0.5)
        # the broker restarted while it holds a backlog for the ingester, which is away meanwhile
        # (else the backlog would be in the ingester's hands already, max_inflight_messages 0)
        ing.stop()
        time.sleep(0.7)
        sent_before_broker_stop = len(infos)
        queued_at_broker_stop = len(acked) - rig.count(status="accepted")
        rig.broker.stop()  # SIGTERM, devices still publishing: Mosquitto writes its persistent store
        time.sleep(1.0)
        rig.broker.start(rig.psks())  # same folder, store and ports
        restarted_at = time.monotonic() - started
        ing = _ingester(rig).start()
        for t in threads:
            t.join(120)
        deadline = time.monotonic() + 120
        while len(acked) < DEVICES * BATCHES:
            assert time.monotonic() < deadline, f"{DEVICES * BATCHES - len(acked)} batches never acknowledged"
            time.sleep(0.1)
        rig.wait(lambda: rig.count(status="accepted") >= DEVICES * BATCHES, timeout=120)
        time.sleep(1.0)  # anything delivered twice arrives now, and must not count
        with rig.sessions() as db:
            per_device = db.execute(
                select(DeviceBatch.identity, func.count(), func.count(func.distinct(DeviceBatch.seq)))
                .where(DeviceBatch.status == "accepted")
                .group_by(DeviceBatch.identity)
            ).all()
            readings = db.scalar(select(func.count()).select_from(DeviceReading))
            events = db.scalar(select(func.count()).select_from(EpcisEvent).where(EpcisEvent.body.contains(lot)))
        assert sorted(n for _, n, _ in per_device) == [BATCHES] * DEVICES, per_device  # none lost, none twice
        assert all(n == distinct for _, n, distinct in per_device), per_device
        assert readings == DEVICES * BATCHES * READINGS and events == DEVICES * BATCHES
        assert rig.count(status="refused") == 0
        assert 0 < backlog < DEFAULT_MAX_QUEUED
        assert sent_before_broker_stop < DEVICES * BATCHES  # the broker went down under load
        print(  # the figures docs/devices.md quotes (pytest -s)
            f"\nrestarts: {DEVICES * BATCHES} batches; ingester away 1.5 s with a backlog of {backlog} "
            f"(max_queued_messages {DEFAULT_MAX_QUEUED:,}; Mosquitto's default 1,000); broker stopped with "
            f"{queued_at_broker_stop} accepted and not yet recorded, {sent_before_broker_stop} of "
            f"{DEVICES * BATCHES} sent, back at {restarted_at:.1f} s; "
            f"duplicates recognised {ing.stats['duplicate']}; "
            f"all recorded {time.monotonic() - started:.1f} s after the start"
        )
    finally:
        for c in conns:
            c.close()
        ing.stop()
