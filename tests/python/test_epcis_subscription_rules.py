"""Who may do what with EPCIS subscriptions, through the API served by uvicorn: query names are
each member's own; auditors read others' queries and subscriptions (destinations redacted) but
change none; WebSocket subscriptions only for members who read events, capped per member, closed
when the member loses its role, refused when their schedule never fires; one member's slow
webhook receivers do not delay another member's deliveries."""

from __future__ import annotations

import json
import random
import time
from datetime import UTC, datetime

import httpx
import pytest
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from bench.webhook_receiver import WebhookReceiver
from ledger.access.roles import Role
from ledger.trace.epcis.samples import document

from .helpers import govern, login_over_http, served_on_chain

SECRET = "s3cret-of-the-receiver"
PER_MEMBER = 3


@pytest.fixture(scope="module")
def server(deployment, chain_node, tmp_path_factory, members):
    tmp_path = tmp_path_factory.mktemp("subscription-rules")
    # the receivers here listen on loopback
    env = {"LEDGER_WEBHOOK_ALLOW_PRIVATE": "1", "LEDGER_WS_PER_MEMBER": str(PER_MEMBER)}
    with served_on_chain(deployment, chain_node, tmp_path, **env) as url:
        yield url, {who: login_over_http(url, members[who]) for who in ("producer", "logistics", "auditor", "arbiter")}


def _socket(url: str, headers: dict, query: str, params: str = "stream=true"):
    token = headers["Authorization"].split()[1]
    return connect(url.replace("http", "ws") + f"/epcis/queries/{query}/events?{params}&access_token={token}",
                   open_timeout=10)  # fmt: skip


def _closed(ws, seconds: float = 10.0) -> ConnectionClosed:
    """The close the server sent (waiting at most `seconds` for it)."""
    with pytest.raises(ConnectionClosed) as info:
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            ws.recv(timeout=end - time.monotonic())
    return info.value


def test_query_names_are_each_members_own(server, members):
    url, h = server
    c = httpx.Client(base_url=url, timeout=30)
    query = {"name": "received", "query": {"eventType": ["ObjectEvent"]}}
    assert c.post("/epcis/queries", json=query, headers=h["producer"]).status_code == 201
    r = c.post("/epcis/queries", json=query, headers=h["logistics"])  # the same name: no 409 telling it is taken
    assert r.status_code == 201, r.text
    assert c.post("/epcis/queries", json=query, headers=h["logistics"]).status_code == 409  # its own, taken
    for who in ("producer", "logistics"):
        assert c.get("/epcis/queries/received", headers=h[who]).json()["owner"] == members[who].address
        assert c.delete("/epcis/queries/received", headers=h[who]).status_code == 204


def test_read_all_is_not_write_all(server, members):
    url, h = server
    c = httpx.Client(base_url=url, timeout=30)
    query = {"name": "shipped", "query": {"eventType": ["ObjectEvent"]}}
    assert c.post("/epcis/queries", json=query, headers=h["producer"]).status_code == 201
    receiver = WebhookReceiver()
    try:
        dest = receiver.url + "/t0ken-in-path?key=t0ken-in-query"
        r = c.post("/epcis/queries/shipped/subscriptions", json={"dest": dest, "secret": SECRET, "stream": True},
                   headers=h["producer"])  # fmt: skip
        assert r.status_code == 201 and r.json()["dest"] == dest
        sub = r.json()["subscriptionID"]
        producer = members["producer"].address
        # the auditor reads every member's queries and the producer's subscription, redacted
        listed = c.get("/epcis/queries", headers=h["auditor"]).json()
        assert (producer, "shipped") in {(q.get("owner", producer), q["name"]) for q in listed}
        mine = f"/epcis/queries/shipped/subscriptions/{sub}"
        seen = c.get(mine, params={"owner": producer}, headers=h["auditor"])
        assert seen.status_code == 200 and "t0ken" not in seen.text, seen.text
        listed = c.get("/epcis/queries/shipped/subscriptions", params={"owner": producer}, headers=h["auditor"])
        assert [s["subscriptionID"] for s in listed.json()] == [sub] and "t0ken" not in listed.text
        # ... but changes nothing of it
        assert c.post(mine + "/resume", params={"owner": producer}, headers=h["auditor"]).status_code == 403
        assert c.delete(mine, params={"owner": producer}, headers=h["auditor"]).status_code == 403
        assert c.delete("/epcis/queries/shipped", params={"owner": producer}, headers=h["auditor"]).status_code == 404
        assert c.get(mine, headers=h["producer"]).json()["dest"] == dest  # still there, whole for its owner
        # another member's ?owner= reaches nothing of the producer's
        assert c.get(mine, params={"owner": producer}, headers=h["logistics"]).status_code == 404
        assert c.delete(mine, headers=h["producer"]).status_code == 204  # the owner unsubscribes
        assert c.delete("/epcis/queries/shipped", headers=h["producer"]).status_code == 204
    finally:
        receiver.close()


