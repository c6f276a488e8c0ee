"""EPCIS subscriptions through the API served by uvicorn: a real HTTP server receives signed webhook
deliveries (and fails some of them), a real WebSocket client streams, a dead webhook is paused."""

from __future__ import annotations

import hashlib
import hmac
import json
import random
import time

import httpx
import pytest
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.sync.client import connect

from bench.webhook_receiver import WebhookReceiver, events_of
from ledger.trace.epcis.binding import webhook_dest
from ledger.trace.epcis.binding.webhooks import MAX_FAILURES
from ledger.trace.epcis.hashid import document_hash_ids
from ledger.trace.epcis.samples import document

from .conftest import free_port
from .helpers import login_over_http, served_on_chain

SECRET = "s3cret-of-the-receiver"


def _wait(cond, seconds: float = 20.0) -> None:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        if cond():
            return
        time.sleep(0.05)
    raise AssertionError("timed out")


@pytest.fixture
def server(deployment, chain_node, tmp_path, members):
    env = {"LEDGER_WEBHOOK_ALLOW_PRIVATE": "1", "LEDGER_WEBHOOK_BACKOFF_S": "0.01"}
    with served_on_chain(deployment, chain_node, tmp_path, **env) as url:
        yield url, {who: login_over_http(url, members[who]) for who in ("producer", "auditor")}


def test_webhook_and_websocket_subscriptions(server):
    url, h = server
    http = httpx.Client(base_url=url, headers=h["producer"], timeout=30)
    r = http.post("/epcis/queries", json={"name": "objects", "query": {"eventType": ["ObjectEvent"]}})
    assert r.status_code == 201, r.text
    receiver = WebhookReceiver(fail_first=2)
    sub = {"dest": receiver.url, "secret": SECRET, "stream": True}
    r = http.post("/epcis/queries/objects/subscriptions", json=sub)
    assert r.status_code == 201, r.text
    sub_url = r.headers["location"]
    assert "secret" not in r.json()
    # a WebSocket subscription to the same query (the token as a query parameter)
    token = h["producer"]["Authorization"].split()[1]
    ws_url = url.replace("http", "ws") + f"/epcis/queries/objects/events?stream=true&access_token={token}"
    with connect(ws_url, open_timeout=10) as ws:
        time.sleep(0.3)  # the socket's cursor is set when it opens
        doc = document(random.Random(11), 40)
        r = http.post("/epcis/capture", json=doc)
        assert r.status_code == 202 and http.get(r.headers["location"]).json()["success"]
        ids = [e.get("eventID", hid) for hid, e in zip(document_hash_ids(doc), doc["epcisBody"]["eventList"],
               strict=True) if e["type"] == "ObjectEvent"]  # fmt: skip
        assert ids
        streamed: list[str] = []
        while len(streamed) < len(ids):
            streamed += [e["eventID"] for e in events_of(json.loads(ws.recv(timeout=20)))]
        assert streamed == ids
    # the webhook: two refusals, then every event once, in capture order, each delivery signed
    _wait(lambda: len(receiver.event_ids()) >= len(ids))
    assert receiver.refused == 2 and receiver.event_ids() == ids
    for headers, d in receiver.deliveries:
        want = "sha256=" + hmac.new(SECRET.encode(), d["raw"], hashlib.sha256).hexdigest()
        assert headers["GS1-Signature"] == want
        assert d["doc"]["epcisBody"]["queryResults"]["subscriptionID"] == sub_url.rsplit("/", 1)[1]
    state = http.get(sub_url).json()
    assert state["delivered"] == len(ids) and state["failures"] == 0 and not state["paused"]
    # a webhook nobody answers is paused after MAX_FAILURES tries, not retried forever
    dead = {"dest": f"http://127.0.0.1:{free_port()}/gone", "secret": SECRET, "stream": True}
    dead_url = http.post("/epcis/queries/objects/subscriptions", json=dead).headers["location"]
    http.post("/epcis/capture", json=document(random.Random(12), 5))
    _wait(lambda: http.get(dead_url).json()["paused"], 60)
    state = http.get(dead_url).json()
    assert state["failures"] == MAX_FAILURES and state["delivered"] == 0
    assert state["lastError"] == webhook_dest.FAILED  # the same text whether a port answers or not
    # ... and resumed by its owner
    assert http.post(dead_url + "/resume").json()["paused"] is False
    # a scheduled subscription reporting even when empty
    empty = WebhookReceiver()
    every = {"dest": empty.url, "secret": SECRET, "schedule": {"second": "*"}, "reportIfEmpty": True}
    assert http.post("/epcis/queries/objects/subscriptions", json=every).status_code == 201
    _wait(lambda: len(empty.deliveries) >= 2, 10)
    assert events_of(empty.deliveries[0][1]["doc"]) == []
    # a scheduled WebSocket subscription: an empty report each second, then what was captured between
    scheduled = (
        url.replace("http", "ws") + f"/epcis/queries/objects/events?second=*&reportIfEmpty=true&access_token={token}"
    )
    with connect(scheduled, open_timeout=10) as ws:
        first = json.loads(ws.recv(timeout=5))
        assert first["epcisBody"]["queryResults"]["queryName"] == "objects" and events_of(first) == []
        more = document(random.Random(13), 6)
        assert http.post("/epcis/capture", json=more).status_code == 202
        wanted = [e.get("eventID", hid) for hid, e in zip(document_hash_ids(more), more["epcisBody"]["eventList"],
                  strict=True) if e["type"] == "ObjectEvent"]  # fmt: skip
        reported: list[str] = []
        deadline = time.monotonic() + 10
        while len(reported) < len(wanted) and time.monotonic() < deadline:
            reported += [e["eventID"] for e in events_of(json.loads(ws.recv(timeout=5)))]
        assert reported == wanted
    bad_plan = url.replace("http", "ws") + f"/epcis/queries/objects/events?stream=true&second=*&access_token={token}"
    with pytest.raises((InvalidStatus, ConnectionClosed)), connect(bad_plan, open_timeout=10) as ws:
        ws.recv(timeout=5)  # both a stream and a schedule: refused
    # bad subscriptions are refused: no secret, both stream and schedule, a private address when not allowed
    assert (
        http.post("/epcis/queries/objects/subscriptions", json={"dest": receiver.url, "stream": True}).status_code
        == 400
    )
    both = sub | {"schedule": {"minute": "5"}}
    assert http.post("/epcis/queries/objects/subscriptions", json=both).status_code == 400
    # destinations read one way by a check and another by the client, bad ports and hosts: 4xx, not 500
    for odd in ("http://127.0.0.1:8399\\@1.1.1.1/hook", "http://1.1.1.1:99999/", "http://[::1/"):
        r = http.post("/epcis/queries/objects/subscriptions", json=sub | {"dest": odd})
        assert r.status_code in (400, 422), (odd, r.status_code, r.text)
    # deleting the query ends its subscriptions
    assert http.delete("/epcis/queries/objects").status_code == 204
    assert http.get(sub_url).status_code == 404
