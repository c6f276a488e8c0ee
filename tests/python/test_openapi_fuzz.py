"""schemathesis (in its own environment, `.venv-schemathesis`) fuzzes every operation of the
served OpenAPI schema, signed in as a merchant, and must find no 5xx."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import pytest

from ledger.chain.client import Sender
from ledger.paths import ROOT

from .helpers import login_over_http, served_on_chain

SCHEMATHESIS = ROOT / ".venv-schemathesis" / "bin" / "schemathesis"
#: not fuzzed: signing out ends the fuzzer's session, and every operation after it was a 401 (tested in test_auth)
SIGNS_OUT = ("/v1/auth/logout",)


@pytest.fixture
def server(deployment, chain_node, tmp_path):
    """The API in its own process, its own database, data directory, locks and leases (in the test
    process's data directory another app's anchorer could hold the lease: this server's captured
    events would wait unanchored and /healthz would rightly answer 503 once they had waited 2 min)."""
    env = {
        "LEDGER_PUBLIC_RATE": "100000",
        # the fuzzer asks for the largest issues it may; keep them small so the run stays short
        "LEDGER_MAX_CODES_PER_ISSUE": "500",
        "LEDGER_ANCHOR_INTERVAL": "1",  # the background loops run, as deployed
    }
    with served_on_chain(deployment, chain_node, tmp_path, **env) as url:
        yield url, tmp_path / "api.log"


def _report(stdout: str, stderr: str, server_log: str) -> str:
    """The server log's tail, then what schemathesis found (its FAILURES section) last, where a
    report cut in the middle still shows it."""
    found = re.search(r"=+ FAILURES =+\n(.*?)(?:=+ SUMMARY =+|$)", stdout, re.S)
    failures = found.group(1) if found else stdout
    size = int(os.environ.get("FUZZ_REPORT", "6000"))
    return f"--- server log ---\n{server_log[-3000:]}\n{stderr[-1500:]}\n--- schemathesis found ---\n{failures[-size:]}"


@pytest.fixture
def terms_kept(deployment, members):
    """The fuzzer, signed in as a merchant, sets that merchant's referral terms to what it makes up
    (PUT /v1/referral-terms, on the session's chain): set back afterwards, as they were, so that the
    tests after it in this worker see the merchant's terms they expect (an order's referrers were
    paid [0, 0, 100] bps instead of the rule's [500, 200, 100] when they ran after it)."""
    dep, _ = deployment
    settlement = dep.contract("OrderSettlement")
    merchant = members["merchant_a"]
    before = settlement.functions.referralTermsOf(merchant.address).call()
    yield
    if settlement.functions.referralTermsOf(merchant.address).call() != before:
        bps = [(before >> (16 * i)) & 0xFFFF for i in range(3)]
        Sender(dep.w3, merchant, dep.decoder()).transact(settlement.functions.setReferralTerms(bps))
    assert settlement.functions.referralTermsOf(merchant.address).call() == before


@pytest.mark.parametrize("who", ["merchant_a", "auditor"])
def test_schemathesis_finds_no_server_errors(server, members, who, terms_kept):
    if not SCHEMATHESIS.exists():
        pytest.fail(f"{SCHEMATHESIS} missing: run `make test` (it builds .venv-schemathesis)")
    url, log = server

    token = login_over_http(url, members[who])["Authorization"].split()[1]
    out = subprocess.run(
        [
            str(SCHEMATHESIS),
            "run",
            f"{url}/openapi.json",
            "--checks",
            "not_a_server_error",
            "--header",
            f"Authorization: Bearer {token}",
            "--max-examples",
            "25",
            "--phases",
            "examples,coverage,fuzzing",
            "--workers",
            "1",
            "--seed",
            "1",
            "--no-color",
            *(arg for path in SIGNS_OUT for arg in ("--exclude-path", path)),
        ],
        check=False,
        capture_output=True,
        text=True,
        timeout=600,
    )
    (log.parent / f"schemathesis-{who}.txt").write_text(out.stdout + out.stderr)  # the whole report, kept
    assert out.returncode == 0, _report(out.stdout, out.stderr, Path(log).read_text())
    selected = re.search(r"Selected: (\d+)/(\d+)", out.stdout)
    tested = re.search(r"Tested: (\d+)", out.stdout)
    assert selected and tested, out.stdout[-3000:]
    assert int(selected.group(1)) == int(selected.group(2)) - len(SIGNS_OUT) == int(tested.group(1)), out.stdout[-3000:]
    assert int(tested.group(1)) >= 25 and " passed" in out.stdout
