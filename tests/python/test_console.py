"""The web console in a real browser (Debian chromium driven by npm playwright-core), against the
API served by uvicorn on a real node, one served stack shared by the module's journeys: a merchant
signs in with a keystore file decrypted in the page, deposits, issues codes and downloads the CSV
and the label PDF, captures an EPCIS file with an error then a good one; a governor approves a
proposal read as a Chinese sentence; an auditor reads a run's report in the console; two arbiters
co-sign a ruling in their browsers; every role lands on what needs it on a 390x844 phone in both
languages (`ledger keys export-dev` keystores). axe-core finds no serious violation on any page, no
Content-Security-Policy violation happens, and every page paints in under a second.
Screenshots: build/console-screenshots/ (the phone tour's, kept small, in reports/screenshots/)."""

from __future__ import annotations

import json
import os
import re
import shutil
import sqlite3
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from eth_account import Account

from ledger.access import keystore as keystore_file
from ledger.access.roles import Role
from ledger.chain.client import Sender, connect
from ledger.chain.deploy import deploy
from ledger.paths import ROOT
from ledger.privacy import onchain

from .conftest import Anvil, free_port
from .helpers import award_by, login_over_http, new_gtin, other_arbiter, serve
from .test_keystore import short_iv_keystore

PASSWORD = "correct horse battery staple"
SHOTS = ROOT / "build" / "console-screenshots"
DATABASE: dict[str, Path] = {}  # the shared stack's database, which its indexer fills


@pytest.fixture(scope="module")
def console(tmp_path_factory, accounts):
    """The stack `make run` runs (`api.serve` with two workers, `ledger index --follow`) on a node and
    deployment of its own (the journeys change the merchant's deposit, which other tests count on),
    shared by this module's journeys: its URL, the deployment, its members by label, and a function
    that signs a member in over HTTP."""
    tmp_path = tmp_path_factory.mktemp("console")
    DATABASE["path"] = tmp_path / "console.sqlite3"
    node = Anvil()
    manifest = tmp_path / "deployment.json"
    dep, _ = deploy(connect(node.url), manifest)
    members = {label: accounts[m["account_index"]] for label, m in dep.manifest["members"].items()}
    issuer = Sender(dep.w3, members["issuer"], dep.decoder())
    for who in ("merchant_a", "merchant_b", "platform"):
        issuer.transact(dep.contract("SettlementToken").functions.mint(members[who].address, 10**6))
    # the purchase proofs too (`make zk` built them): the carrier's page vouches for hand-over codes
    onchain.deploy(dep, Sender(dep.w3, members["platform"], dep.decoder()), manifest)
    port = free_port()
    env = {
        "LEDGER_RPC_URL": node.url,
        "LEDGER_MANIFEST": str(manifest),
        "LEDGER_DATABASE_URL": f"sqlite:///{tmp_path / 'console.sqlite3'}",
        "LEDGER_DATA_DIR": str(tmp_path / "data"),
        "LEDGER_ANCHOR_INTERVAL": "0",
        "LEDGER_SIWE_DOMAIN": f"127.0.0.1:{port}",
        "LEDGER_WEBHOOK_ALLOW_PRIVATE": "true",  # a PACT partner on loopback (never called: it sends nothing)
    }
    # as `make run` runs it: the API in two worker processes, the indexer following the chain
    with open(tmp_path / "indexer.log", "wb") as log:
        indexer = subprocess.Popen(
            [sys.executable, "-m", "ledger", "index", "--follow", "--confirmations", "0", "--poll", "0.2"],
            cwd=ROOT, env={**os.environ, **env}, stdout=log, stderr=subprocess.STDOUT,
        )  # fmt: skip
        try:
            with serve(env, tmp_path / "api.log", port, workers=2) as url:
                yield url, dep, members, lambda a: login_over_http(url, a, domain=env["LEDGER_SIWE_DOMAIN"])
        finally:
            indexer.terminate()
            indexer.wait(timeout=30)
            node.stop()


def _indexed_to(db: Path, block: int, timeout_s: float = 60) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        with sqlite3.connect(db) as c:
            low = c.execute("SELECT min(block_number) FROM indexer_checkpoints").fetchone()[0]
        if low is not None and low >= block:
            return
        time.sleep(0.2)
    raise AssertionError(f"the indexer did not reach block {block}")


