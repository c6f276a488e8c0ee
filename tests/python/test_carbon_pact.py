"""Carbon through the API on a real node and database: a batch's events captured and anchored, a
signed factor table published (anchored by its publisher), the footprint computed, anchored and
verified from Merkle-proven inputs alone (and a tampered input caught); the PACT v3 API answering
every case of PACT's v3 conformance list (tests/fixtures/pact/conformance-v3.json), each footprint
it returns valid against the transcribed v3 schema."""

from __future__ import annotations

import base64
import contextlib
import copy
import json
import threading
import time
from collections.abc import Iterator

import jsonschema
import pytest
import uvicorn
from fastapi.testclient import TestClient

from ledger.carbon import factors
from ledger.carbon.verify import verify_evidence
from ledger.cli.main import main
from ledger.paths import ROOT

from .carbon_scene import CTX, events, table
from .conftest import free_port
from .helpers import login, make_client, new_gtin

FIXTURES = ROOT / "tests/fixtures/pact"
SCHEMA = json.loads((FIXTURES / "product-footprint-v3.schema.json").read_text())
VALIDATOR = jsonschema.Draft202012Validator(SCHEMA, format_checker=jsonschema.FormatChecker())
CASES = {c["case"]: c for c in json.loads((FIXTURES / "conformance-v3.json").read_text())}
CLASS = "urn:pact:productclassification:un-cpc:23914"
CE = {"Content-Type": "application/cloudevents+json; charset=UTF-8"}
covered: set[int] = set()


def case(n: int) -> None:
    assert n in CASES
    covered.add(n)


@pytest.fixture(scope="module")
def scene(deployment, chain_node, members, tmp_path_factory):
    """Two published footprints of one batch (the second supersedes the first), a PACT client."""
    tmp = tmp_path_factory.mktemp("carbon")
    # private partners allowed: webhook.example.com, the conformance list's requester, is not looked up
    c = make_client(deployment, chain_node, tmp, anchor_one_by_one_max=0, webhook_allow_private=True)
    h = login(c, members["merchant_a"])
    leaves, tea, dust = new_gtin(), new_gtin(), new_gtin()
    for gtin, name in ((leaves, "tea leaves"), (tea, "Wuyi rock tea"), (dust, "tea dust")):
        assert c.post("/v1/products", json={"gtin": gtin, "name": name}, headers=h).status_code == 201
    doc = {
        "@context": CTX,
        "type": "EPCISDocument",
        "schemaVersion": "2.0",
        "creationDate": "2026-11-09T00:00:00Z",
        "epcisBody": {"eventList": events(leaves, tea, dust)},
    }
    r = c.post("/v1/epcis/capture", json=doc, headers=h)
    assert r.status_code == 201, r.text
    key = members["merchant_a"]
    t = table(key.address, leaves) | {"country": "CN"}
    sig = factors.sign(t, bytes(key.key))
    # before its inputs are anchored, a footprint is refused
    r = c.post("/v1/carbon/factor-tables", json={"document": t, "signature": sig}, headers=h)
    assert r.status_code == 201, r.text
    r = c.post(f"/v1/carbon/batches/{tea}/P1/footprint", json={"table": t["version"]}, headers=h)
    assert r.status_code == 409 and "not anchored yet" in r.text, r.text
    assert c.post("/v1/epcis/anchor", headers=h).status_code == 200
    body = {"table": t["version"], "classifications": [CLASS]}
    first = c.post(f"/v1/carbon/batches/{tea}/P1/footprint", json=body, headers=h)
    assert first.status_code == 201, first.text
    second = c.post(f"/v1/carbon/batches/{tea}/P1/footprint", json=body, headers=h)
    assert second.status_code == 201, second.text
    cred = c.post("/v1/carbon/clients", headers=h).json()
    # the conformance list's requester, a partner of the merchant: its requests are accepted (and answered)
    partner = {"base_url": "https://webhook.example.com", "client_id": "test_client_id", "client_secret": "x"}
    assert c.post("/v1/carbon/partners", json=partner, headers=h).status_code == 201
    s = TestClient(c.app, base_url="https://testserver")
    basic = base64.b64encode(f"{cred['client_id']}:{cred['client_secret']}".encode()).decode()
    yield {
        "c": c,
        "s": s,
        "h": h,
        "tea": tea,
        "leaves": leaves,
        "first": first.json(),
        "second": second.json(),
        "basic": basic,
        "table": t,
        "dep": deployment[0],
        "key": key,
        "tmp": tmp,
        "manifest": deployment[1],
        "rpc": chain_node.url,
    }


