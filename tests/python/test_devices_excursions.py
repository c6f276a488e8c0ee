"""A cold-chain excursion end to end, all real: a logger registered through the API publishes signed
batches over TLS-PSK to Mosquitto, the ingester turns them into readings, EPCIS events and an
alarm; the consumer's scan shows the lot's sensor windows and the excursion (JSON and both
languages of the page); `ledger worker`, with the platform's key, disputes the lot's delivered
order on anvil (and an order of the lot delivered later), leaves other lots' orders alone and a
rival's logger's alarm unacted, and delivers the alarm event to the merchant's EPCIS webhook; the
merchant sees and closes the alarm."""

from __future__ import annotations

import csv
import io
import itertools
import os
import subprocess
import sys
import time
from contextlib import closing
from datetime import UTC, datetime, timedelta, timezone
from urllib.parse import urlsplit

import pytest
from sqlalchemy import select

from bench.webhook_receiver import WebhookReceiver, events_of
from ledger.chain.client import Sender
from ledger.chain.indexer import Indexer
from ledger.devices import batches
from ledger.devices.broker import Broker
from ledger.devices.ingester import Ingester
from ledger.devices.mqtt_client import DeviceConnection
from ledger.devices.sm2 import Sm2Key
from ledger.errors import LedgerError
from ledger.flows import cold_chain_holds
from ledger.paths import ROOT
from ledger.store.db import make_engine, session_factory
from ledger.store.device_tables import ColdChainAlarm
from ledger.store.models import EpcisEvent
from ledger.trace.epcis.samples import CONTEXT

from .helpers import authorise, login, make_client, new_gtin

_ids = itertools.count(1)
BEIJING = timezone(timedelta(hours=8))


def _delivery(order_id: str, gtin: str, lot: str) -> dict:
    """The carrier's receiving event for `order_id`, naming the lot it carried, now (a delivery's
    event may not be older than its order: `ledger.money.orders.delivery_evidence`)."""
    return {
        "@context": CONTEXT, "type": "EPCISDocument", "schemaVersion": "2.0", "creationDate": "2026-12-01T00:00:00Z",
        "epcisBody": {"eventList": [{
            "type": "ObjectEvent", "eventTime": datetime.now(BEIJING).replace(microsecond=0).isoformat(),
            "eventTimeZoneOffset": "+08:00",
            "epcList": [], "quantityList": [{"epcClass": f"https://id.gs1.org/01/{gtin}/10/{lot}", "quantity": 1}],
            "action": "OBSERVE", "bizStep": "https://ref.gs1.org/cbv/BizStep-receiving",
            "bizTransactionList": [{"type": "po", "bizTransaction": f"urn:epcglobal:cbv:bt:0614141000005:{order_id}"}],
        }]},
    }  # fmt: skip


@pytest.fixture
def world(deployment, chain_node, tmp_path, members, monkeypatch):
    monkeypatch.setenv("LEDGER_KEY_PASSPHRASE", "devices-test")
    monkeypatch.setenv("LEDGER_DATA_DIR", str(tmp_path / "data"))  # keys sealed with this passphrase: its own
    monkeypatch.setenv("LEDGER_MQTT_DIR", str(tmp_path / "mqtt"))  # the API reloads this test's broker
    dep, _ = deployment
    Sender(dep.w3, members["issuer"], dep.decoder()).transact(
        dep.contract("SettlementToken").functions.mint(members["platform"].address, 10**8)
    )
    c = make_client(deployment, chain_node, tmp_path, webhook_allow_private=True)
    h = {w: login(c, members[w]) for w in ("platform", "merchant_a", "merchant_b", "logistics")}
    broker = Broker(tmp_path / "mqtt").start({})
    sessions = session_factory(make_engine(f"sqlite:///{tmp_path / 'api.sqlite3'}"))
    ing = Ingester(sessions, broker.local_port, broker.ingester_password).start()
    yield c, h, dep, sessions, broker, (chain_node.url, deployment[1]), tmp_path
    ing.stop()
    broker.stop()


def _escrow_and_deliver(c, h, members, gtin, lot, deliver=True):
    order_id = f"CC{int(time.time() * 1000)}{next(_ids)}"
    body = {"order_id": order_id, "merchant": members["merchant_a"].address, "amount_fen": 12_345,
            "referrers": [], "shopper_id": f"shopper-{order_id}", "carrier": members["logistics"].address}  # fmt: skip
    r = c.post("/v1/orders", json=body, headers={**h["platform"], "Idempotency-Key": order_id})
    assert r.status_code == 201, r.text
    if deliver:
        _deliver(c, h, order_id, gtin, lot)
    return order_id


