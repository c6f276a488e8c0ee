"""`ledger money`: the same operations as the API, from the command line, on a real chain."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from ledger.chain.client import Sender, connect
from ledger.chain.deploy import deploy


@pytest.fixture
def cli(anvil_factory, tmp_path, accounts):
    node = anvil_factory()
    manifest = tmp_path / "deployment.json"
    dep, _ = deploy(connect(node.url), manifest)
    members = {label: accounts[m["account_index"]] for label, m in dep.manifest["members"].items()}
    issuer = Sender(dep.w3, members["issuer"], dep.decoder())
    for who in ("platform", "merchant_a"):
        issuer.transact(dep.contract("SettlementToken").functions.mint(members[who].address, 10**9))
    env = {
        **os.environ,
        "LEDGER_RPC_URL": node.url,
        "LEDGER_MANIFEST": str(manifest),
        "LEDGER_DATABASE_URL": f"sqlite:///{tmp_path / 'cli.sqlite3'}",
    }

    def run(*args: str, ok: bool = True):
        out = subprocess.run(
            [sys.executable, "-m", "ledger", "money", *args], env=env, check=False, capture_output=True, text=True
        )
        if ok:
            assert out.returncode == 0, out.stderr
            return json.loads(out.stdout)
        return out

    return run, members


def test_deposit_order_payout_round_trip(cli):
    run, members = cli
    merchant = members["merchant_a"].address
    assert run("deposit", "250000", "--as", "merchant_a")["balance_fen"] == 250_000
    assert run("deposit-status", merchant)["available_fen"] == 250_000
    assert (
        run("escrow", "cli-1", merchant, "10001", "--referrer", members["producer"].address, "--as", "platform")[
            "status"
        ]
        == "escrowed"
    )
    settled = run("confirm", "cli-1", "--as", "platform")
    s = settled["settlement"]
    assert settled["status"] == "settled"
    assert s["merchant_fen"] + sum(s["referral_fen"]) + s["platform_fee_fen"] == 10_001
    owed = run("payouts", merchant)["settlement_fen"]
    assert owed == s["merchant_fen"]
    assert run("withdraw-payouts", "--as", "merchant_a")["settlement_fen"] == 0


def test_refusals_are_one_line(cli):
    run, _ = cli
    out = run("deposit", "100", "--as", "producer", ok=False)
    assert out.returncode == 1 and out.stderr.startswith("ledger: reverted: MissingRole(")
    assert out.stderr.strip().count("\n") == 0
    out = run("deposit", "12.5", "--as", "merchant_a", ok=False)
    assert out.returncode == 2 and "whole number of fen" in out.stderr
    out = run("confirm", "no-such-order", "--as", "platform", ok=False)
    assert out.returncode == 1 and "order no-such-order not found" in out.stderr
    out = run("deposit", "100", ok=False)
    assert out.returncode == 1 and "--as MEMBER" in out.stderr