def _token(scene) -> dict:
    r = scene["s"].post(
        "/pact/auth/token",
        data={"grant_type": "client_credentials"},
        headers={"Authorization": f"Basic {scene['basic']}"},
    )
    assert r.status_code == 200, r.text
    return {"Authorization": f"Bearer {r.json()['access_token']}"}


def test_the_footprint_is_computed_anchored_and_shown(scene):
    c, tea, first, second, h = scene["c"], scene["tea"], scene["first"], scene["second"], scene["h"]
    assert second["perUnit"] == "0.168900" and second["unit"] == "piece" and second["primaryDataShare"] == "25.99"
    assert second["precedingPfIds"] == [first["id"]] and second["block"] > 0
    shown = c.get(f"/v1/carbon/batches/{tea}/P1/footprint").json()
    assert shown["id"] == second["id"] and shown["stages"]["materials"] == "0.125000"
    preview = c.get(f"/v1/carbon/batches/{tea}/P1/preview", params={"table": "2026.1"}, headers=scene["h"]).json()
    assert preview["complete"] and preview["figures"]["pcfExcludingBiogenicUptake"] == "0.168900"
    # bad input: an unknown table, a wrong signature, a table in someone else's name
    assert (
        c.get(f"/v1/carbon/batches/{tea}/P1/preview", params={"table": "nope"}, headers=scene["h"]).status_code == 404
    )
    t2 = scene["table"] | {"version": "2026.2"}
    r = c.post("/v1/carbon/factor-tables", json={"document": t2, "signature": "0x" + "11" * 65}, headers=scene["h"])
    assert r.status_code == 422, r.text
    # a table without the chilled road intensity: the preview names it, and nothing is published
    t4 = scene["table"] | {"version": "2026.4", "transport": {"road": {"ambient": "0.1"}}}
    sig = factors.sign(t4, bytes(scene["key"].key))
    assert c.post("/v1/carbon/factor-tables", json={"document": t4, "signature": sig}, headers=h).status_code == 201
    preview = c.get(f"/v1/carbon/batches/{tea}/P1/preview", params={"table": "2026.4"}, headers=h).json()
    assert not preview["complete"] and "no transport intensity for road chilled" in preview["missing"][0]
    r = c.post(f"/v1/carbon/batches/{tea}/P1/footprint", json={"table": "2026.4"}, headers=h)
    assert r.status_code == 409 and r.json()["detail"]["missing"] == preview["missing"]
    assert c.get(f"/v1/carbon/batches/{tea}/P1/footprint").json()["id"] == second["id"]  # still the last one
    trend = c.get(f"/v1/carbon/products/{tea}/trend", headers=h).json()
    assert [(t["lot"], t["perUnit"], t["id"]) for t in trend] == [("P1", "0.168900", second["id"])]
    t3 = scene["table"] | {"version": "2026.3", "transport": {"truck": {"ambient": "1"}}}
    sig = factors.sign(t3, bytes(scene["key"].key))
    r = c.post("/v1/carbon/factor-tables", json={"document": t3, "signature": sig}, headers=scene["h"])
    assert r.status_code == 422 and "truck" in r.text


def test_classifications_are_unique_as_pact_requires(scene):
    """PACT 3.0 ProductFootprint.productClassifications: a non-empty set (uniqueItems); a list
    naming one twice would publish a document that breaks the schema, so it is refused first."""
    c, h, tea = scene["c"], scene["h"], scene["tea"]
    body = {"table": scene["table"]["version"], "classifications": [CLASS, CLASS]}
    r = c.post(f"/v1/carbon/batches/{tea}/P1/footprint", json=body, headers=h)
    assert r.status_code == 422 and "once" in r.text, r.text
    assert c.get(f"/v1/carbon/batches/{tea}/P1/footprint").json()["id"] == scene["second"]["id"]
    # ipccCharacterizationFactors is a set too: a factor table naming a report twice is refused
    t = scene["table"] | {"version": "2026.dup", "characterisationFactors": ["AR6", "AR6"]}
    sig = factors.sign(t, bytes(scene["key"].key))
    r = c.post("/v1/carbon/factor-tables", json={"document": t, "signature": sig}, headers=h)
    assert r.status_code == 422 and "once" in r.text, r.text


