"""`ledger money`: the same operations as the API, from the command line, on a real chain."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from eth_account import Account

from ledger.chain.client import Sender, connect
from ledger.chain.deploy import deploy
from ledger.store.db import make_engine, migrate, session_factory
from ledger.trace.epcis.capture import capture
from ledger.trace.epcis.hashid import document_events
from ledger.trace.epcis.samples import delivery_document

from .helpers import govern


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

    def run(*args: str, ok: bool = True, command: str = "money"):
        out = subprocess.run(
            [sys.executable, "-m", "ledger", command, *args], env=env, check=False, capture_output=True, text=True
        )
        if ok:
            assert out.returncode == 0, out.stderr
            return json.loads(out.stdout)
        return out

    run.dep = dep
    run.env = env
    return run, members


def _captured_delivery(database_url: str, carrier: str) -> str:
    """A carrier's delivery event stored in the books' database, as its capture stores it; its hash ID."""
    engine = make_engine(database_url)
    migrate(engine)
    doc = delivery_document([("desadv", "DESADV-CLI")], "CLI1")
    try:
        with session_factory(engine)() as db:
            return capture(db, doc, document_events(doc), carrier).events[0]["hashId"]
    finally:
        engine.dispose()


def test_deposit_order_payout_round_trip(cli, tmp_path):
    run, members = cli

    def orders(*args: str, ok: bool = True):
        return run(*args, ok=ok, command="orders")

    merchant = members["merchant_a"].address
    assert run("deposit", "250000", "--as", "merchant_a")["balance_fen"] == 250_000
    assert run("deposit-status", merchant)["available_fen"] == 250_000
    carrier = members["logistics"].address
    refs = ["--referrer", members["producer"].address]
    (o,) = orders("escrow", "cli-1", merchant, "10001", *refs, "--carrier", carrier, "--as", "platform")
    assert o["status"] == "escrowed"
    event = _captured_delivery(run.env["LEDGER_DATABASE_URL"], carrier)  # as the carrier's capture stored it
    out = orders("deliver", "cli-1", event, "--as", "producer", ok=False)
    assert out.returncode == 1 and "another carrier" in out.stderr
    out = orders("deliver", "cli-1", "ni:///sha-256;" + "ab" * 32 + "?ver=CBV2.0", "--as", "logistics", ok=False)
    assert out.returncode == 1 and "capture the delivery event first" in out.stderr  # no such event here
    (o,) = orders("deliver", "cli-1", event, "--as", "logistics")
    assert o["status"] == "delivered"
    assert orders("refund", "cli-1", "1", "--as", "merchant_a")["refunded_fen"] == 1
    run.dep.w3.provider.make_request("evm_increaseTime", [7 * 24 * 3600 + 1])
    run.dep.w3.provider.make_request("evm_mine", [])
    (settled,) = orders("settle", "--due", "--as", "merchant_a")["settled"]
    s = settled["settlement"]
    assert settled["status"] == "settled" and [h["status"] for h in orders("show", "cli-1")["history"]][-1] == "settled"
    assert s["merchant_fen"] + sum(s["referral_fen"]) + s["platform_fee_fen"] == 10_000
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
    out = run("confirm", "no-such-order", "--as", "platform", ok=False, command="orders")
    assert out.returncode == 1 and "order no-such-order not found" in out.stderr
    out = run("deposit", "100", ok=False)
    assert out.returncode == 1 and "--as MEMBER" in out.stderr


def test_a_large_case_award_is_signed_by_two_arbiters(cli, accounts):
    """Each arbiter signs with its own key (`case-sign`); an arbiter's `case-rule` executes it.
    An arbiter never opens a case naming itself as the claimant."""
    run, members = cli
    merchant, claimant, arbiter = members["merchant_a"].address, members["platform"].address, members["arbiter"]
    run("deposit", "500000", "--as", "merchant_a")
    out = run("case-open", merchant, arbiter.address, "50000", "--as", "arbiter", ok=False)
    assert out.returncode == 1 and out.stderr.startswith("ledger: reverted: PartyToCase(")
    case_id = str(run("case-open", merchant, claimant, "100001", "--as", "arbiter")["case_id"])
    out = run("case-close", case_id, "--pay-out", "--as", "arbiter", ok=False)
    assert out.returncode == 1 and "TooFewSignatures" in out.stderr
    second = Account.create("second arbiter")
    govern((run.dep, None), accounts, run.dep.contract("Membership").functions.admit(second.address, 1 << 6))
    run.env["SECOND_ARBITER_KEY"] = "0x" + bytes(second.key).hex()
    signed = [
        run("case-sign", case_id, "--pay-out", *who)
        for who in (["--as", "arbiter"], ["--key-env", "SECOND_ARBITER_KEY"])
    ]
    assert [s["signer"] for s in signed] == [arbiter.address, second.address]
    sigs = [a for s in signed for a in ("--signature", s["signature"])]
    done = run("case-rule", case_id, "--pay-out", *sigs, "--as", "arbiter")
    assert done["open"] is False and done["tx"].startswith("0x")
    assert run.dep.contract("GuaranteeVault").functions.claimable(claimant).call() == 100_001
    assert run("deposit-status", merchant)["balance_fen"] == 500_000 - 100_001
