"""PACT requests answered at the requester's own endpoint (PACT 3.0 Action Events; conformance
cases 13 and 14.B): a merchant registers a partner (its base URL and the client credentials agreed
with it), the partner's RequestCreatedEvent is kept, and the background loop (run in the API's
process, as `background_in_web` does) fetches a token at the partner's `/auth/token` and sends a
RequestFulfilledEvent with the merchant's matching footprints, or a RequestRejectedEvent when none
match, to the partner's `/3/events` — a real HTTP server in this test standing for the partner."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import threading
import time
from collections.abc import Iterator

import jsonschema
import pytest
import uvicorn
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response
from fastapi.testclient import TestClient
from sqlalchemy import select

from ledger.carbon import factors
from ledger.paths import ROOT
from ledger.store.carbon_tables import CarbonPartner

from .carbon_scene import CTX, events, table
from .conftest import free_port
from .helpers import login, make_client, new_gtin

SCHEMA = json.loads((ROOT / "tests/fixtures/pact/product-footprint-v3.schema.json").read_text())
VALIDATOR = jsonschema.Draft202012Validator(SCHEMA, format_checker=jsonschema.FormatChecker())
CE = {"Content-Type": "application/cloudevents+json; charset=UTF-8"}
CREATED = "org.wbcsd.pact.ProductFootprint.RequestCreatedEvent.3"
CLIENT_ID, CLIENT_SECRET = "test_client_id", "test_client_secret"  # as the conformance service's listener


class Partner:
    """A data recipient's host: `/auth/token` (client credentials in Basic, as agreed) and `/3/events`
    (bearer token required), recording what it is sent; started on `port` when `start` is called."""

    def __init__(self, port: int | None = None, delay_s: float = 0.0):
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.events: list[tuple[dict, dict]] = []  # (headers, body)
        self.tokens: list[str] = []
        self.server: uvicorn.Server | None = None
        app = FastAPI()

        @app.post("/auth/token")
        async def token(request: Request) -> Response:
            expected = base64.b64encode(f"{CLIENT_ID}:{CLIENT_SECRET}".encode()).decode()
            form = (await request.body()).decode()
            if request.headers.get("authorization") != f"Basic {expected}" or form != "grant_type=client_credentials":
                return JSONResponse({"code": "BadRequest"}, 400)
            self.tokens.append(f"tok-{len(self.tokens)}")
            return JSONResponse({"access_token": self.tokens[-1]})  # no token_type, as the conformance service

        @app.post("/3/events")
        async def receive(request: Request) -> Response:
            if request.headers.get("authorization") not in {f"Bearer {t}" for t in self.tokens}:
                return JSONResponse({"code": "BadRequest", "message": "Invalid token provided"}, 400)
            await asyncio.sleep(delay_s)  # a partner slow to answer
            self.events.append((dict(request.headers), json.loads(await request.body())))
            return Response(status_code=200)

        self.app = app

    def start(self) -> None:
        self.server = uvicorn.Server(
            uvicorn.Config(self.app, host="127.0.0.1", port=self.port, log_level="warning", lifespan="off")
        )
        thread = threading.Thread(target=self.server.run, daemon=True)
        thread.start()
        for _ in range(600):
            if self.server.started:
                return
            assert thread.is_alive()
            time.sleep(0.05)
        raise AssertionError("the partner did not start")

    def stop(self) -> None:
        if self.server is not None:
            self.server.should_exit = True


@contextlib.contextmanager
def partner(started: bool = True, delay_s: float = 0.0) -> Iterator[Partner]:
    p = Partner(delay_s=delay_s)
    if started:
        p.start()
    try:
        yield p
    finally:
        p.stop()


def _wait(cond, seconds: float = 30.0):
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        if got := cond():
            return got
        time.sleep(0.05)
    raise AssertionError("timed out")


@pytest.fixture(scope="module")
def world(deployment, chain_node, members, tmp_path_factory):
    """merchant_a's published footprint of a batch, its PACT client, the loops running in-process."""
    tmp = tmp_path_factory.mktemp("pact-replies")
    c = make_client(deployment, chain_node, tmp, anchor_one_by_one_max=0, anchor_interval_s=0,
                    webhook_interval_s=0.05, webhook_backoff_s=0.05, webhook_allow_private=True)  # fmt: skip
    h = login(c, members["merchant_a"])
    leaves, tea, dust = new_gtin(), new_gtin(), new_gtin()
    for gtin, name in ((leaves, "tea leaves"), (tea, "Wuyi rock tea"), (dust, "tea dust")):
        assert c.post("/v1/products", json={"gtin": gtin, "name": name}, headers=h).status_code == 201
    doc = {"@context": CTX, "type": "EPCISDocument", "schemaVersion": "2.0", "creationDate": "2026-11-09T00:00:00Z",
           "epcisBody": {"eventList": events(leaves, tea, dust)}}  # fmt: skip
    assert c.post("/v1/epcis/capture", json=doc, headers=h).status_code == 201
    key = members["merchant_a"]
    t = table(key.address, leaves) | {"country": "CN"}
    r = c.post(
        "/v1/carbon/factor-tables", json={"document": t, "signature": factors.sign(t, bytes(key.key))}, headers=h
    )
    assert r.status_code == 201, r.text
    assert c.post("/v1/epcis/anchor", headers=h).status_code == 200
    pf = c.post(f"/v1/carbon/batches/{tea}/P1/footprint", json={"table": t["version"]}, headers=h)
    assert pf.status_code == 201, pf.text
    cred = c.post("/v1/carbon/clients", headers=h).json()
    basic = base64.b64encode(f"{cred['client_id']}:{cred['client_secret']}".encode()).decode()
    with TestClient(c.app, base_url="https://testserver") as s:  # the lifespan starts the background loops
        r = s.post("/pact/auth/token", data={"grant_type": "client_credentials"},
                   headers={"Authorization": f"Basic {basic}"})  # fmt: skip
        bearer = {"Authorization": f"Bearer {r.json()['access_token']}"}
        yield {"c": c, "s": s, "h": h, "tea": tea, "pf": pf.json()["id"], "bearer": bearer, "members": members}