def test_verify_footprint_recomputes_from_proven_inputs_and_names_what_differs(scene):
    c, dep = scene["c"], scene["dep"]
    ev = c.get(f"/v1/carbon/batches/{scene['tea']}/P1/evidence").json()
    checks = verify_evidence(dep, ev)
    assert all(ch.ok for ch in checks), [(ch.name, ch.detail) for ch in checks if not ch.ok]
    assert len(ev["events"]) == 8
    # a service that shows a different figure than it anchored
    doc = copy.deepcopy(ev)
    doc["document"]["pcf"]["pcfExcludingBiogenicUptake"] = "0.100000"
    failed = {ch.name: ch.detail for ch in verify_evidence(dep, doc) if not ch.ok}
    assert (
        "footprint hash" in failed
        and "pcfExcludingBiogenicUptake: document 0.100000, recomputed 0.168900"
        in (failed["recomputed from proven inputs"])
    )
    # an input event altered (a shorter leg): its proof fails, and without it the figure is not reproduced
    doc = copy.deepcopy(ev)
    leg = next(e for e in doc["events"] if e["body"].get("tlc:distanceKm") == "100")
    leg["body"]["tlc:distanceKm"] = "10"
    failed = {ch.name: ch.detail for ch in verify_evidence(dep, doc) if not ch.ok}
    assert "body does not give its digest" in failed["input events proven on chain"]
    assert "recomputed from proven inputs" in failed
    # a factor table swapped for one never anchored
    doc = copy.deepcopy(ev)
    doc["factorTable"]["document"]["electricity"]["kgCO2ePerKWh"] = "0.1"
    failed = {ch.name for ch in verify_evidence(dep, doc) if not ch.ok}
    assert {
        "factor table hash",
        "factor table signed by its publisher",
        "factor table anchored by its publisher",
    } <= failed


@contextlib.contextmanager
def _served(app) -> Iterator[str]:
    """The scene's app behind a real uvicorn server in this process (no second start-up of the API)."""
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=free_port(), log_level="warning", lifespan="off")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        for _ in range(600):
            if server.started:
                break
            assert thread.is_alive()
            time.sleep(0.05)
        yield f"http://127.0.0.1:{server.config.port}"
    finally:
        server.should_exit = True
        thread.join(30)


def test_the_cli_verifies_a_footprint_from_its_digital_link(scene, capsys, monkeypatch):
    monkeypatch.setenv("LEDGER_MANIFEST", str(scene["manifest"]))

    def cli(uri: str) -> tuple[int, str, str]:
        try:
            main(["verify-footprint", uri, "--rpc", scene["rpc"]])
            code = 0
        except SystemExit as exc:
            code = int(exc.code or 0)
        out = capsys.readouterr()
        return code, out.out, out.err

    with _served(scene["c"].app) as url:
        code, out, err = cli(f"{url}/01/{scene['tea']}/10/P1")
        assert code == 0, out + err
        assert "ok    recomputed from proven inputs: every figure matches" in out
        assert "ok    footprint anchored over its inputs" in out
        code, out, err = cli(f"{url}/01/{scene['leaves']}/10/L1")  # no footprint of the leaves was published
        assert code == 1 and "404" in err