def _deliver(c, h, order_id, gtin, lot):
    r = c.post("/v1/epcis/capture", json=_delivery(order_id, gtin, lot), headers=h["logistics"])
    assert r.status_code == 201 and r.json()["deliveries"][0]["status"] == "delivered", r.text


def _status(c, h, order_id):
    return c.get(f"/v1/orders/{order_id}", headers=h["platform"]).json()["status"]


def _wait(pred, what, timeout=60):
    deadline = time.monotonic() + timeout
    while not (got := pred()):
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)
    return got


def test_an_excursion_shows_on_the_scan_and_holds_the_lots_orders(world, members):
    c, h, dep, sessions, broker, _, _ = world
    gtin, lot, other_lot = new_gtin(), "CC-1", "CC-2"
    m = h["merchant_a"]
    assert c.post("/v1/products", json={"gtin": gtin, "name": "Chilled milk"}, headers=m).status_code == 201
    for x in (lot, other_lot):
        assert c.post("/v1/batches", json={"gtin": gtin, "lot": x}, headers=m).status_code == 201
    authorise(c, m, gtin, members["logistics"])
    # the merchant's own EPCIS webhook (its existing subscriptions), to a real HTTP receiver
    receiver = WebhookReceiver()
    assert c.post("/epcis/queries", json={"name": f"q{gtin}", "query": {"eventType": ["ObjectEvent"]}},
                  headers=m).status_code == 201  # fmt: skip
    sub = {"dest": receiver.url, "secret": "merchant-secret", "stream": True}
    assert c.post(f"/epcis/queries/q{gtin}/subscriptions", json=sub, headers=m).status_code == 201
    Indexer(dep, c.app.state.services.engine, confirmations=0).run()  # who may record about the product
    issue = c.post(f"/v1/batches/{gtin}/{lot}/codes", json={"count": 2}, headers=m).json()
    code = urlsplit(next(csv.DictReader(io.StringIO(c.get(issue["csv_url"], headers=m).text)))["uri"])
    scan = f"{code.path}?{code.query}"
    delivered = _escrow_and_deliver(c, h, members, gtin, lot)
    later = _escrow_and_deliver(c, h, members, gtin, lot, deliver=False)
    elsewhere = _escrow_and_deliver(c, h, members, gtin, other_lot)

    # a logger of the carrier's, registered through the API (the PSK once), reports the lot; so does
    # a rival merchant's logger, which the product's merchant never authorised
    t0 = datetime.now(UTC) - timedelta(hours=2)
    subject = f"https://id.gs1.org/01/{gtin}/10/{lot}"
    temps = lambda start, vs: [  # noqa: E731
        {"t": (start + timedelta(minutes=5 * i)).isoformat(), "k": "temp", "v": v, "s": subject}
        for i, v in enumerate(vs)
    ]
    (key, d), (rival_key, rival) = (_logger(c, h[w], broker) for w in ("logistics", "merchant_b"))
    giai = d["giai"]
    with closing(_wait(lambda: _connect(broker.psk_port, rival), "the broker to take the rival's PSK")) as conn:
        conn.publish(batches.make(rival_key, rival["identity"], rival["giai"], 1, temps(t0, [20.0, 25.0])))
    with closing(_wait(lambda: _connect(broker.psk_port, d), "the broker to take the new PSK")) as conn:
        conn.publish(batches.make(key, d["identity"], giai, 1, temps(t0, [3.5, 4.0, 4.5, 5.0])))
        conn.publish(batches.make(key, d["identity"], giai, 2, temps(t0 + timedelta(minutes=30), [5, 9.5, 12, 6])))
    alarms = _wait(lambda: (a := _alarms(sessions)) and len(a) == 2 and a, "the alarms")
    alarm = next(a for a in alarms if a.recorder == members["logistics"].address)
    assert (alarm.gtin, alarm.lot, alarm.min_c, alarm.max_c, alarm.status) == (gtin, lot, 9.5, 12.0, "open")
    with sessions() as db:  # the ALARM_CONDITION event is the merchant's to see: its queries and webhooks get it
        event = db.scalar(select(EpcisEvent).where(EpcisEvent.hash_id == alarm.event_hash_id))
        assert event.merchant == members["merchant_a"].address and "ALARM_CONDITION" in event.body

    # the consumer's scan: both windows, the second outside 0-8 °C, and the warning
    got = c.get(scan, headers={"Accept": "application/json"}).json()
    assert got["verdict"] == "genuine"  # authenticity unchanged: the excursion is a warning
    cc = got["cold_chain"]
    assert cc["excursion"] and cc["rule"] == {"min_c": 0.0, "max_c": 8.0, "grace_minutes": 0.0}
    assert [(w["min_c"], w["max_c"], w["within"], w["device"]) for w in cc["windows"]] == [
        (3.5, 5.0, True, giai), (5.0, 12.0, False, giai)]  # fmt: skip
    assert cc["windows"][1]["minutes_outside"] == 10.0 and len(cc["windows"][1]["batch_sm3"]) == 64
    assert [w["code"] for w in got["warnings"]] == ["cold_chain_excursion"]
    zh = c.get(scan + "&lang=zh").text
    en = c.get(scan + "&lang=en").text
    assert 'id="cold-chain-alarm"' in zh and "冷链异常" in zh and "2 个温度记录窗口中有 1 个超出允许范围 0–8 °C" in zh
    assert "Cold-chain excursion" in en and 'data-within="false"' in en and "<svg" in en

    # `ledger worker` (as `make run` runs it), its cold-chain-holds loop signing with the platform's
    # key it holds for anchoring: the lot's delivered order is disputed on chain, nothing else
    worker = _worker(world)
    try:
        _wait(lambda: _status(c, h, delivered) == "disputed", "the worker to hold the delivered order", 120)
        assert (_status(c, h, later), _status(c, h, elsewhere)) == ("escrowed", "delivered")
        _deliver(c, h, later, gtin, lot)  # delivered while the alarm is open: held at a next round
        _wait(lambda: _status(c, h, later) == "disputed", "the worker to hold the order delivered later", 60)
        # and the merchant was told: the worker's webhook loop delivered the ALARM_CONDITION event
        alarmed = lambda: [e for _, d in receiver.deliveries for e in events_of(d["doc"]) if "ALARM" in str(e)]  # noqa: E731
        assert _wait(alarmed, "the merchant's webhook to receive the alarm event", 60)[0]["eventID"]
    finally:
        worker.terminate()
        receiver.close()
        assert worker.wait(timeout=30) == 0
    log = (world[-1] / "worker.log").read_text()
    assert "cold-chain holds failed" not in log, log[-3000:]
    key = dep.contract("OrderSettlement").events.OrderDisputed().get_logs(from_block=0)
    assert len(key) >= 2 and _status(c, h, elsewhere) == "delivered"
    with sessions() as db:  # a round now finds nothing left to do: nothing is disputed twice
        assert cold_chain_holds.act(db, dep, lambda: dep.sender(members["platform"])) == []

    # the merchant sees it and closes it; another merchant sees nothing and cannot
    mine = c.get("/v1/devices/alarms", params={"status": "open"}, headers=m).json()
    assert [(a["id"], a["orders_on_hold"], a["device"], a["recorder_authorised"]) for a in mine] == [
        (alarm.id, [delivered, later], giai, True), (alarm.id - 1, [], rival["giai"], False)]  # fmt: skip
    assert [a["device"] for a in c.get("/v1/devices/alarms", headers=h["merchant_b"]).json()] == [rival["giai"]]
    assert c.post(f"/v1/devices/alarms/{alarm.id}/close", headers=h["merchant_b"]).status_code == 404
    r = c.post(f"/v1/devices/alarms/{alarm.id}/close", headers=m)
    assert r.status_code == 200 and r.json()["status"] == "closed"
    assert [a["id"] for a in c.get("/v1/devices/alarms", params={"status": "open"}, headers=m).json()] == [alarm.id - 1]