def test_a_websocket_schedule_that_never_fires_is_refused_with_its_reason(server):
    url, h = server
    c = httpx.Client(base_url=url, timeout=30)
    assert c.post("/epcis/queries", json={"name": "feb", "query": {}}, headers=h["producer"]).status_code == 201
    with _socket(url, h["producer"], "feb", "dayOfMonth=31&month=2") as ws:  # 31 February
        closed = _closed(ws)
        assert closed.rcvd.code == 1008 and "schedule" in closed.rcvd.reason


def test_websocket_subscriptions_per_member_are_capped(server):
    url, h = server
    c = httpx.Client(base_url=url, timeout=30)
    assert c.post("/epcis/queries", json={"name": "capped", "query": {}}, headers=h["logistics"]).status_code == 201
    # at most PER_MEMBER sockets per member; one closed makes room for another
    open_ = [_socket(url, h["logistics"], "capped") for _ in range(PER_MEMBER)]
    try:
        with _socket(url, h["logistics"], "capped") as ws:
            closed = _closed(ws)
            assert closed.rcvd.code == 1008 and "at most" in closed.rcvd.reason
        open_.pop().close()
        time.sleep(0.5)  # the server sees the close
        open_.append(_socket(url, h["logistics"], "capped"))
        with pytest.raises(TimeoutError):
            open_[-1].recv(timeout=1)  # open, nothing to send
    finally:
        for ws in open_:
            ws.close()


def test_a_websocket_subscription_needs_a_role_that_reads_events_and_ends_with_it(server, deployment, accounts):
    url, h = server
    dep, _ = deployment
    membership = dep.contract("Membership")
    newcomer = accounts[14]  # no bootstrap member holds this key
    govern(deployment, accounts, membership.functions.admit(newcomer.address, int(Role.PRODUCER)))
    try:
        headers = login_over_http(url, newcomer)
        c = httpx.Client(base_url=url, headers=headers, timeout=30)
        assert c.post("/epcis/queries", json={"name": "mine", "query": {}}).status_code == 201
        with _socket(url, headers, "mine") as ws:
            with pytest.raises(TimeoutError):
                ws.recv(timeout=1)  # open
            govern(deployment, accounts, membership.functions.setRoles(newcomer.address, int(Role.ARBITER)))
            assert c.get("/epcis/queries").status_code == 403  # HTTP at once
            closed = _closed(ws, 15)  # the socket within seconds
            assert closed.rcvd.code == 1008 and "no role" in closed.rcvd.reason
        with _socket(url, headers, "mine") as ws:  # and no new one
            closed = _closed(ws)
            assert closed.rcvd.code == 1008 and "no role" in closed.rcvd.reason
    finally:
        govern(deployment, accounts, membership.functions.remove(newcomer.address))
    # nor may the arbiter, who reads no events reads no events: no subscription (HTTP says 403 too)
    assert httpx.get(url + "/epcis/queries", headers=h["arbiter"]).status_code == 403
    with _socket(url, h["arbiter"], "any") as ws:
        assert _closed(ws).rcvd.code == 1008


def test_slow_receivers_of_one_member_do_not_delay_another_members_deliveries(server):
    url, h = server
    c = httpx.Client(base_url=url, timeout=30)
    slow, fast = WebhookReceiver(delay_s=4), WebhookReceiver()
    try:
        for who, receiver, n in (("producer", slow, 5), ("auditor", fast, 1)):
            name = f"everything-{who}"
            assert c.post("/epcis/queries", json={"name": name, "query": {}}, headers=h[who]).status_code == 201
            for _ in range(n):  # the producer's five first: a delivery round meets them first
                sub = {"dest": receiver.url, "secret": SECRET, "stream": True}
                assert c.post(f"/epcis/queries/{name}/subscriptions", json=sub, headers=h[who]).status_code == 201
        r = c.post("/epcis/capture", json=document(random.Random(5), 3), headers=h["producer"])
        assert r.status_code == 202
        end = time.monotonic() + 60
        while c.get(r.headers["location"], headers=h["producer"]).json()["running"] and time.monotonic() < end:
            time.sleep(0.05)
        captured = time.perf_counter()
        while not fast.deliveries and time.perf_counter() - captured < 30:
            time.sleep(0.05)
        waited = time.perf_counter() - captured
        assert fast.deliveries, "the auditor's delivery never came"
        # five 4-second receivers in a row would hold it 20 s; apart, it waits for nothing of theirs
        assert waited < 3.5, f"the auditor's delivery waited {waited:.1f} s behind the producer's slow receivers"
    finally:
        slow.close()
        fast.close()