def test_pact_auth_and_transport(scene):
    s, c = scene["s"], scene["c"]
    case(1)
    r = s.post(
        "/pact/auth/token",
        data={"grant_type": "client_credentials"},
        headers={"Authorization": f"Basic {scene['basic']}"},
    )
    assert r.status_code == 200 and r.json()["token_type"] == "Bearer" and r.json()["expires_in"] == 3600
    case(2)
    wrong = base64.b64encode(b"pc_nobody:secret").decode()
    r = s.post(
        "/pact/auth/token", data={"grant_type": "client_credentials"}, headers={"Authorization": f"Basic {wrong}"}
    )
    assert r.status_code in (400, 401) and r.json()["error"] == "invalid_client"
    r = s.post(
        "/pact/auth/token", data={"grant_type": "password"}, headers={"Authorization": f"Basic {scene['basic']}"}
    )
    assert r.status_code == 400 and r.json()["error"] == "unsupported_grant_type"
    # RFC 6749 §5.2: a missing (or repeated, §3.2) grant_type is an invalid_request, not an unsupported grant
    form = {"Authorization": f"Basic {scene['basic']}", "Content-Type": "application/x-www-form-urlencoded"}
    for body in (b"", b"scope=x", b"grant_type=client_credentials&grant_type=client_credentials"):
        r = s.post("/pact/auth/token", content=body, headers=form)
        assert r.status_code == 400 and r.json()["error"] == "invalid_request", (body, r.text)
    h = _token(scene)
    pf = scene["second"]["id"]
    case(9)
    r = c.post(
        "/pact/auth/token",
        data={"grant_type": "client_credentials"},
        headers={"Authorization": f"Basic {scene['basic']}"},
    )
    assert r.status_code == 403 and "access_token" not in r.text
    for n, method, path in (
        (10, "GET", "/pact/3/footprints"),
        (11, "GET", f"/pact/3/footprints/{pf}"),
        (17, "POST", "/pact/3/events"),
    ):
        case(n)
        r = c.request(method, path, headers=h | CE, content=b"{}" if method == "POST" else None)
        assert r.status_code == 403 and "data" not in r.json() and r.json()["code"] == "AccessDenied"
    for n, method, path in (
        (6, "GET", "/pact/3/footprints"),
        (7, "GET", f"/pact/3/footprints/{pf}"),
        (16, "POST", "/pact/3/events"),
    ):
        case(n)
        bad = {"Authorization": "Bearer invalid-access-token"} | CE
        r = s.request(method, path, headers=bad, content=b"{}" if method == "POST" else None)
        assert r.status_code == 400 and r.json() == {"code": "BadRequest", "message": "Invalid token provided"}
    for creds in ({}, {"Authorization": "Basic YTpi"}, {"Authorization": "Bearer "}):  # PACT's AccessDenied: a 403
        r = s.get("/pact/3/footprints", headers=creds)
        assert r.status_code == 403 and r.json()["code"] == "AccessDenied" and "data" not in r.json(), creds
    case(18)
    case(19)  # OpenID Connect: not mandatory and not offered; there is no discovery document
    assert s.get("/pact/.well-known/openid-configuration").status_code == 404


def _list(scene, h, **params) -> list[dict]:
    r = scene["s"].get("/pact/3/footprints", params=params, headers=h)
    assert r.status_code == 200, r.text
    for doc in r.json()["data"]:
        VALIDATOR.validate(doc)
    return r.json()["data"]


def test_pact_footprints_get_list_page_and_every_filter(scene):
    s, h = scene["s"], _token(scene)
    first, second = scene["first"]["id"], scene["second"]["id"]
    ours = {first, second}
    case(3)
    r = s.get(f"/pact/3/footprints/{second}", headers=h)
    assert r.status_code == 200 and r.json()["data"]["precedingPfIds"] == [first]
    VALIDATOR.validate(r.json()["data"])
    assert s.get(f"/pact/3/footprints/{first}", headers=h).json()["data"]["status"] == "Deprecated"
    case(8)
    r = s.get("/pact/3/footprints/non-existent-id", headers=h)
    assert r.status_code == 404 and r.json()["code"] == "NotFound"
    case(4)
    assert ours <= {d["id"] for d in _list(scene, h)}
    case(5)
    r = s.get("/pact/3/footprints", params={"limit": 1}, headers=h)
    assert len(r.json()["data"]) == 1 and r.headers["link"].startswith("<https://testserver/pact/3/footprints?")
    seen = [r.json()["data"][0]["id"]]
    while "link" in r.headers:
        nxt = r.headers["link"].split(">")[0][1:]
        r = s.get(nxt, headers=h)
        assert r.status_code == 200 and len(r.json()["data"]) <= 1
        seen += [d["id"] for d in r.json()["data"]]
    assert len(seen) == len(set(seen)) and ours <= set(seen)
    product = f"urn:pact:id.gs1.org:product-id:01/{scene['tea']}/10/P1"
    company = _list(scene, h)[0]["companyIds"][0]
    valid = _list(scene, h, productId=product)[0]
    positive = {
        20: {"productId": product.upper()},
        21: {"companyId": company},
        22: {"geography": "cn"},
        23: {"classification": CLASS},
        24: {"validOn": valid["validityPeriodStart"]},
        25: {"validAfter": "2026-01-01T00:00:00Z"},
        26: {"validBefore": "2099-01-01T00:00:00Z"},
        27: {"status": "Active"},
        28: {"status": "active", "productId": product},
        29: {"companyId": [company, "urn:uuid:other-company", "urn:uuid:another-company"]},
    }
    for n, params in positive.items():
        case(n)
        got = {d["id"] for d in _list(scene, h, **params)}
        assert second in got, (n, params)
        assert (first in got) == (n not in (27, 28)), (n, params)
    assert {d["id"] for d in _list(scene, h, status="Deprecated", productId=product)} == {first}
    for n in range(30, 40):
        case(n)
        path = CASES[n]["request"]
        r = s.get("/pact" + path, headers=h)
        assert r.status_code == 200 and r.json() == {"data": []}, (n, r.text)
    # superscript and full-width digits: str.isdigit() takes both, int() refuses the first (it was a 500)
    odd_digits = ({"limit": "\u00b2"}, {"limit": "\uff13"}, {"offset": "\u00b9"})
    for bad in ({"validOn": "yesterday"}, {"limit": "0"}, {"limit": "x"}, {"$filter": "a eq b"}, *odd_digits):
        r = s.get("/pact/3/footprints", params=bad, headers=h)
        assert r.status_code == 400 and r.json()["code"] == "BadRequest", bad