def _register(world, p: Partner, headers: dict | None = None) -> dict:
    body = {"base_url": p.url + "/", "client_id": CLIENT_ID, "client_secret": CLIENT_SECRET}
    r = world["c"].post("/v1/carbon/partners", json=body, headers=headers or world["h"])
    assert r.status_code == 201, r.text
    return r.json()


def _request(world, source: str, event_id: str, data: dict):
    ev = {"specversion": "1.0", "id": event_id, "source": source, "time": "2026-11-20T10:30:00Z", "type": CREATED,
          "data": data}  # fmt: skip
    return world["s"].post("/pact/3/events", content=json.dumps(ev), headers=world["bearer"] | CE)


def _state(world, event_id: str) -> dict | None:
    rows = world["c"].get("/v1/carbon/requests", headers=world["h"]).json()
    return next((r for r in rows if r["eventId"] == event_id), None)


def test_a_request_is_fulfilled_at_the_partners_events_endpoint(world):
    product = f"urn:pact:id.gs1.org:product-id:01/{world['tea']}/10/P1"
    with partner() as p:
        shown = _register(world, p)
        assert shown["base_url"] == p.url and "client_secret" not in json.dumps(shown)
        listed = world["c"].get("/v1/carbon/partners", headers=world["h"]).json()
        assert CLIENT_SECRET not in json.dumps(listed) and shown["id"] in {x["id"] for x in listed}
        with world["c"].app.state.services.sessions() as db:  # sealed at rest, not in the clear
            sealed = db.scalar(select(CarbonPartner.secret_sealed).where(CarbonPartner.id == shown["id"]))
            assert CLIENT_SECRET.encode() not in sealed
        r = _request(world, p.url, "run-1-12", {"productId": [product.upper()], "comment": "Please send PCF data."})
        assert r.status_code == 200 and r.content == b"", r.text
        headers, ev = _wait(lambda: p.events and p.events[0])
        assert headers["content-type"].startswith("application/cloudevents+json")
        assert ev["type"] == "org.wbcsd.pact.ProductFootprint.RequestFulfilledEvent.3"
        assert ev["specversion"] == "1.0" and ev["source"].endswith("/pact") and ev["time"].endswith("Z")
        assert ev["data"]["requestEventId"] == "run-1-12"
        assert [pf["id"] for pf in ev["data"]["pfs"]] == [world["pf"]]
        assert ev["data"]["pfs"][0]["productIds"] == [product]
        for pf in ev["data"]["pfs"]:
            VALIDATOR.validate(pf)
        state = _wait(lambda: (s := _state(world, "run-1-12")) and s["status"] != "pending" and s)
        assert state["status"] == "fulfilled" and state["footprints"] == 1 and state["attempts"] == 1
        assert state["replyId"] == ev["id"] and state["lastError"] is None
        # the same request again (same source and id) is kept once and answered once
        assert _request(world, p.url, "run-1-12", {"productId": [product]}).status_code == 200
        time.sleep(0.5)
        assert len(p.events) == 1


