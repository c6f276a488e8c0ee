"""The web console in a real browser (Debian chromium driven by npm playwright-core), against the
API served by uvicorn on a real node: a merchant signs in with a keystore file decrypted in the
page, deposits, issues codes and downloads the CSV and the label PDF, captures an EPCIS file with
an error then a good one; a governor approves a proposal with a transaction signed in the page.
axe-core finds no serious violation on any page (desktop and phone, both languages), no
Content-Security-Policy violation happens, and every page paints in under a second.
Screenshots: build/console-screenshots/."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from datetime import UTC, datetime

import httpx
import pytest
from eth_account import Account

from ledger.access.roles import Role
from ledger.chain.client import Sender, connect
from ledger.chain.deploy import deploy
from ledger.paths import ROOT

from .conftest import free_port
from .helpers import login_over_http, new_gtin, serve

PASSWORD = "correct horse battery staple"
SHOTS = ROOT / "build" / "console-screenshots"


@pytest.fixture
def console(anvil_factory, tmp_path, accounts):
    """The API under uvicorn (as deployed) on a node and deployment of its own (the journeys change
    the merchant's deposit, which other tests count on), the deployment, its members by label, and
    a function that signs a member in over HTTP."""
    node = anvil_factory()
    manifest = tmp_path / "deployment.json"
    dep, _ = deploy(connect(node.url), manifest)
    members = {label: accounts[m["account_index"]] for label, m in dep.manifest["members"].items()}
    issuer = Sender(dep.w3, members["issuer"], dep.decoder())
    issuer.transact(dep.contract("SettlementToken").functions.mint(members["merchant_a"].address, 10**6))
    port = free_port()
    env = {
        "LEDGER_RPC_URL": node.url,
        "LEDGER_MANIFEST": str(manifest),
        "LEDGER_DATABASE_URL": f"sqlite:///{tmp_path / 'console.sqlite3'}",
        "LEDGER_DATA_DIR": str(tmp_path / "data"),
        "LEDGER_ANCHOR_INTERVAL": "0",
        "LEDGER_SIWE_DOMAIN": f"127.0.0.1:{port}",
    }
    with serve(env, tmp_path / "uvicorn.log", port) as url:
        yield url, dep, members, lambda account: login_over_http(url, account, domain=env["LEDGER_SIWE_DOMAIN"])


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
    assert all(v == [] for v in report["axe"].values()), report["axe"]
    # server-rendered pages paint at once (on a small database: the 10,000 orders and 100,000
    # codes are not loaded here)
    paints = report["first_paint_ms"]
    assert all(ms is not None and ms < 1000 for ms in paints.values()), json.dumps(paints)
    assert {p.name for p in SHOTS.glob("*.png")} >= {f"{n}.png" for n in report["axe"]}
    return report


def keystore_of(account, tmp_path) -> str:
    path = tmp_path / f"{account.address}.json"
    path.write_text(json.dumps(Account.encrypt(account.key, PASSWORD, kdf="scrypt", iterations=2**14)))
    return str(path)


def test_merchant_journeys_in_the_browser(console, tmp_path):
    url, dep, members, headers = console
    merchant = members["merchant_a"]
    h = headers(merchant)
    gtin = new_gtin()  # the product and batch the journey issues codes for, registered through the API
    assert httpx.post(
        url + "/v1/products", json={"gtin": gtin, "name": "Console tea"}, headers=h, timeout=60
    ).is_success
    assert httpx.post(url + "/v1/batches", json={"gtin": gtin, "lot": "C-1"}, headers=h, timeout=60).is_success
    page = httpx.get(url + "/console/merchant?lang=zh")  # a strict CSP, no inline script
    csp = page.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp and "<script>" not in page.text
    new = new_gtin()  # registered in the page
    report = journey("console_journeys.mjs", url, keystore_of(merchant, tmp_path), PASSWORD, gtin, "C-1", new)
    assert len(report["axe"]) == 8
    assert report["batch_status"].startswith("Done") and report["recall_status"].startswith("Done"), report
    batch = httpx.get(f"{url}/v1/batches/{new}/LJ%2F2026", headers=h).json()
    assert batch["merchant"] == merchant.address  # registered by the merchant's own key, and recalled on chain:
    assert dep.contract("Provenance").functions.batch(bytes.fromhex(batch["batch_id"][2:])).call()[3] is True
    assert report["qr"]["width"] > 100 and report["qr"]["caption"] in report["csv"]
    assert report["scans_bars"] >= 1 and report["scans_row"].startswith(str(datetime.now(UTC).date())), report
    assert report["key_status"].startswith("New key (shown only this once): tlk_")
    assert merchant.address in report["signed_in_as"]
    assert report["deposit"]["before"] != report["deposit"]["after"], report["deposit"]  # signed in the page
    assert report["countdown"].startswith(("Unlocks in", "Can be withdrawn")), report["withdrawal_status"]
    assert report["csv"].count(f"/01/{gtin}/10/C-1/21/") == 12 and report["pdf_bytes"] > 1000
    assert "$.epcisBody.eventList[0].eventTime" in report["epcis_refused"]
    assert "Events stored: 1" in report["epcis_stored"]
    assert report["zh_heading"] == "商家" and report["phone_overflow"] is False


def test_a_governor_approves_a_proposal_signed_in_the_browser(console, accounts, tmp_path):
    url, dep, _, headers = console
    g1, g2 = [a for a in accounts if a.address in dep.manifest["governance"]["governors"]][:2]
    newcomer = Account.create().address  # a key no other test uses
    action = {"type": "admit_member", "address": newcomer, "roles": ["inspector"]}
    body = {"action": action, "reason": "a new lab"}
    r = httpx.post(url + "/v1/governance/proposals", json=body, headers=headers(g1), timeout=60)
    assert r.status_code == 201, r.text
    proposal = r.json()["id"]
    report = journey("governor_journey.mjs", url, keystore_of(g2, tmp_path), PASSWORD, str(proposal))
    assert "admit_member" in report["before"] and "a new lab" in report["before"] and "待批准" in report["before"]
    assert "已执行" in report["after"], report
    assert dep.contract("Membership").functions.rolesOf(newcomer).call() == int(Role.INSPECTOR)