def test_pact_limit_is_any_positive_integer(scene):
    """PACT 3.0 ListFootprints: `limit` is a positive integer the host MAY answer with fewer
    footprints (and a next link); a large one is not a bad request."""
    s, h = scene["s"], _token(scene)
    for limit in ("1001", "5000", "999999999999"):
        r = s.get("/pact/3/footprints", params={"limit": limit}, headers=h)
        assert r.status_code == 200, (limit, r.text)
        assert {scene["first"]["id"], scene["second"]["id"]} <= {d["id"] for d in r.json()["data"]}


def test_pact_product_ids_are_urns(scene):
    """PACT 3.0, "Product Identifier URNs": each product ID MUST be an RFC 8141 URN (a GS1 Digital
    Link URI is not one); the batch is named in PACT's own namespace, its id the Digital Link path."""
    s, h = scene["s"], _token(scene)
    doc = s.get(f"/pact/3/footprints/{scene['second']['id']}", headers=h).json()["data"]
    assert doc["productIds"] == [f"urn:pact:id.gs1.org:product-id:01/{scene['tea']}/10/P1"], doc["productIds"]
    urns = doc["productIds"] + doc["companyIds"] + doc["productClassifications"]
    assert all(u[:4].lower() == "urn:" and u.count(":") >= 2 for u in urns), urns
    got = _list(scene, h, productId=doc["productIds"][0])
    assert {d["id"] for d in got} == {scene["first"]["id"], scene["second"]["id"]}


def test_pact_events(scene):
    s, h = scene["s"], _token(scene)
    base = {"specversion": "1.0", "source": "https://webhook.example.com", "time": "2023-05-19T10:30:00Z"}
    kinds = {
        12: ("RequestCreatedEvent", {"productId": ["urn:gtin:1234567890123"], "comment": "Please send PCF data."}),
        13: ("RequestFulfilledEvent", {"requestEventId": "r-1", "pfs": [{"id": scene["second"]["id"]}]}),
        14: ("RequestRejectedEvent", {"requestEventId": "r-1", "error": {"code": "NotFound", "message": "none"}}),
        15: ("PublishedEvent", {"pfIds": [scene["second"]["id"]]}),
    }
    for n, (kind, data) in kinds.items():
        case(n)
        ev = base | {"id": f"ev-{n}", "type": f"org.wbcsd.pact.ProductFootprint.{kind}.3", "data": data}
        for _ in range(2):  # the same event twice is accepted once
            r = s.post("/pact/3/events", content=json.dumps(ev), headers=h | CE)
            assert r.status_code == 200 and r.content == b"", r.text
    good = base | {"id": "ev-x", "type": "org.wbcsd.pact.ProductFootprint.PublishedEvent.3", "data": {"pfIds": ["a"]}}
    for broken in (
        {"type": "org.wbcsd.pact.ProductFootprint.PublishedEvent.1"},
        {"specversion": "0.3"},
        {"data": {"pfIds": []}},
        {"time": "noon"},
        {"id": ""},
        {"type": "org.wbcsd.pact.ProductFootprint.RequestCreatedEvent.3", "data": {"colour": "red"}},
    ):
        r = s.post("/pact/3/events", content=json.dumps(good | broken), headers=h | CE)
        assert r.status_code == 400 and r.json()["code"] == "BadRequest", broken
    r = s.post("/pact/3/events", content=json.dumps(good), headers=h | {"Content-Type": "text/plain"})
    assert r.status_code == 400
    for body in (b"{not json", b"[" * 5000 + b"]" * 5000):  # nested thousands deep: a 400, not a 500
        assert s.post("/pact/3/events", content=body, headers=h | CE).status_code == 400
    # a request whose source is no partner of the merchant: accepted and kept (conformance case 12 sends
    # one from wherever its tester runs), never answered: no URL a client names is called
    ev = base | {
        "source": "https://stranger.example.com",
        "id": "ev-stranger",
        "type": "org.wbcsd.pact.ProductFootprint.RequestCreatedEvent.3",
        "data": {"productId": ["urn:gtin:1"]},
    }
    r = s.post("/pact/3/events", content=json.dumps(ev), headers=h | CE)
    assert r.status_code == 200, r.text


