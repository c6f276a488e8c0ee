"""A broker killed with SIGKILL (not stopped) under device load: Mosquitto writes its persistent
store every `autosave_interval` (5 s) and on a clean stop, so a kill loses the batches it
acknowledged (PUBACK) since its last save. The devices' clients keep every batch until the
ingester's receipt says it is final and send the rest again; the replay window takes the
duplicates. The test shows both: acknowledged batches the broker lost, then every batch recorded
exactly once after the devices resend. Real Mosquitto started by the test and killed by its PID."""

from __future__ import annotations

import os
import signal
import threading
import time
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select

from ledger.devices import batches
from ledger.devices.ingester import Ingester
from ledger.devices.mqtt_client import DeviceConnection
from ledger.store.device_tables import DeviceBatch

from .test_devices_ingest import rig  # noqa: F401  the broker, registry and database of the device tests

DEVICES, BATCHES, READINGS = 2, 200, 5
PACE_S = 0.02  # ~50 batches/s per device


def _ingester(rig):  # noqa: F811
    return Ingester(rig.sessions, rig.broker.local_port, rig.broker.ingester_password, client_id="kill", max_batch=20)


def _settled(rig, ing, quiet_s=3.0, timeout=120):  # noqa: F811
    """Wait until the ingester has nothing in hand and nothing new was recorded for `quiet_s`."""
    deadline, last, since = time.monotonic() + timeout, -1, time.monotonic()
    while True:
        n = rig.count(status="accepted")
        if n != last or ing.backlog:
            last, since = n, time.monotonic()
        elif time.monotonic() - since >= quiet_s:
            return n
        assert time.monotonic() < deadline, "the ingester never settled"
        time.sleep(0.1)


def test_a_broker_killed_under_load_loses_nothing_the_devices_keep_until_receipted(rig):  # noqa: F811
    lot = "https://id.gs1.org/01/06901234567892/10/K1"
    devices = [rig.add(f"K{time.time_ns() % 10**12}{i}") for i in range(DEVICES)]
    t0 = datetime.now(UTC) - timedelta(hours=1)
    signed = {
        d.identity: [
            batches.make(key, d.identity, d.device.giai, s,
                         [{"t": (t0 + timedelta(seconds=s * READINGS + j)).isoformat(), "k": "temp", "v": 4.0,
                           "s": lot} for j in range(READINGS)])
            for s in range(1, BATCHES + 1)
        ]
        for key, d in devices
    }  # fmt: skip
    rig.broker.start(rig.psks())
    ing = _ingester(rig).start()
    # resends by hand here (resend_after None), so that what the broker lost is seen first
    conns = [DeviceConnection(rig.broker.psk_port, d.identity, d.psk_hex, receipts=True, resend_after=None)
             for _, d in devices]  # fmt: skip
    acked: set = set()
    for c in conns:
        c.client.on_publish = lambda cl, u, mid, rc, p, ident=c.identity: acked.add((ident, mid))
    sent = [0]

    def publish(conn):
        for payload in signed[conn.identity]:
            conn.publish(payload, wait=False)
            sent[0] += 1
            time.sleep(PACE_S)

    threads = [threading.Thread(target=publish, args=(c,)) for c in conns]
    for t in threads:
        t.start()
    try:
        rig.wait(lambda: sent[0] >= 60 and rig.count(status="accepted") > 0)
        ing.stop()  # the ingester away: the broker holds what the devices send, acknowledged
        time.sleep(1.0)
        at_risk = len(acked) - rig.count(status="accepted")
        pid = rig.broker.proc.pid
        os.kill(pid, signal.SIGKILL)  # no clean stop: no last save of its store
        rig.broker.proc.wait(30)
        rig.broker.proc = None
        sent_at_kill = sent[0]
        time.sleep(0.5)
        rig.broker.start(rig.psks())  # same folder, store and ports
        ing = _ingester(rig).start()
        for t in threads:
            t.join(120)
        deadline = time.monotonic() + 120
        while len(acked) < DEVICES * BATCHES:  # paho resends what was in flight at the kill
            assert time.monotonic() < deadline, f"{DEVICES * BATCHES - len(acked)} batches never acknowledged"
            time.sleep(0.1)
        recorded = _settled(rig, ing)
        lost = DEVICES * BATCHES - recorded  # acknowledged by the broker, gone with it
        waiting = sum(c.pending for c in conns)
        assert at_risk > 0 and sent_at_kill < DEVICES * BATCHES  # killed holding a backlog, under load
        assert lost > 0, "the kill lost nothing: the test did not test the resend"
        assert waiting >= lost  # the devices kept every batch without a receipt
        for c in conns:
            c.resend(older_than=0)
        deadline, next_resend = time.monotonic() + 120, time.monotonic() + 5
        while rig.count(status="accepted") < DEVICES * BATCHES or any(c.pending for c in conns):
            assert time.monotonic() < deadline, (rig.count(status="accepted"), [c.pending for c in conns])
            time.sleep(0.1)
            if time.monotonic() >= next_resend:  # receipts are QoS 0: one lost is asked for again
                for c in conns:
                    c.resend(older_than=5)
                next_resend = time.monotonic() + 5
        with rig.sessions() as db:
            per_device = db.execute(
                select(DeviceBatch.identity, func.count(), func.count(func.distinct(DeviceBatch.seq)))
                .where(DeviceBatch.status == "accepted")
                .group_by(DeviceBatch.identity)
            ).all()
        assert sorted(n for _, n, _ in per_device) == [BATCHES] * DEVICES, per_device  # none lost, none twice
        assert all(n == distinct for _, n, distinct in per_device), per_device
        assert rig.count(status="refused") == 0
        print(
            f"\nbroker SIGKILL: {DEVICES * BATCHES} batches; {at_risk} acknowledged and not yet recorded "
            f"at the kill, {sent_at_kill} sent; {lost} acknowledged batches lost by the broker; "
            f"{sum(c.resent for c in conns)} resent by the devices; duplicates recognised "
            f"{ing.stats['duplicate']}; all recorded once"
        )
    finally:
        for c in conns:
            c.close()
        ing.stop()