def _worker(world):
    _, _, _, _, _, (rpc, manifest), tmp_path = world
    env = {**os.environ, "LEDGER_RPC_URL": rpc, "LEDGER_MANIFEST": str(manifest), "LEDGER_WEBHOOK_ALLOW_PRIVATE": "1",
           "LEDGER_DATABASE_URL": f"sqlite:///{tmp_path / 'api.sqlite3'}", "LEDGER_DATA_DIR": str(tmp_path / "data"),
           "LEDGER_ANCHOR_INTERVAL": "0.5"}  # fmt: skip
    with open(tmp_path / "worker.log", "wb") as log:
        return subprocess.Popen([sys.executable, "-m", "ledger", "worker"], cwd=ROOT, env=env, stdout=log, stderr=log)


def _logger(c, headers, broker):
    """A logger registered through the API by the member of `headers` (the answer holds its PSK)."""
    key = Sm2Key.generate()
    giai = f"CCL{time.time_ns() % 10**12}"
    said = c.get("/v1/devices/statement", params={"giai": giai}, headers=headers).json()["statement"]
    body = {"giai": giai, "public_key": key.public.hex(), "kind": "logger", "proof": key.sign(said.encode()).hex()}
    r = c.post("/v1/devices", json=body, headers=headers)
    assert r.status_code == 201, r.text
    return key, r.json()


def _connect(port, d):
    try:
        return DeviceConnection(port, d["identity"], d["psk"], timeout=5)
    except LedgerError:  # the reload is asynchronous: refused until the broker has read the file
        return None


def _alarms(sessions):
    with sessions() as db:
        return list(db.scalars(select(ColdChainAlarm)))