def test_pact_events_are_validated(scene):
    """PACT 3.0 Action Events: the host MUST validate the event and answer 4xx when it is invalid;
    `time` is a CloudEvents RFC 3339 timestamp, a request's criteria have ListFootprints' types."""
    s, h = scene["s"], _token(scene)
    created = "org.wbcsd.pact.ProductFootprint.RequestCreatedEvent.3"
    base = {"specversion": "1.0", "source": "https://webhook.example.com", "id": "ev-v", "type": created,
            "time": "2023-05-19T10:30:00Z", "data": {"productId": ["urn:gtin:1234567890123"]}}  # fmt: skip
    fine = (
        {},
        {"time": "2023-05-19T10:30:00.123+08:00", "id": "ev-v2"},
        {"id": "ev-v3", "data": {"geography": ["DE"], "validAfter": "2025-01-01T00:00:00Z", "status": "Active"}},
    )
    for change in fine:
        r = s.post("/pact/3/events", content=json.dumps(base | change), headers=h | CE)
        assert r.status_code == 200, (change, r.text)
    for broken in (
        {"time": "2023-05-19"},  # a date, no time
        {"time": "2023-05-19T10:30:00"},  # no offset
        {"time": "20230519T103000Z"},  # ISO 8601 basic format, not RFC 3339
        {"time": "2023-02-30T10:30:00Z"},  # no such day
        {"data": {"productId": "urn:gtin:1234567890123"}},  # a string, not a list
        {"data": {"productId": []}},
        {"data": {"companyId": [42]}},
        {"data": {"productId": ["urn:gtin:1"], "validOn": "yesterday"}},
        {"data": {"productId": ["urn:gtin:1"], "status": ["Active"]}},
        {"data": {"productId": ["urn:gtin:1"], "comment": {"text": "hi"}}},
    ):
        r = s.post("/pact/3/events", content=json.dumps(base | {"id": "ev-bad"} | broken), headers=h | CE)
        assert r.status_code == 400 and r.json()["code"] == "BadRequest", (broken, r.text)


def test_the_scan_page_shows_the_footprint_in_both_languages(scene):
    c, h, tea = scene["c"], scene["h"], scene["tea"]
    assert c.post("/v1/batches", json={"gtin": tea, "lot": "P1"}, headers=h).status_code == 201
    issue = c.post(f"/v1/batches/{tea}/P1/codes", json={"count": 2}, headers=h).json()
    path = "/" + issue["sample"][0].split("://", 1)[1].split("/", 1)[1]
    shown = c.get(path, headers={"Accept": "application/json"}).json()["carbon"]
    assert shown["perUnit"] == "0.168900" and shown["id"] == scene["second"]["id"]
    join = "&" if "?" in path else "?"
    en = c.get(path + join + "lang=en", headers={"Accept": "text/html"}).text
    assert "<strong>0.168900</strong> kg CO₂e per piece, cradle-to-gate" in en and "primary data 25.99 %" in en
    assert f"anchored in block {scene['second']['block']}" in en
    assert '<li data-stage="storage">Cold storage 0.000150<br><progress' in en
    zh = c.get(path + join + "lang=zh", headers={"Accept": "text/html"}).text
    assert "碳足迹" in zh and "一手数据 25.99 %" in zh
    link = f"/v1/carbon/footprints/{shown['id']}"
    assert f'href="{link}"' in en and c.get(link).json()["data"]["id"] == shown["id"]