def test_a_request_matching_nothing_is_rejected(world):
    with partner() as p:
        _register(world, p)
        assert _request(world, p.url, "run-1-14.A", {"productId": ["urn:pact:null"]}).status_code == 200
        _, ev = _wait(lambda: p.events and p.events[0])
        assert ev["type"] == "org.wbcsd.pact.ProductFootprint.RequestRejectedEvent.3"
        assert ev["data"]["requestEventId"] == "run-1-14.A"
        assert ev["data"]["error"]["code"] == "NotFound" and ev["data"]["error"]["message"]
        assert "pfs" not in ev["data"]
        state = _wait(lambda: (s := _state(world, "run-1-14.A")) and s["status"] != "pending" and s)
        assert state["status"] == "rejected" and state["footprints"] == 0


def test_a_source_not_registered_is_never_called(world, members):
    """Accepted (the conformance list's case 12 expects a 200 from wherever its tester runs), kept,
    and never answered: we call no URL a client names, only partners' with their own credentials."""
    with partner() as stranger, partner() as elsewhere:
        assert _request(world, stranger.url, "run-2-12", {"productId": ["urn:pact:null"]}).status_code == 200
        # a partner of another member is no partner of this client's member
        _register(world, elsewhere, login(world["c"], members["merchant_b"]))
        assert _request(world, elsewhere.url, "run-3-12", {"productId": ["urn:pact:null"]}).status_code == 200
        time.sleep(0.5)  # ten rounds of the loop
        assert stranger.events == [] and stranger.tokens == [] and elsewhere.events == []
        assert _state(world, "run-2-12") is None and _state(world, "run-3-12") is None
    # a base URL the loop may not call is refused at registration (a private host, where not allowed, is
    # tested with the webhooks' destinations); so is one that is no URL
    bad = {"base_url": "ftp://example.com", "client_id": CLIENT_ID, "client_secret": CLIENT_SECRET}
    assert world["c"].post("/v1/carbon/partners", json=bad, headers=world["h"]).status_code == 422


def test_a_partner_down_at_first_gets_the_answer_once_it_is_back(world):
    with partner(started=False) as p:
        _register(world, p)
        product = f"urn:pact:id.gs1.org:product-id:01/{world['tea']}/10/P1"
        assert _request(world, p.url, "run-4-12", {"productId": [product]}).status_code == 200
        state = _wait(lambda: (s := _state(world, "run-4-12")) and s["attempts"] >= 2 and s)
        assert state["status"] == "pending" and state["lastError"] and state["retryAt"]
        p.start()
        _, ev = _wait(lambda: p.events and p.events[0])
        assert ev["type"].endswith("RequestFulfilledEvent.3") and ev["data"]["requestEventId"] == "run-4-12"
        assert ev["id"] == state["replyId"]  # every try sends the same CloudEvent id
        state = _wait(lambda: (s := _state(world, "run-4-12")) and s["status"] != "pending" and s)
        assert state["status"] == "fulfilled" and state["attempts"] >= 3 and state["lastError"] is None


def test_a_removed_partner_is_no_longer_answered(world):
    with partner() as p:
        pid = _register(world, p)["id"]
        assert world["c"].delete(f"/v1/carbon/partners/{pid}", headers=world["h"]).status_code == 204
        assert _request(world, p.url, "run-5-12", {"productId": ["urn:pact:null"]}).status_code == 200
        time.sleep(0.5)  # ten rounds of the loop
        assert p.events == [] and _state(world, "run-5-12") is None
        assert world["c"].delete(f"/v1/carbon/partners/{pid}", headers=world["h"]).status_code == 404


def test_a_partner_slow_to_answer_keeps_no_other_partners_answer_waiting(world, members):
    """Each partner's requests are answered on a thread of their own: before, one round answered
    every request in turn, so four requests of a partner taking 3 s each kept another member's
    partner waiting 12 s for its answer."""
    product = f"urn:pact:id.gs1.org:product-id:01/{world['tea']}/10/P1"
    with partner(delay_s=3.0) as slow, partner() as fast:
        _register(world, slow)
        for i in range(4):
            assert _request(world, slow.url, f"slow-{i}", {"productId": [product]}).status_code == 200
        _wait(lambda: slow.events or (_state(world, "slow-0") or {}).get("attempts"))  # its round has begun
        _register(world, fast)
        asked = time.monotonic()
        assert _request(world, fast.url, "fast-1", {"productId": [product]}).status_code == 200
        _wait(lambda: fast.events)
        waited = time.monotonic() - asked
        assert waited < 5.0, f"the fast partner's answer waited {waited:.1f} s behind the slow partner's"
        _wait(lambda: len(slow.events) == 4, 60)  # and the slow partner gets all of its answers