def test_a_subscriptions_initial_record_time_is_the_moment_given_whatever_its_zone(
    deployment, chain_node, tmp_path, members
):
    """initialRecordTime was kept in the zone it was written in: SQLite stored its digits, read back
    as UTC, so a subscription said (and started from) a moment eight hours off the one given at
    -08:00 (outside probe)."""
    from .helpers import login, make_client

    c = make_client(deployment, chain_node, tmp_path, webhook_allow_private=True)
    h = login(c, members["producer"])
    assert (
        c.post("/epcis/queries", json={"name": "zoned", "query": {"eventType": ["ObjectEvent"]}}, headers=h).status_code
        == 201
    )
    sub = {"dest": "http://127.0.0.1:9399/hook", "secret": "s" * 16, "stream": True,
           "initialRecordTime": "2026-01-01T00:00:00-08:00"}  # fmt: skip
    r = c.post("/epcis/queries/zoned/subscriptions", json=sub, headers=h)
    assert r.status_code == 201, r.text
    got = c.get(r.headers["location"], headers=h).json()["initialRecordTime"]
    assert datetime.fromisoformat(got.replace("Z", "+00:00")) == datetime(2026, 1, 1, 8, tzinfo=UTC), got


def test_a_subscriber_gets_an_event_again_once_its_recorder_declares_it_erroneous(server):
    """EPCIS 2.0 7.4.1.2: a declaration is captured as the event again with an errorDeclaration and
    kept on the stored event (same hash ID). A subscriber that got the event gets it once more, now
    declared; one that subscribed after the declaration does not get it again; a declaration of an
    event the query does not match is not sent."""
    url, h = server
    c = httpx.Client(base_url=url, timeout=30)
    first, later = WebhookReceiver(), WebhookReceiver()
    try:
        name = "declared-ones"
        q = {"name": name, "query": {"EQ_bizStep": ["receiving"]}}
        assert c.post("/epcis/queries", json=q, headers=h["logistics"]).status_code == 201
        sub = {"dest": first.url, "secret": SECRET, "stream": True}
        assert c.post(f"/epcis/queries/{name}/subscriptions", json=sub, headers=h["logistics"]).status_code == 201
        ws = _socket(url, h["logistics"], name)  # a WebSocket subscription gets it again too
        doc = document(random.Random(31), 1)
        event = doc["epcisBody"]["eventList"][0]
        event.pop("errorDeclaration", None)
        event["bizStep"] = "receiving"
        other = document(random.Random(32), 1)
        other["epcisBody"]["eventList"][0].pop("errorDeclaration", None)
        other["epcisBody"]["eventList"][0]["bizStep"] = "shipping"  # not the query's
        for d in (doc, other):
            assert c.post("/v1/epcis/capture", json=d, headers=h["logistics"]).status_code == 201

        def got(receiver, n):  # type: ignore[no-untyped-def]
            end = time.monotonic() + 30
            while len(receiver.event_ids()) < n and time.monotonic() < end:
                time.sleep(0.05)
            return [
                e
                for _, d in receiver.deliveries
                for e in d["doc"]["epcisBody"]["queryResults"]["resultsBody"]["eventList"]
            ]

        (before,) = got(first, 1)
        assert "errorDeclaration" not in before
        reason = {"declarationTime": "2026-12-07T12:00:00+08:00", "reason": "incorrect_data"}
        for d in (doc, other):
            d["epcisBody"]["eventList"][0]["errorDeclaration"] = reason
            r = c.post("/v1/epcis/capture", json=d, headers=h["logistics"])
            assert r.status_code in (200, 201) and r.json()["events"][0]["status"] == "declared", r.text
        sub = {"dest": later.url, "secret": SECRET, "stream": True}
        assert c.post(f"/epcis/queries/{name}/subscriptions", json=sub, headers=h["logistics"]).status_code == 201
        both = got(first, 2)
        assert len(both) == 2 and both[1]["eventID"] == before["eventID"], both
        assert both[1]["errorDeclaration"]["reason"].endswith("incorrect_data"), both[1]
        time.sleep(1.5)  # a few delivery rounds: nothing more for either
        assert len(got(first, 2)) == 2 and got(later, 0) == []
        over_ws = []
        while len(over_ws) < 2:
            over_ws += json.loads(ws.recv(timeout=30))["epcisBody"]["queryResults"]["resultsBody"]["eventList"]
        ws.close()
        assert [("errorDeclaration" in e, e["eventID"]) for e in over_ws] == [
            (False, before["eventID"]),
            (True, before["eventID"]),
        ]
    finally:
        first.close()
        later.close()
