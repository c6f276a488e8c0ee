"""The consumer's scan: verdicts, facts, scan history, privacy; and the page as a person sees it,
rendered by headless Debian chromium in both languages."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
from html.parser import HTMLParser

import pytest
from eth_utils import keccak
from fastapi.testclient import TestClient

from api.app import create_app
from api.core.settings import Settings
from ledger.chain.client import Sender
from ledger.chain.indexer import Indexer
from ledger.trace import digital_link
from ledger.trace.verify import verify_code

from .conftest import free_port
from .helpers import DOMAIN, authorise, login, make_client, new_gtin, serve


@pytest.fixture
def scene(deployment, chain_node, tmp_path, members):
    """A product, a batch with two chained events, issued codes, all indexed."""
    dep, _ = deployment
    c = make_client(deployment, chain_node, tmp_path)
    a = login(c, members["merchant_a"])
    gtin = new_gtin()
    assert c.post("/v1/products", json={"gtin": gtin, "name": "Anji white tea"}, headers=a).status_code == 201
    batch = c.post("/v1/batches", json={"gtin": gtin, "lot": "AJ-7"}, headers=a).json()
    authorise(c, a, gtin, members["producer"], members["logistics"])
    prov = dep.contract("Provenance")
    for who, step in (("producer", "harvested"), ("logistics", "shipped")):
        Sender(dep.w3, members[who], dep.decoder()).transact(
            prov.functions.recordEvent(bytes.fromhex(batch["batch_id"][2:]), keccak(text=step))
        )
    issue = c.post(f"/v1/batches/{gtin}/AJ-7/codes", json={"count": 5}, headers=a).json()
    # supply chain events as EPCIS documents: the batch made, then one of its items shipped
    serial = digital_link.parse(issue["sample"][1]).serial
    made = epcis_event("commissioning", "2026-11-01T09:00:00+08:00", "ADD")
    made["quantityList"] = [{"epcClass": f"https://id.gs1.org/01/{gtin}/10/AJ-7", "quantity": 5}]
    shipped = epcis_event("shipping", "2026-11-02T09:00:00+08:00", "OBSERVE")
    shipped["epcList"] = [f"https://id.gs1.org/01/{gtin}/21/{serial}"]
    # each anchored as it comes (low volume): the batch's event goes into its on-chain hash chain,
    # signed by the producer; the item's (no lot, so no batch) into a Merkle root
    for who, event, method in (("producer", made, "batchChain"), ("logistics", shipped, "merkle")):
        r = c.post("/v1/epcis/capture", json=event, headers=login(c, members[who]))
        assert r.status_code == 201, r.text
        assert [x["method"] for x in c.post("/v1/epcis/anchor", headers=a).json()["anchors"]] == [method]
    Indexer(dep, c.app.state.services.engine, confirmations=0).run()
    return c, gtin, batch, issue, tmp_path


def epcis_event(step: str, when: str, action: str) -> dict:
    return {
        "@context": ["https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld"],
        "type": "ObjectEvent",
        "eventTime": when,
        "eventTimeZoneOffset": "+08:00",
        "action": action,
        "bizStep": step,
        "readPoint": {"id": "urn:epc:id:sgln:0614141.07346.1234"},
    }


def path_of(uri: str) -> str:
    return uri.split("://", 1)[1].split("/", 1)[1]


def scan(c, uri: str, **headers):
    return c.get("/" + path_of(uri), headers={"Accept": "application/json", **headers})


def test_genuine_code_shows_its_history(scene, members):
    c, gtin, _, issue, _ = scene
    r = scan(c, issue["sample"][0])
    assert r.status_code == 200, r.text
    d = r.json()
    assert d["verdict"] == "genuine" and d["signature"]["ok"]
    assert d["product"] == {"gtin": gtin, "name": "Anji white tea"}
    assert [e["event"] for e in d["timeline"]] == ["BatchRegistered"] + ["EventRecorded"] * 3
    assert [e["recorder"] for e in d["timeline"][1:]] == [
        members[who].address for who in ("producer", "logistics", "producer")
    ]
    # the last on-chain entry is the captured EPCIS event, named as such
    assert [e.get("epcis", {}).get("biz_step") for e in d["timeline"]] == [None, None, None, "commissioning"]
    assert d["timeline"][3]["epcis"]["hash_id"] == d["supply_chain"][0]["hash_id"]
    assert d["merchant"]["address"] == members["merchant_a"].address
    # EPCIS events about this item's batch, with who recorded each and where it is anchored
    assert [(e["biz_step"], e["recorder"]) for e in d["supply_chain"]] == [
        ("commissioning", members["producer"].address)
    ]
    assert d["supply_chain"][0]["anchor"]["proof_url"].startswith("/v1/epcis/proofs/")
    masked = {"tx_hash": None, "block_number": None, "proof_url": None, "page_url": None}
    assert d["supply_chain"][0]["anchor"] | masked == {
        "method": "batch_chain",
        "batch_id": d["batch"]["batch_id"],
        "index": 2,  # after the two recorded directly
        "tx_hash": None,
        "block_number": None,
        "proof_url": None,
        "page_url": None,
    }
    shipped = scan(c, issue["sample"][1]).json()["supply_chain"]
    assert [e["biz_step"] for e in shipped] == ["commissioning", "shipping"]
    assert shipped[1]["recorder"] == members["logistics"].address
    assert shipped[1]["read_point"] == "https://id.gs1.org/414/0614141073467/254/1234"
    assert c.get(shipped[1]["anchor"]["proof_url"]).json()["status"] == "anchored"
    assert set(d["merchant"]["deposit"]) == {"balance_fen", "frozen_fen", "required_fen"}
    assert d["proof"]["root"] == issue["root"] and d["scans_before"]["count"] == 0
    again = scan(c, issue["sample"][0]).json()
    assert again["scans_before"]["count"] == 1 and again["scans_before"]["first_at"]
    text = r.text
    for other in issue["sample"][1:]:
        assert other.split("/21/")[1].split("?")[0] not in text  # no other codes leak
    assert "order_id" not in text and "escrow" not in text.lower()


def test_tampered_and_unknown_codes(scene):
    c, gtin, _, issue, _ = scene
    uri = issue["sample"][0]
    serial = uri.split("/21/")[1].split("?")[0]
    other = issue["sample"][1].split("/21/")[1].split("?")[0]
    assert scan(c, uri.replace(serial, other)).json()["verdict"] == "forged"
    sig = re.search(r"[?&]s=([^&]+)", uri).group(1)
    assert scan(c, uri.replace(sig, "A" * len(sig))).json()["verdict"] == "forged"
    assert scan(c, uri.split("?")[0]).json()["verdict"] == "forged"
    signer = c.app.state.services.code_signer
    key_path = f"01/{gtin}/10/AJ-7/21/NEVERISSUED1"
    unknown = f"/{key_path}?k={signer.kid}&s={signer.sign(key_path)}"
    d = c.get(unknown, headers={"Accept": "application/json"}).json()
    assert d["verdict"] == "unknown" and "product" not in d
    bad = c.get(f"/01/{gtin[:-1]}{(int(gtin[-1]) + 1) % 10}/10/AJ-7/21/X", headers={"Accept": "application/json"})
    assert bad.status_code == 400 and "check digit" in bad.json()["detail"][0]["reason"]  # GS1 resolver: 400


def test_recalled_batch(scene, deployment, members):
    c, _, batch, issue, _ = scene
    dep, _ = deployment
    assert scan(c, issue["sample"][0]).json()["verdict"] == "genuine"
    Sender(dep.w3, members["inspector"], dep.decoder()).transact(
        dep.contract("Provenance").functions.recall(bytes.fromhex(batch["batch_id"][2:]), "pesticide residue")
    )
    Indexer(dep, c.app.state.services.engine, confirmations=0).run()
    time.sleep(2 * c.app.state.services.settings.scan_cache_s)  # a batch's facts are shown up to this old
    d = scan(c, issue["sample"][0]).json()
    assert d["verdict"] == "recalled" and d["reason"] == "pesticide residue"
    assert d["timeline"][-1]["event"] == "BatchRecalled"


def test_scans_with_a_forged_signature_do_not_count_toward_the_code(scene):
    """Knowing a genuine code's GTIN, lot and serial was enough to turn its next genuine scan
    "suspicious": 21 scans with any signature counted toward it (found by an outside probe). A scan
    counts toward a code only when its signature checks; a forged one is still recorded, as forged."""
    c, _, _, issue, _ = scene
    real = issue["sample"][2]
    forged = real.split("?", 1)[0] + f"?k={digital_link.parse(real).params['k']}&s=AAAA"
    assert {scan(c, forged).json()["verdict"] for _ in range(21)} == {"forged"}
    d = scan(c, real).json()
    assert (d["verdict"], d["scans_before"]["count"]) == ("genuine", 0)
    assert scan(c, real).json()["scans_before"]["count"] == 1


def test_copied_code_turns_suspicious(scene):
    c, _, _, issue, _ = scene
    verdicts = [scan(c, issue["sample"][2]).json()["verdict"] for _ in range(21)]
    assert verdicts[:20] == ["genuine"] * 20 and verdicts[20] == "suspicious"
    page = c.get("/" + path_of(issue["sample"][2]), headers={"Accept": "text/html"}).text
    assert 'data-verdict="suspicious"' in page and 'id="suspicious-advice"' in page and "复制" in page


def test_switching_the_scan_pages_language_is_not_another_scan(scene):
    """Switching language twice took a code two scans nearer 'suspicious': the page's own switch link
    carries a token of this client, code and time; a scan carrying it is answered, not counted. A
    token is no use to another client (it cannot be printed into a copied code's QR) or later."""
    import html
    import re

    c, _, _, issue, _ = scene
    path = "/" + path_of(issue["sample"][1])
    counted = lambda: scan(c, issue["sample"][1]).json()["scans_before"]["count"]  # noqa: E731 (counts itself too)
    page = c.get(path, headers={"Accept": "text/html"}).text
    switch = html.unescape(re.search(r'<a class="lang" href="([^"]+)"', page).group(1))
    assert "lang=en" in switch and "v=" in switch
    scans = c.get(path.split("?")[0] + switch, headers={"Accept": "text/html"}).text.split('id="scans"')[1]
    count = counted()  # the earlier scans the English page saw (this scan is recorded after it answers)
    assert ("once, on " in scans) == (count == 1) and "1 times" not in scans, (count, scans[:300])
    assert "(yours just now among them)" in scans, scans[:300]  # the page's own link: this shopper's scan is one
    assert "yours_included" not in scan(c, issue["sample"][1]).json()["scans_before"]  # a plain scan: not said
    before = counted()
    for _ in range(3):  # to English and back, and again
        again = c.get(path.split("?")[0] + switch, headers={"Accept": "text/html"})
        assert again.status_code == 200 and 'data-verdict="genuine"' in again.text
    assert counted() == before + 1  # only the plain scan between counted
    other = TestClient(c.app, client=("198.51.100.7", 50000))  # another client with the same link: counted
    assert other.get(path.split("?")[0] + switch, headers={"Accept": "text/html"}).status_code == 200
    assert counted() == before + 3
    bad = c.get(path + "&v=zz", headers={"Accept": "application/json"})
    assert bad.status_code == 422 and bad.json()["detail"][0]["field"] == "query.v"


def test_scans_written_in_batches_still_count_and_all_land(scene):
    from fastapi.testclient import TestClient
    from sqlalchemy import func, select

    from ledger.store.models import Scan

    c, _, _, issue, _ = scene
    with TestClient(c.app) as live:  # with the app's lifespan: the batched scan writer runs
        assert live.app.state.services.scans._running
        verdicts = [scan(live, issue["sample"][2]).json()["verdict"] for _ in range(21)]
        assert verdicts[:20] == ["genuine"] * 20 and verdicts[20] == "suspicious"  # unwritten ones count
    with c.app.state.services.sessions() as db:  # and on shutdown every one of them is written
        assert (
            db.scalar(
                select(func.count())
                .select_from(Scan)
                .where(Scan.serial == issue["sample"][2].split("/21/")[1].split("?")[0])
            )
            == 21
        )


class _Dom(HTMLParser):
    def __init__(self):
        super().__init__()
        self.verdict, self.events, self._in_verdict, self.verdict_text = None, [], False, ""
        self.steps, self.epcis_steps = [], []

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if a.get("id") == "verdict":
            self.verdict, self._in_verdict = a.get("data-verdict"), True
        if tag == "li" and "data-event" in a:
            self.events.append(a["data-event"])
            self.epcis_steps.append(a.get("data-epcis-step"))
        if tag == "li" and "data-biz-step" in a:
            self.steps.append(a["data-biz-step"])

    def handle_endtag(self, tag):
        if tag == "div":
            self._in_verdict = False

    def handle_data(self, data):
        if self._in_verdict:
            self.verdict_text += data


@pytest.fixture
def live(scene, deployment, chain_node):
    c, _, _, issue, tmp_path = scene
    _, manifest = deployment
    env = {
        "LEDGER_RPC_URL": chain_node.url,
        "LEDGER_MANIFEST": str(manifest),
        "LEDGER_DATABASE_URL": f"sqlite:///{tmp_path / 'api.sqlite3'}",
        "LEDGER_SIWE_DOMAIN": DOMAIN,
        "LEDGER_CODE_KEY_DIR": str(c.app.state.services.settings.code_key_dir),
    }
    with serve(env, tmp_path / "uvicorn.log", free_port()) as url:
        yield url, issue


def chromium_dom(url: str, lang: str, profile) -> str:
    browser = shutil.which("chromium")
    if browser is None:
        pytest.fail("Debian chromium is not installed: `make test` installs it (apt-get install chromium)")
    out = subprocess.run(
        [
            browser,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            f"--user-data-dir={profile}",
            f"--lang={lang}",
            f"--accept-lang={lang}",
            "--dump-dom",
            url,
        ],
        check=True,
        capture_output=True,
        text=True,
        timeout=60,
    )
    return out.stdout


def test_page_in_a_real_browser_in_both_languages(live, tmp_path):
    base, issue = live
    uri = base + "/" + path_of(issue["sample"][1])
    for lang, word, step, shipped, entry in (
        ("en", "Genuine", "Event", "shipping", "entry 3 of the batch's on-chain history"),
        ("zh", "正品", "事件", "发货", "批次链上记录第 3 条"),
    ):
        dom = chromium_dom(f"{uri}&lang={lang}", lang, tmp_path / f"profile-{lang}")
        page = _Dom()
        page.feed(dom)
        assert page.verdict == "genuine" and word in page.verdict_text
        assert page.events == ["BatchRegistered"] + ["EventRecorded"] * 3
        assert page.epcis_steps == [None, None, None, "commissioning"]
        assert step in dom and "Anji white tea" in dom
        assert page.steps == ["commissioning", "shipping"] and shipped in dom and entry in dom
    forged = chromium_dom(uri.replace("&s=", "&s=AA"), "zh", tmp_path / "profile-forged")
    page = _Dom()
    page.feed(forged)
    assert page.verdict == "forged" and "伪造" in page.verdict_text
    assert 'id="fake-advice"' in forged and "12315" in forged  # what to do, not only the verdict


def test_verify_checks_everything_against_the_chain(scene, deployment, members):
    c, _, batch, issue, _ = scene
    dep, _ = deployment

    def fetch(link):
        r = c.get(f"/v1/proofs/01/{link.gtin}/10/{link.lot}/21/{link.serial}")
        assert r.status_code == 200, r.text
        return r.json()

    uri = issue["sample"][0]
    checks = verify_code(dep, uri, fetch)
    assert [x.name for x in checks] == [
        "GS1 Digital Link",
        "root anchored on chain",
        "anchored by the product's merchant",
        "signing key published with the root",
        "signature",
        "signing key not revoked",
        "code is in the anchored set",
        "batch not recalled",
    ]
    assert all(x.ok for x in checks), checks
    serial = uri.split("/21/")[1].split("?")[0]
    other = issue["sample"][1].split("/21/")[1].split("?")[0]
    # a copied signature on another serial: the signature check fails (the proof is for the other code)
    tampered = {x.name: x.ok for x in verify_code(dep, uri.replace(serial, other), fetch)}
    assert tampered["signature"] is False and tampered["root anchored on chain"] is True
    # a lying resolver cannot help: a proof for another leaf does not verify this code
    lying = {x.name: x.ok for x in verify_code(dep, uri, lambda link: fetch(type(link)(link.gtin, link.lot, other)))}
    assert lying["code is in the anchored set"] is False
    Sender(dep.w3, members["inspector"], dep.decoder()).transact(
        dep.contract("Provenance").functions.recall(bytes.fromhex(batch["batch_id"][2:]), "mislabelled")
    )
    after = {x.name: x for x in verify_code(dep, uri, fetch)}
    assert after["batch not recalled"].ok is False and "RECALLED" in after["batch not recalled"].detail


def test_verify_cli_against_a_live_resolver(live, deployment, chain_node):
    base, issue = live
    _, manifest = deployment
    env = {**os.environ, "LEDGER_RPC_URL": chain_node.url, "LEDGER_MANIFEST": str(manifest)}
    uri = issue["sample"][1]
    ok = subprocess.run(
        [sys.executable, "-m", "ledger", "verify", uri, "--resolver", base],
        env=env,
        check=False,
        capture_output=True,
        text=True,
    )
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert ok.stdout.count("ok  ") == 8 and "FAIL" not in ok.stdout
    sig = re.search(r"[?&]s=([^&]+)", uri).group(1)
    bad = subprocess.run(
        [sys.executable, "-m", "ledger", "verify", uri.replace(sig, "B" * len(sig)), "--resolver", base],
        env=env,
        check=False,
        capture_output=True,
        text=True,
    )
    assert bad.returncode == 1 and "FAIL  signature" in bad.stdout


def test_chain_node_down_still_gives_the_verdict_and_says_the_deposit_is_unreadable(scene):
    c, _, _, issue, _ = scene
    down = f"http://127.0.0.1:{free_port()}"  # the scene's database, a node that does not answer
    settings = c.app.state.services.settings.model_copy(update={"rpc_url": down, "rpc_timeout_s": 2})
    with TestClient(create_app(settings)) as dead:
        r = scan(dead, issue["sample"][2])
        assert r.status_code == 200, r.text
        data = r.json()
        assert data["verdict"] == "genuine" and data["merchant"]["deposit"] is None
        assert down in data["merchant"]["deposit_unavailable"]
        page = dead.get("/" + path_of(issue["sample"][2]) + "&lang=en").text
        assert "cannot be read from the chain right now" in page
    assert scan(c, issue["sample"][2]).json()["scans_before"]["count"] == 2  # both scans were recorded


def test_scans_and_their_history_on_postgresql(deployment, chain_node, members, pg_url):
    settings = Settings(rpc_url=chain_node.url, manifest_path=deployment[1], database_url=pg_url, siwe_domain=DOMAIN)
    with TestClient(create_app(settings)) as c:
        a = login(c, members["merchant_a"])
        gtin = new_gtin()
        assert c.post("/v1/products", json={"gtin": gtin, "name": "Pu'er"}, headers=a).status_code == 201
        assert c.post("/v1/batches", json={"gtin": gtin, "lot": "PE-1"}, headers=a).status_code == 201
        uri = c.post(f"/v1/batches/{gtin}/PE-1/codes", json={"count": 3}, headers=a).json()["sample"][0]
        first = scan(c, uri).json()
        assert first["verdict"] == "genuine" and first["scans_before"]["count"] == 0
        c.app.state.services.scans.flush()
        again = scan(c, uri).json()
        assert again["scans_before"]["count"] == 1
        assert again["scans_before"]["first_at"] == again["scans_before"]["last_at"] is not None
        assert again["proof"]["leaf_index"] >= 0 and again["merchant"]["deposit"]["balance_fen"] >= 0


def test_malformed_scan_parameters_are_4xx_naming_each_and_record_nothing(scene):
    """A malformed Digital Link is a 400 (the resolver standard's), a malformed parameter of the
    scan page a 422; both name each problem."""
    c, gtin, _, issue, _ = scene
    good = "/" + path_of(issue["sample"][0])
    cases = {
        "/01/12AB/10/AJ-7/21/X": (400, ["path.gtin"]),
        f"/01/{gtin}/10/AJ-7/21/{'Y' * 61}": (400, ["path.serial"]),
        good + "&lang=fr": (422, ["query.lang"]),
        good.replace("k=", "k=" + "0" * 64): (422, ["query.k"]),
        f"/01/{gtin}/10/{'L' * 61}/21/{'Y' * 21}?lang=de": (400, ["path.lot", "path.serial"]),
    }
    from sqlalchemy import func, select

    from ledger.store.models import Scan

    services = c.app.state.services

    def stored() -> int:
        services.scans.flush()
        with services.sessions() as db:
            return db.scalar(select(func.count()).select_from(Scan))

    before = stored()
    for path, (status, fields) in cases.items():
        r = c.get(path, headers={"Accept": "application/json"})
        assert r.status_code == status, (path, r.text)
        assert [p["field"] for p in r.json()["detail"]] == fields
    assert stored() == before


def test_scans_answered_before_routing_are_the_documented_routes_answers(scene):
    """`ScanFastPath` answers scans ahead of FastAPI; the route it bypasses must give the same
    answers: statuses, bodies, content types, error shapes, request ids."""
    from api.scan.routes import ScanFastPath

    c, gtin, _, issue, _ = scene
    routed_app = create_app(c.app.state.services.settings)
    routed_app.user_middleware = [m for m in routed_app.user_middleware if m.cls is not ScanFastPath]
    good = "/" + path_of(issue["sample"][-1])
    forged = good[:-3] + ("AAA" if not good.endswith("AAA") else "BBB")
    requests = [
        (good, {"Accept": "application/json"}),
        (good + "&lang=zh", {}),
        (good, {"Accept-Language": "en-US,en;q=0.9"}),
        (forged, {"Accept": "application/json"}),
        (f"/01/{gtin}/10/AJ-7/21/NEVER-ISSUED", {"Accept": "application/json"}),
        (f"/01/{gtin}/10/{'L' * 61}/21/X?lang=de", {"Accept": "application/json"}),
        ("/01/12345678901234/10/AJ-7/21/X", {"Accept": "application/json"}),  # wrong check digit
    ]
    with TestClient(routed_app) as routed:
        assert not any(m.cls is ScanFastPath for m in routed.app.user_middleware)
        for path, headers in requests:
            fast, slow = c.get(path, headers=headers), routed.get(path, headers=headers)
            assert (fast.status_code, fast.headers["content-type"]) == (slow.status_code, slow.headers["content-type"])
            assert fast.headers["x-request-id"] and slow.headers["x-request-id"]
            if fast.headers["content-type"] == "application/json":
                a, b = fast.json(), slow.json()
                for d in (a, b):
                    d.pop("scans_before", None)  # each scan adds one
                assert a == b, path
            else:
                verdict = re.compile(r'data-verdict="(\w+)"')
                assert verdict.search(fast.text)[1] == verdict.search(slow.text)[1]
        echoed = c.get(good, headers={"Accept": "application/json", "X-Request-ID": "scan-42"})
        assert echoed.headers["x-request-id"] == "scan-42"


def test_scan_rate_limit_is_a_429_with_retry_after(deployment, chain_node, tmp_path):
    c = make_client(deployment, chain_node, tmp_path, public_rate=2, public_window_s=3600)
    path = f"/01/{new_gtin()}/10/L1/21/S1"
    assert [c.get(path, headers={"Accept": "application/json"}).status_code for _ in range(2)] == [200, 200]
    r = c.get(path, headers={"Accept": "application/json"})
    assert r.status_code == 429 and r.json()["error"] == "rate_limited"
    assert 1 <= int(r.headers["Retry-After"]) <= 3601


def test_scans_stay_right_when_issues_trees_are_evicted(deployment, chain_node, tmp_path, members):
    from ledger.trace import codes, merkle, scan_facts

    c = make_client(deployment, chain_node, tmp_path, tree_cache_leaves=6)  # room for one 5-code issue
    a = login(c, members["merchant_a"])
    gtin = new_gtin()
    assert c.post("/v1/products", json={"gtin": gtin, "name": "Biluochun"}, headers=a).status_code == 201
    issues = []
    for lot in ("B-1", "B-2"):
        assert c.post("/v1/batches", json={"gtin": gtin, "lot": lot}, headers=a).status_code == 201
        issues.append(c.post(f"/v1/batches/{gtin}/{lot}/codes", json={"count": 5}, headers=a).json())
    for issue in (*issues, issues[0]):
        uri = issue["sample"][-1]
        d = scan(c, uri).json()
        assert d["verdict"] == "genuine" and d["proof"]["root"] == issue["root"]
        path = [bytes.fromhex(p[2:]) for p in d["proof"]["path"]]
        assert merkle.verify(bytes.fromhex(issue["root"][2:]), codes.code_leaf(digital_link.parse(uri)), path)
        assert scan_facts.TREES.peek(issue["root"]) is not None and len(scan_facts.TREES) == 1


def test_a_scan_never_counts_a_batch_being_written_twice(scene, monkeypatch):
    """The writer commits a batch and then forgets it from memory; a scan read in between used to
    see it both in the database and as pending (seen once as a false 'suspicious')."""
    import time as clock

    from fastapi.testclient import TestClient

    from api.scan import recorder as scans

    real = scans.write_together

    def slow_to_forget(*args, **kwargs):
        real(*args, **kwargs)
        clock.sleep(0.03)  # committed, not yet forgotten

    monkeypatch.setattr(scans, "write_together", slow_to_forget)
    c, _, _, issue, _ = scene
    with TestClient(c.app) as live:
        counts = []
        for _ in range(15):
            d = scan(live, issue["sample"][1]).json()
            counts.append(d["scans_before"]["count"])
            clock.sleep(0.01)
    assert counts == list(range(15)), counts
