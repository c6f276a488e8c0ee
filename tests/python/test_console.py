"""The web console in a real browser (Debian chromium driven by npm playwright-core), against the
API served by uvicorn on a real node: a merchant signs in with a keystore file decrypted in the
page, deposits, issues codes and downloads the CSV and the label PDF, captures an EPCIS file with
an error then a good one; axe-core finds no serious violation on any page (desktop and phone, both
languages) and no Content-Security-Policy violation happens. Screenshots: build/console-screenshots/."""

from __future__ import annotations

import json
import shutil
import subprocess

import httpx
from eth_account import Account

from ledger.chain.client import Sender
from ledger.paths import ROOT

from .conftest import free_port
from .helpers import new_gtin, serve, sign_in_message

PASSWORD = "correct horse battery staple"
SHOTS = ROOT / "build" / "console-screenshots"


def test_merchant_journeys_in_the_browser(deployment, chain_node, tmp_path, members):
    node, chromium = shutil.which("node"), shutil.which("chromium") or "/usr/bin/chromium"
    assert node and shutil.os.path.exists(chromium), "node and Debian chromium are needed (make test installs them)"
    dep, manifest = deployment
    issuer = Sender(dep.w3, members["issuer"], dep.decoder())
    issuer.transact(dep.contract("SettlementToken").functions.mint(members["merchant_a"].address, 10**6))
    env = {
        "LEDGER_RPC_URL": chain_node.url,
        "LEDGER_MANIFEST": str(manifest),
        "LEDGER_DATABASE_URL": f"sqlite:///{tmp_path / 'console.sqlite3'}",
        "LEDGER_DATA_DIR": str(tmp_path / "data"),
        "LEDGER_ANCHOR_INTERVAL": "0",
    }
    port = free_port()
    env["LEDGER_SIWE_DOMAIN"] = f"127.0.0.1:{port}"
    merchant = members["merchant_a"]
    keystore = tmp_path / "merchant.json"
    keystore.write_text(json.dumps(Account.encrypt(merchant.key, PASSWORD, kdf="scrypt", iterations=2**14)))
    with serve(env, tmp_path / "uvicorn.log", port) as url:
        # the product and batch the journey issues codes for, registered through the API
        class _Http:
            def get(self, path):
                return httpx.get(url + path)

        message, signature = sign_in_message(_Http(), merchant, domain=env["LEDGER_SIWE_DOMAIN"])
        token = httpx.post(url + "/v1/auth/login", json={"message": message, "signature": signature}).json()["token"]
        h = {"Authorization": f"Bearer {token}"}
        gtin = new_gtin()
        assert httpx.post(
            url + "/v1/products", json={"gtin": gtin, "name": "Console tea"}, headers=h, timeout=60
        ).is_success
        assert httpx.post(url + "/v1/batches", json={"gtin": gtin, "lot": "C-1"}, headers=h, timeout=60).is_success
        # the console page itself: strict CSP, no inline script
        page = httpx.get(url + "/console/merchant?lang=zh")
        csp = page.headers["content-security-policy"]
        assert "script-src 'self'" in csp and "unsafe-inline" not in csp and "<script>" not in page.text
        out = subprocess.run(
            [node, str(ROOT / "tests" / "browser" / "console_journeys.mjs"), url, str(keystore), PASSWORD, gtin, "C-1",
             str(SHOTS)],
            capture_output=True, text=True, timeout=300, cwd=ROOT, env={**shutil.os.environ, "CHROMIUM": chromium},
            check=False,
        )  # fmt: skip
    assert out.returncode == 0, out.stderr[-3000:]
    report = json.loads(out.stdout)
    assert report["errors"] == [], report["errors"]
    assert report["csp"] == [], report["csp"]
    assert all(v == [] for v in report["axe"].values()), report["axe"]
    assert len(report["axe"]) == 6
    # server-rendered pages paint at once (on an empty database; the 10,000 orders and 100,000
    # codes are not loaded here)
    assert all(ms is not None and ms < 1000 for ms in report["first_paint_ms"].values()), json.dumps(
        report["first_paint_ms"]
    )
    assert merchant.address in report["signed_in_as"]
    assert report["deposit"]["before"] != report["deposit"]["after"], report["deposit"]
    assert report["csv"].count(f"/01/{gtin}/10/C-1/21/") == 12 and report["pdf_bytes"] > 1000
    assert "$.epcisBody.eventList[0].eventTime" in report["epcis_refused"]
    assert "Events stored: 1" in report["epcis_stored"]
    assert report["zh_heading"] == "商家" and report["phone_overflow"] is False
    assert {p.name for p in SHOTS.glob("*.png")} >= {f"{n}.png" for n in report["axe"]}