def journey(script: str, *args: str) -> dict:
    node, chromium = shutil.which("node"), shutil.which("chromium") or "/usr/bin/chromium"
    assert node and os.path.exists(chromium), "node and Debian chromium are needed (make test installs them)"
    out = subprocess.run(
        [node, str(ROOT / "tests" / "browser" / script), *args, str(SHOTS)],
        capture_output=True, text=True, timeout=300, cwd=ROOT, env={**os.environ, "CHROMIUM": chromium}, check=False,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr[-3000:]
    report = json.loads(out.stdout)
    assert report["errors"] == [], report["errors"]
    assert report["csp"] == [], report["csp"]
    assert all(v == [] for v in report["axe"].values()), {k: v for k, v in report["axe"].items() if v}
    # server-rendered pages paint at once (on a small database: the issue's 10,000 orders and 100,000
    # codes are not loaded here)
    paints = report["first_paint_ms"]
    (SHOTS / f"paints-{Path(script).stem}.json").write_text(json.dumps([paints, report.get("paint_parts")], indent=1))
    assert all(ms is not None and ms < 1000 for ms in paints.values()), json.dumps([paints, report.get("paint_parts")])
    assert {p.name for p in SHOTS.glob("*.png")} >= {f"{n}.png" for n in report["axe"]}
    return report


def keystore_of(account, tmp_path) -> str:
    path = tmp_path / f"{account.address}.json"
    path.write_text(json.dumps(keystore_file.seal(account.key, PASSWORD, kdf="scrypt", iterations=2**14)))
    return str(path)


def test_merchant_journeys_in_the_browser(console, accounts, tmp_path):
    url, dep, members, headers = console
    merchant = members["merchant_a"]
    h = headers(merchant)
    gtin = new_gtin()  # the product and batch the journey issues codes for, registered through the API
    assert httpx.post(
        url + "/v1/products", json={"gtin": gtin, "name": "Console tea"}, headers=h, timeout=60
    ).is_success
    assert httpx.post(url + "/v1/batches", json={"gtin": gtin, "lot": "C-1"}, headers=h, timeout=60).is_success
    # an order to list, a case against the merchant's deposit, and a case award owed to it to pull
    platform, arbiter = headers(members["platform"]), headers(members["arbiter"])
    order = {"order_id": "console-o1", "merchant": merchant.address, "amount_fen": 1_234}
    r = httpx.post(url + "/v1/orders", json=order, headers=platform | {"Idempotency-Key": "console-o1"}, timeout=60)
    assert r.status_code == 201, r.text
    other = members["merchant_b"].address
    for who in (h, headers(members["merchant_b"])):
        assert httpx.post(url + "/v1/deposits", json={"amount_fen": 10_000}, headers=who, timeout=60).is_success
    case = {"merchant": merchant.address, "claimant": other, "amount_fen": 500}
    assert httpx.post(url + "/v1/cases", json=case, headers=arbiter, timeout=60).status_code == 201
    case = {"merchant": other, "claimant": merchant.address, "amount_fen": 300}
    award = httpx.post(url + "/v1/cases", json=case, headers=arbiter, timeout=60).json()["case_id"]
    with other_arbiter((dep, None), accounts) as other:  # the opener never awards its case alone
        body = award_by(dep, other, award)
        close = httpx.post(f"{url}/v1/cases/{award}/ruling", json=body, headers=arbiter, timeout=60)
    assert close.is_success, close.text
    page = httpx.get(url + "/console/merchant?lang=zh")  # a strict CSP, no inline script
    csp = page.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp and "<script>" not in page.text
    new = new_gtin()  # registered in the page
    report = journey("console_journeys.mjs", url, keystore_of(merchant, tmp_path), PASSWORD, gtin, "C-1", new)
    assert len(report["axe"]) == 8
    assert report["batch_status"].startswith("Done") and report["recall_status"].startswith("Done"), report
    assert "the check digit is" in report["check_digit_status"] and "Value error" not in report["check_digit_status"]
    assert report["carbon_status"] == "No footprint published for this product yet.", report
    # a PACT partner: refused in words, added (its secret gone from the page, never listed), removed
    assert "no query or fragment" in report["partner_refused"], report["partner_refused"]
    assert report["partner_added"] == "Partner added." and report["partner_secret_left"] == "", report
    assert "http://127.0.0.1:9/pact" in report["partners_row"] and "tea-co" in report["partners_row"], report
    assert "s3cret" not in report["partners_row"] and "http://127.0.0.1:9/pact" in report["partner_dialog"]
    assert report["partner_removed"] == "Partner removed." and "127.0.0.1:9" not in report["partners_after"]
    assert "LJ/2026" in report["batches"] and "recalled (on chain)" in report["batches"], report["batches"]
    batch = httpx.get(f"{url}/v1/batches/{new}/LJ%2F2026", headers=h).json()
    assert batch["merchant"] == merchant.address  # registered by the merchant's own key, and recalled on chain:
    assert dep.contract("Provenance").functions.batch(bytes.fromhex(batch["batch_id"][2:])).call()[3] is True
    missing = f"No batch {gtin} / NO-SUCH: register the batch first (Products and batches)."
    assert report["codes_missing"] == missing, report
    assert report["qr"]["width"] > 100 and report["qr"]["caption"] in report["csv"]
    assert report["scans_bars"] >= 1 and report["scans_row"].startswith(str(datetime.now(UTC).date())), report
    assert report["key_status"].startswith("New key (shown only this once): tlk_")
    assert f"{merchant.address[:6]}…{merchant.address[-4:]}" in report["signed_in_as"]  # shortened, in full on hover
    assert report["deposit"]["before"] != report["deposit"]["after"], report["deposit"]  # signed in the page
    assert report["countdown"].startswith(("Unlocks in", "Can be withdrawn")), report["withdrawal_status"]
    assert report["csv"].count(f"/01/{gtin}/10/C-1/21/") == 12 and report["pdf_bytes"] > 1000
    not_json = "This file is not JSON or XML: choose an exported EPCIS file (.json, .jsonld or .xml)."
    assert report["epcis_not_json"].strip() == not_json, report["epcis_not_json"]
    assert "$.epcisBody.eventList[0].eventTime" in report["epcis_refused"]
    assert "Events stored: 1" in report["epcis_stored"]
    # each event by its step, new or not, its anchoring, and a link to its proof checked on chain
    assert "stored now" in report["epcis_stored"] and "waiting to be anchored" in report["epcis_stored"]
    stored = report["epcis_stored"]
    assert "shipped Nov 24, 2026, 8:00 AM (Beijing)" in stored and "check on chain" in stored, stored
    assert re.fullmatch(r"/scan/events/[0-9a-f]{64}\?lang=en", report["epcis_check"]), report["epcis_check"]
    assert report["zh_heading"] == "商家" and report["phone_overflow"] is False
    assert "console-o1" in report["orders_row"] and "12.34" in report["orders_row"], report["orders_row"]
    assert "#1" in report["cases_row"] and "5.00" in report["cases_row"] and "open" in report["cases_row"]
    assert report["owed_before"] == "CN¥3.00" and report["owed_after"] == "CN¥0.00", report  # pulled, signed here
    assert report["payouts_status"] == "Pulled to your account."
    # referral terms shown beside the caps, and lowered with the merchant's own key
    assert "Level 3 referrer (%)" in report["referral_before"] and "on-chain cap" in report["referral_before"], report
    assert report["referral_status"].startswith("Done") and "0.5%" in report["referral_after"], report
    assert dep.contract("OrderSettlement").functions.referralTermsOf(merchant.address).call() >> 32 == 50
    # each transaction was shown decoded in the page before it was signed
    calls = report["signed_calls"]
    assert len(calls) >= 6 and any("Provenance" in c and "registerProduct" in c for c in calls), calls
    # the irreversible recall names the batch it recalls (the page computed its id from the GTIN and lot it sent)
    assert f"Recall the batch {new} / LJ/2026 (cannot be undone" in " ".join(report["signed_summaries"]), report
    assert dep.contract("GuaranteeVault").functions.claimable(merchant.address).call() == 0
    # the code issue's anchor was prepared for the page to sign, not signed by the gateway
    log = httpx.get(url + "/v1/audit/log", params={"actor": merchant.address, "limit": 1000}, headers=headers(
        members["auditor"])).json()  # fmt: skip
    issued = [e for e in log if e["path"] == f"/v1/batches/{gtin}/C-1/codes"]
    assert sorted(e["status"] for e in issued) == [201, 202], issued  # prepared, then run again once signed
    assert "anchor(" in next(e["detail"] for e in issued if e["status"] == 202)


def test_a_governor_approves_a_proposal_signed_in_the_browser(console, accounts, tmp_path):
    url, dep, _, headers = console
    g1, g2 = [a for a in accounts if a.address in dep.manifest["governance"]["governors"]][:2]
    newcomer = Account.create().address  # a key no other test uses
    action = {"type": "admit_member", "address": newcomer, "roles": ["inspector"]}
    body = {"action": action, "reason": "a new lab"}
    r = httpx.post(url + "/v1/governance/proposals", json=body, headers=headers(g1), timeout=60)
    assert r.status_code == 201, r.text
    proposal = r.json()["id"]
    # a keystore as eth-account writes one in 256 (its IV's zero first byte dropped): the console opens it
    short = tmp_path / "governor-short-iv.json"
    short.write_text(json.dumps(short_iv_keystore(g2.key, PASSWORD)))
    report = journey("governor_journey.mjs", url, str(short), PASSWORD, str(proposal))
    # decoded into a sentence in Chinese, with the proposer, who approved and the expiry
    before = report["before"]
    assert f"接纳 {newcomer[:6]}…{newcomer[-4:]} 为检验机构" in before and "a new lab" in before and "待批准" in before
    assert "提案人" in before and "过期时间" in before, before
    assert "已执行" in report["after"], report
    # the approval, then the proposal below: each a Governance call the governor read and signed
    assert len(report["signed_calls"]) == 2 and all("Governance" in c for c in report["signed_calls"]), report
    # the proposal form takes a GS1 company prefix and its holder, and proposes it (signed in the page)
    assert report["prefix_form"] == {"prefix_shown": True, "root_shown": False, "holder_label": "持有商家地址"}, report
    assert f"将 GS1 厂商识别代码 {report['proposed']['prefix']} 分配给 商家" in report["proposed"]["status"], report
    assert report["roots_status"] == "本链尚未部署购买证明合约。" or "已锚定" in report["roots_status"], report
    assert dep.contract("Membership").functions.rolesOf(newcomer).call() == int(Role.INSPECTOR)
    merchant = dep.manifest["members"]["merchant_a"]["address"]
    assert f"{merchant[:6]}…{merchant[-4:]}" in report["members"] and "商家" in report["members"]
    fee_cap = dep.contract("OrderSettlement").functions.platformFeeCapBps().call()
    assert f"平台费上限{fee_cap / 100:g}%" in report["parameters"], report["parameters"]
    case_threshold = dep.contract("GuaranteeVault").functions.caseRuling().call()[0]
    yuan = f"¥{case_threshold // 100:,}.{case_threshold % 100:02d}"
    assert f"保证金案件需多名仲裁人的门槛{yuan}" in report["parameters"], report["parameters"]
    assert "保证金提取冷却期7 天" in report["parameters"], report["parameters"]  # durations in days
    assert report["attention"].startswith(f"提案 #{proposal} 等待您批准"), report["attention"]
    assert report["first_row"] == str(proposal), report["first_row"]  # the newest proposal on top (phone trial)
    # an ended session: the sign-in page says so, and signing in again comes back to the page
    assert report["expired"]["said"] == "登录已过期，请重新登录", report["expired"]
    assert report["expired"]["back"].endswith("/console/governor?lang=zh"), report["expired"]


def test_an_auditor_explores_verifies_and_audits_a_run_with_a_break(console, tmp_path):
    url, dep, members, headers = console
    merchant, auditor = headers(members["merchant_a"]), headers(members["auditor"])
    gtin = new_gtin()
    assert httpx.post(url + "/v1/products", json={"gtin": gtin, "name": "Audit tea"}, headers=merchant).is_success
    assert httpx.post(url + "/v1/batches", json={"gtin": gtin, "lot": "A-1"}, headers=merchant, timeout=60).is_success
    issue = httpx.post(f"{url}/v1/batches/{gtin}/A-1/codes", json={"count": 3}, headers=merchant, timeout=60).json()
    uri, other = issue["sample"][0], issue["sample"][1]
    forged = uri.split("/21/")[0] + "/21/" + other.split("/21/")[1].split("?")[0] + "?" + uri.split("?")[1]
    doc = {
        "@context": ["https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld"],
        "type": "EPCISDocument", "schemaVersion": "2.0", "creationDate": "2026-11-24T08:00:00Z",
        "epcisBody": {"eventList": [{
            "type": "ObjectEvent", "eventTime": "2026-11-24T08:00:00Z", "eventTimeZoneOffset": "+00:00",
            "epcList": [f"https://id.gs1.org/01/{gtin}/21/AUDIT1"], "action": "OBSERVE", "bizStep": "shipping",
        }]},
    }  # fmt: skip
    assert httpx.post(url + "/v1/epcis/capture", json=doc, headers=merchant, timeout=60).status_code == 201
    assert httpx.post(url + "/v1/epcis/anchor", headers=merchant, timeout=60).is_success
    epcis_file = tmp_path / "audit-doc.json"
    epcis_file.write_text(json.dumps(doc))
    # a deposit the explorer shows decoded (merchant_b: the merchant journey counts merchant_a's)
    r = httpx.post(url + "/v1/deposits", json={"amount_fen": 1_234}, headers=headers(members["merchant_b"]), timeout=60)
    assert r.is_success, r.text
    # a run with a break: tokens sent straight to the vault, which no deposit event explains
    dep.sender(members["merchant_a"]).transact(
        dep.contract("SettlementToken").functions.transfer(dep.contract("GuaranteeVault").address, 7)
    )
    _indexed_to(DATABASE["path"], dep.w3.eth.block_number)  # by the stack's own indexer
    run = httpx.post(url + "/v1/audit/reconciliation/runs", json={}, headers=auditor, timeout=60).json()
    assert run["verdict"] == "breaks", run
    actor = members["merchant_a"].address
    args = (gtin, uri, forged, str(epcis_file), actor)
    report = journey("auditor_journey.mjs", url, keystore_of(members["auditor"], tmp_path), PASSWORD, *args)
    assert "Batch registered" in report["records"] and "Provenance" in report["records"], report["records"]
    assert "batchId" not in report["records"]  # each argument named in the page's language (`batch`), not as the ABI
    # the event picked, named in the page's language with the ABI's name beside it
    assert set(report["records_events"]) == {"Batch registered = BatchRegistered"}, report["records_events"]
    assert report["event_choices"] == [
        "Provenance: BatchRecalled BatchRegistered CodeKeyRevoked ProductRegistered RecorderSet"
    ], report["event_choices"]
    # decoded: the merchant by member name, the amount in yuan with its fen
    b = members["merchant_b"].address
    assert f"merchantmerchant {b[:6]}…{b[-4:]}" in report["deposit_args"], report["deposit_args"]
    assert "amountCN¥12.34 (1234 fen)" in report["deposit_args"], report["deposit_args"]
    window = dep.contract("OrderSettlement").functions.returnWindow().call()  # in days and hours, its seconds kept
    said = report["window_args"]
    assert re.fullmatch(rf"return window\d+ (d|h)( \d+ h)? \({window} s\)", said), said
    assert "success" in report["tx_detail"] and "Batch registered · BatchRegistered · Provenance" in report["tx_detail"]
    assert report["block_detail"].startswith("Block")
    assert report["code_verdict"].startswith("All checks passed.") and "ok signature" in report["code_verdict"]
    assert report["forged_verdict"].startswith("Some checks failed.") and "FAIL signature" in report["forged_verdict"]
    assert report["epcis_verdict"].startswith("All checks passed."), report["epcis_verdict"]
    assert report["not_json_verdict"] == "This file is not JSON: choose an exported EPCIS file (JSON-LD).", report
    assert "+7 fen moved with no event of ours" in report["breaks"] and "breaks" in report["recon_row"]
    assert "Reconciliation run" in report["run_report"] and "breaks" in report["run_report"], report["run_report"]
    assert "+7 fen" not in report["breaks_resolved"], report["breaks_resolved"]  # filtered by status
    assert report["audit_rows"] >= 3 and report["phone_overflow"] is False


def test_a_merchant_signs_in_and_writes_with_an_injected_wallet(console):
    url, dep, members, _ = console
    merchant = members["merchant_b"]
    gtin = new_gtin()
    node_url = dep.w3.provider.endpoint_uri
    report = journey("wallet_journey.mjs", url, node_url, "0x" + bytes(merchant.key).hex(), gtin)
    assert f"{merchant.address[:6]}…{merchant.address[-4:]}" in report["signed_in_as"], report
    assert report["product_status"].startswith("Done"), report
    assert report["product_posts"] == 2, report  # the refused write, then the one tapped twice: sent once
    assert report["wallet_calls"].count("eth_sendTransaction") == 1, report["wallet_calls"]
    assert report["wallet_calls"][:2] == ["eth_requestAccounts", "personal_sign"]
    assert "eth_sendTransaction" in report["wallet_calls"]  # sent by the wallet, not signed by the gateway
    # a prepared transaction to no contract of the deployment is refused in the page, the wallet never asked
    assert report["refused"].startswith("Refused to sign") and report["sent_when_refused"] is False, report
    assert any("registerProduct" in c for c in report["signed_calls"]), report["signed_calls"]
    assert dep.contract("Provenance").functions.productOwner(int(gtin)).call() == merchant.address


def test_console_files_travel_gzipped_and_buttons_wait_for_the_scripts(console):
    """On a phone's slow network the sign-in page took 17 s (ethers alone is 526 KB), and a tap before
    the scripts ran was lost without a word: files go gzipped, and buttons wait under a loading note."""
    url = console[0]
    plain = httpx.get(url + "/console/static/ethers.umd.min.js", headers={"Accept-Encoding": "identity"})
    zipped = httpx.get(url + "/console/static/ethers.umd.min.js", headers={"Accept-Encoding": "gzip, br"})
    assert "content-encoding" not in plain.headers and zipped.headers["content-encoding"] == "gzip"
    assert zipped.content == plain.content and int(zipped.headers["content-length"]) < len(plain.content) / 2
    assert zipped.headers["vary"] == "Accept-Encoding"
    page = httpx.get(url + "/console/?lang=zh").text
    assert "data-loading" in page and '<p id="page-loading" role="status">' in page
    css = httpx.get(url + "/console/static/console.css").text
    assert "body[data-loading] main button { pointer-events: none" in css
    icon = httpx.get(url + "/favicon.ico")  # asked for by every page (a 404 was an error in each one's console)
    assert icon.status_code == 200 and icon.headers["content-type"] == "image/png" and icon.content[:4] == b"\x89PNG"
    lost = httpx.get(url + "/console/nope?lang=zh", headers={"Accept": "text/html"})  # a person's browser: a page
    assert lost.status_code == 404 and "找不到这个页面" in lost.text and 'href="/console/?lang=zh"' in lost.text
    assert httpx.get(url + "/console/nope").json()["error"] == "not_found"  # an API client: JSON, as before


def test_every_string_and_every_check_of_ledger_verify_is_in_both_languages():
    import inspect
    import re
    from string import Formatter

    from ledger.i18n import catalog
    from ledger.trace import verify

    zh, en = catalog("console", "zh"), catalog("console", "en")
    assert zh.keys() == en.keys() and all(v.strip() for v in [*zh.values(), *en.values()])
    names = set(re.findall(r'check\(\s*"([^"]+)"', inspect.getsource(verify)))
    assert len(names) >= 8 and not [n for n in names if f"check:{n}" not in en]
    # each check's detail: the English the CLI prints, and Chinese with the same values (the auditor's page)
    fields = lambda text: {f for _, f, _, _ in Formatter().parse(text) if f}  # noqa: E731
    for key, text in verify.DETAILS.items():
        assert en[f"detail:{key}"] == text and fields(zh[f"detail:{key}"]) == fields(text), key
    # every key the pages' scripts and templates name is in the catalogs (prefixes like `role_` excepted)
    folder = ROOT / "api" / "console"
    used = set()
    for path in [*folder.glob("static/*.js"), *folder.glob("templates/*.html")]:
        used |= set(re.findall(r"\bT\.([a-z_]+)\b|\bt\.([a-z_]+)\b", path.read_text()))
    named = {a or b for a, b in used} - {"get", "json"}
    scan = catalog("scan", "en")
    assert not [k for k in named if k not in en and k not in scan], sorted(
        k for k in named if k not in en and k not in scan
    )


def _excursion(url, h, lot_uri, monkeypatch):
    """A logger of the member of `h`, registered through the API, reports 14.5 °C about `lot_uri`
    (outside 0-8 °C), through the ingester's checks into the stack's database (with its sealing key;
    the broker's part is tested in test_devices_*). The device as registered, and its GIAI."""
    from ledger.devices import batches
    from ledger.devices.ingester import Ingester
    from ledger.devices.mqtt_client import topic
    from ledger.devices.sm2 import Sm2Key
    from ledger.store.db import make_engine, session_factory

    key, giai = Sm2Key.generate(), f"CON{time.time_ns() % 10**12}"
    said = httpx.get(url + "/v1/devices/statement", params={"giai": giai}, headers=h, timeout=60).json()["statement"]
    body = {"giai": giai, "public_key": key.public.hex(), "kind": "logger", "proof": key.sign(said.encode()).hex()}
    d = httpx.post(url + "/v1/devices", json=body, headers=h, timeout=60).json()
    monkeypatch.setenv("LEDGER_DATA_DIR", str(DATABASE["path"].parent / "data"))
    sessions = session_factory(make_engine(f"sqlite:///{DATABASE['path']}"))
    reading = {"t": datetime.now(UTC).isoformat(), "k": "temp", "v": 14.5, "s": lot_uri}
    with sessions() as db:
        sent = [(topic(d["identity"]), batches.make(key, d["identity"], giai, 1, [reading]))]
        got = Ingester(sessions, 0, "").ingest(db, sent)
    assert got[0]["status"] == "accepted", got
    return d, giai


def test_a_merchant_sees_its_devices_and_alarms_and_revokes_a_device_signed_in_the_page(console, tmp_path, monkeypatch):
    from sqlalchemy import select

    from ledger.devices import registry
    from ledger.store.db import make_engine, session_factory
    from ledger.store.device_tables import Device

    url, dep, members, headers = console
    merchant = members["merchant_b"]
    h = headers(merchant)
    gtin = new_gtin()
    assert httpx.post(url + "/v1/products", json={"gtin": gtin, "name": "Milk"}, headers=h, timeout=60).is_success
    assert httpx.post(url + "/v1/batches", json={"gtin": gtin, "lot": "M-1"}, headers=h, timeout=60).is_success
    d, giai = _excursion(url, h, f"https://id.gs1.org/01/{gtin}/10/M-1", monkeypatch)
    sessions = session_factory(make_engine(f"sqlite:///{DATABASE['path']}"))
    report = journey("devices_journey.mjs", url, keystore_of(merchant, tmp_path), PASSWORD, giai)
    assert giai in report["device_row"] and "active" in report["device_row"], report
    assert f"{gtin} / M-1" in report["alarm_row"] and "14.5" in report["alarm_row"] and "open" in report["alarm_row"]
    assert "open cold-chain alarm" in report["attention"], report["attention"]
    assert report["no_reason"] == "Give a reason before revoking a device.", report
    assert report["status"].startswith("Done"), report
    assert "revoked" in report["device_row_after"], report
    assert any("DeviceRegistry" in c and "revoke" in c for c in report["signed_calls"]), report["signed_calls"]
    assert registry.registry(dep).functions.device(bytes.fromhex(d["device_id"][2:])).call()[2] > 0  # on chain
    with sessions() as db:
        assert db.scalar(select(Device.revoked_at).where(Device.giai == giai)) is not None
    for a in httpx.get(url + "/v1/devices/alarms?status=open", headers=h, timeout=60).json():
        assert httpx.post(f"{url}/v1/devices/alarms/{a['id']}/close", headers=h, timeout=60).is_success


def test_two_arbiters_co_sign_a_ruling_in_their_browsers(console, accounts, tmp_path):
    url, dep, members, headers = console
    opener = members["arbiter"]
    merchant, claimant = members["merchant_b"].address, members["merchant_a"].address
    vault = dep.contract("GuaranteeVault").functions
    owed = vault.claimable(claimant).call()
    # its own deposit to freeze from, whatever the tests before it left available
    r = httpx.post(url + "/v1/deposits", json={"amount_fen": 1_000}, headers=headers(members["merchant_b"]), timeout=60)
    assert r.is_success, r.text
    case = {"merchant": merchant, "claimant": claimant, "amount_fen": 200}
    r = httpx.post(url + "/v1/cases", json=case, headers=headers(opener), timeout=60)
    assert r.status_code == 201, r.text
    case_id = r.json()["case_id"]
    with other_arbiter((dep, None), accounts) as second:
        report = journey(
            "arbiter_journey.mjs",
            url,
            keystore_of(second, tmp_path),
            keystore_of(opener, tmp_path),
            PASSWORD,
            str(case_id),
        )
    assert f"#{case_id}" in report["figures"] and "¥2.00" in report["figures"], report["figures"]
    assert report["unlock_summary"] == f"裁决案件 #{case_id}：¥2.00，赔付给投诉方", report["unlock_summary"]
    assert report["signatures"] == 2 and report["status"].startswith("Done"), report
    assert [c for c in report["signed_calls"] if "ruleCase" in c], report["signed_calls"]  # the submission, signed here
    assert vault.cases(case_id).call()[3] is False and vault.claimable(claimant).call() == owed + 200


SUPPLIER, SHOP = "urn:epc:id:pgln:0614141.00001", "urn:epc:id:pgln:0614141.00002"


def test_every_role_lands_on_what_needs_it_on_a_phone_in_both_languages(console, accounts, tmp_path, monkeypatch):
    """Each role signs in with a keystore `ledger keys export-dev` wrote, on a 390×844 phone in
    Chinese and English: its landing says what needs it now, nothing widens the page, no control is
    under 44 px, no English word on a Chinese page outside user data; the signing dialog starts with
    the call in words and the password dialog repeats it; a page of another role says so; the scan
    page names the supply chain's parties (供方/收方) and reads in Beijing time."""
    from ledger.cli.keys import export_dev

    url, dep, members, headers = console
    keys = tmp_path / "keys"
    keys.mkdir()
    out = subprocess.run(
        [sys.executable, "-m", "ledger", "keys", "export-dev", "merchant_a", str(keys / "merchant_a.json")],
        capture_output=True, text=True, cwd=ROOT, env={**os.environ, "LEDGER_KEYSTORE_PASSWORD": PASSWORD},
        timeout=120, check=False,
    )  # fmt: skip
    assert out.returncode == 0 and members["merchant_a"].address in out.stdout, out.stderr
    for member in ("auditor", "governor_2", "issuer", "platform", "logistics", "arbiter", "inspector"):
        export_dev(member, keys / f"{member}.json", PASSWORD)
    # something for each landing to show: a proposal waiting for governor_2, a case, a scan page with parties
    g1 = next(a for a in accounts if a.address == dep.manifest["governance"]["governors"][0])
    action = {"type": "admit_member", "address": Account.create().address, "roles": ["merchant"]}
    body = {"action": action, "reason": "新商家入驻"}
    r = httpx.post(url + "/v1/governance/proposals", json=body, headers=headers(g1), timeout=60)
    assert r.status_code == 201, r.text
    m = headers(members["merchant_a"])
    # the vault may take the merchant's tokens already (as after its first deposit), so that the first
    # call the page asks it to sign is the deposit itself, whichever tests ran before
    token, vault = dep.contract("SettlementToken"), dep.contract("GuaranteeVault")
    Sender(dep.w3, members["merchant_a"], dep.decoder()).transact(token.functions.approve(vault.address, 2**256 - 1))
    gtin = new_gtin()
    assert httpx.post(url + "/v1/products", json={"gtin": gtin, "name": "西湖龙井"}, headers=m, timeout=60).is_success
    assert httpx.post(url + "/v1/batches", json={"gtin": gtin, "lot": "P-1"}, headers=m, timeout=60).is_success
    uri = httpx.post(f"{url}/v1/batches/{gtin}/P-1/codes", json={"count": 1}, headers=m, timeout=60).json()["sample"][0]
    for urn, name in ((SUPPLIER, "杭州龙井茶业有限公司"), (SHOP, "上海静安茶叶店")):
        party = {"urn": urn, "credit_code": "91350100M000100Y43", "name": name, "address": "中国", "contact": "0571-1"}
        assert httpx.put(url + "/v1/compliance/parties", json=party, headers=m, timeout=60).is_success
    shipped = {
        "type": "ObjectEvent", "eventTime": "2026-11-03T08:00:00+08:00", "eventTimeZoneOffset": "+08:00",
        "action": "OBSERVE", "bizStep": "shipping",
        "quantityList": [{"epcClass": f"https://id.gs1.org/01/{gtin}/10/P-1", "quantity": 4, "uom": "KGM"}],
        "sourceList": [{"type": "owning_party", "source": SUPPLIER}],
        "destinationList": [{"type": "owning_party", "destination": SHOP}],
    }  # fmt: skip
    doc = {
        "@context": ["https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld"], "type": "EPCISDocument",
        "schemaVersion": "2.0", "creationDate": "2026-11-03T00:00:00Z", "epcisBody": {"eventList": [shipped]},
    }  # fmt: skip
    assert httpx.post(url + "/v1/epcis/capture", json=doc, headers=m, timeout=60).status_code == 201
    _excursion(url, m, f"https://id.gs1.org/01/{gtin}/10/P-1", monkeypatch)  # the scan page's cold chain
    scan = uri.replace("https://id.gs1.org", url) if uri.startswith("https://id.gs1.org") else uri
    report = journey("phone_tour.mjs", url, str(keys), PASSWORD, scan)
    screens = report["screens"]
    assert len(screens) >= 26 and {"inspector-zh", "inspector-en"} <= set(screens), sorted(screens)  # the regulator too
    for name, seen in screens.items():
        assert seen["scroll_width"] <= 390, (name, seen)  # nothing widens the page
        assert seen["small"] == [], (name, seen["small"])  # touch targets
        assert seen["english"] == [], (name, seen["english"])  # no English on the Chinese page
    assert (
        screens["signing-zh"]["summary"] == screens["unlock-zh"]["summary"]
        and "¥100.00" in screens["signing-zh"]["summary"]
    )
    assert "CN¥100.00" in screens["signing-en"]["summary"], screens["signing-en"]
    assert "审计" in screens["not-mine-zh"]["text"] and "auditor" in screens["not-mine-en"]["text"]
    assert report["governor_attention"]["zh"].startswith("提案 #"), report["governor_attention"]
    assert "供方" in report["scan_parties"]["zh"] and "杭州龙井茶业有限公司" in report["scan_parties"]["zh"]
    assert "收方" in report["scan_parties"]["zh"] and "北京时间" in report["scan_parties"]["zh"], report["scan_parties"]
    assert report["scan_cold_chain"]["zh"].startswith("冷链异常"), report["scan_cold_chain"]
    assert report["scan_cold_chain"]["en"].startswith("Cold-chain excursion"), report["scan_cold_chain"]


def test_export_dev_writes_only_development_members_of_anvils_mnemonic(tmp_path, monkeypatch):
    from ledger.chain.client import dev_accounts
    from ledger.cli.keys import export_dev, load_keystore
    from ledger.errors import LedgerError

    address = export_dev("auditor", tmp_path / "auditor.json", PASSWORD)
    assert address == dev_accounts(11)[10].address == load_keystore(tmp_path / "auditor.json", PASSWORD).address
    with pytest.raises(LedgerError, match="exists"):
        export_dev("auditor", tmp_path / "auditor.json", PASSWORD)  # a key is never overwritten
    with pytest.raises(LedgerError, match="no development member"):
        export_dev("root", tmp_path / "root.json", PASSWORD)
    monkeypatch.setenv("LEDGER_MNEMONIC", "abandon " * 11 + "about")
    with pytest.raises(LedgerError, match="development keys only"):
        export_dev("merchant_a", tmp_path / "real.json", PASSWORD)


def test_secp256k1_runs_in_c_not_in_python():
    """The served pages wait behind the API's key work: in pure Python each worker's start spent 1.6 s
    deriving its custodial development keys with the GIL held, and a sign-in's recover 28 ms
    (requirements.txt: coincurve). Same signatures either way (RFC 6979)."""
    from eth_keys import keys

    assert type(keys.backend).__name__ == "CoinCurveECCBackend", "pip install coincurve (requirements.txt)"


def test_every_contract_event_and_argument_has_its_words_in_both_languages():
    """The explorer names records and their arguments in the reader's language (the Chinese page
    named them as the ABIs do, in English; phone trial): a new event or argument needs its words."""
    from ledger.chain.compiler import load_artifacts
    from ledger.i18n import catalog

    abis = [a["abi"] for name, a in load_artifacts().items() if not name.startswith("Naive")]
    events = {e["name"] for abi in abis for e in abi if e.get("type") == "event"}
    args = {i["name"] for abi in abis for e in abi if e.get("type") == "event" for i in e["inputs"]}
    assert len(events) > 60 and len(args) > 90
    for lang in ("zh", "en"):
        t = catalog("console", lang)
        assert not [e for e in sorted(events) if f"event:{e}" not in t], lang
        assert not [a for a in sorted(args) if f"arg:{a}" not in t], lang