def test_the_resolver_serves_the_footprint_as_sustainability_info(scene):
    c, tea = scene["c"], scene["tea"]
    r = c.get(f"/01/{tea}/10/P1", params={"linkType": "gs1:sustainabilityInfo"}, follow_redirects=False,
              headers={"Accept": "application/json"})  # fmt: skip
    assert r.status_code in (302, 303, 307, 308), r.text
    target = r.headers["location"]
    assert target.endswith(f"/v1/carbon/batches/{tea}/P1/footprint")
    local = "/" + target.split("://", 1)[1].split("/", 1)[1]
    assert c.get(local, headers={"Accept": "application/json"}).json()["perUnit"] == "0.168900"
    page = c.get(local, params={"lang": "zh"}, headers={"Accept": "text/html"})
    assert page.headers["content-type"].startswith("text/html") and "碳足迹" in page.text and "0.168900" in page.text
    links = c.get(f"/01/{tea}/10/P1", params={"linkType": "linkset"}, headers={"Accept": "application/linkset+json"})
    assert "sustainabilityInfo" in links.text


def test_inputs_recorded_in_their_batch_hash_chain_are_proven_too(deployment, chain_node, members, tmp_path):
    """Few events: each is recorded one by one into its batch's hash chain (not a Merkle root);
    the verifier finds each in the chain's EventRecorded log."""
    c = make_client(deployment, chain_node, tmp_path, anchor_one_by_one_max=10)
    h, key = login(c, members["merchant_a"]), members["merchant_a"]
    leaves = new_gtin()
    assert c.post("/v1/products", json={"gtin": leaves, "name": "tea leaves"}, headers=h).status_code == 201
    assert c.post("/v1/batches", json={"gtin": leaves, "lot": "L1"}, headers=h).status_code == 201
    doc = {"@context": CTX, "type": "EPCISDocument", "schemaVersion": "2.0", "creationDate": "2026-11-09T00:00:00Z",
           "epcisBody": {"eventList": events(leaves, new_gtin(), new_gtin())[:3]}}  # fmt: skip
    assert c.post("/v1/epcis/capture", json=doc, headers=h).status_code == 201
    methods = {a["method"] for a in c.post("/v1/epcis/anchor", headers=h).json()["anchors"]}
    assert methods == {"batchChain"}, methods
    t = table(key.address, leaves, version="chain-1")
    r = c.post(
        "/v1/carbon/factor-tables", json={"document": t, "signature": factors.sign(t, bytes(key.key))}, headers=h
    )
    assert r.status_code == 201, r.text
    r = c.post(f"/v1/carbon/batches/{leaves}/L1/footprint", json={"table": "chain-1"}, headers=h)
    assert r.status_code == 201, r.text
    assert r.json()["unit"] == "kilogram" and r.json()["perUnit"] == "0.520000"  # 0.5 + 100 km x 1 t x 0.2 / 1000 kg
    ev = c.get(f"/v1/carbon/footprints/{r.json()['id']}/evidence").json()
    assert {e["proof"]["method"] for e in ev["events"]} == {"batchChain"}
    checks = verify_evidence(deployment[0], ev)
    assert all(ch.ok for ch in checks), [(ch.name, ch.detail) for ch in checks if not ch.ok]


def test_every_case_of_the_conformance_list_is_covered():
    """Runs last in this module: each case of PACT's v3 list was exercised above."""
    assert covered == set(CASES), sorted(set(CASES) - covered)


def test_the_public_evidence_is_built_once_not_on_every_request(scene, monkeypatch):
    """An anonymous caller asking for the evidence again and again does not make us read and
    serialise the whole genealogy each time (api/carbon/evidence_cache.py)."""
    from ledger.carbon import records

    built = []
    real = records.evidence
    monkeypatch.setattr(records, "evidence", lambda db, row: built.append(row.id) or real(db, row))
    path = f"/v1/carbon/batches/{scene['tea']}/P1/evidence"
    answers = [scene["c"].get(path) for _ in range(5)]
    assert all(a.status_code == 200 for a in answers) and len({a.content for a in answers}) == 1
    assert len(built) <= 1  # built by this test once, or already by an earlier one
