"""Cases against a guarantee deposit through the API, on a real anvil deployment: a party to a case
never opens, decides or signs it (issue 25: an arbiter awarding itself a merchant's deposit), and
a case above the case threshold, awarded or released, takes the case quorum of arbiters' own signatures."""

from __future__ import annotations

import pytest
from eth_account import Account

from ledger.chain.client import Sender
from ledger.money import vault

from .helpers import govern, login, make_client

DEPOSIT = 1_000_000


@pytest.fixture(scope="module")
def api(deployment, chain_node, tmp_path_factory, members, accounts):
    """merchant_b deposits; a second arbiter (a key of its own, never sending) is admitted; every
    case the tests leave open is released at the end (nothing stays frozen)."""
    dep, _ = deployment
    Sender(dep.w3, members["issuer"], dep.decoder()).transact(
        dep.contract("SettlementToken").functions.mint(members["merchant_b"].address, DEPOSIT)
    )
    c = make_client(deployment, chain_node, tmp_path_factory.mktemp("cases"))
    h = {who: login(c, members[who]) for who in ("merchant_b", "arbiter", "auditor", "platform")}
    assert c.post("/v1/deposits", json={"amount_fen": DEPOSIT}, headers=h["merchant_b"]).status_code == 200
    second = Account.create("second arbiter")
    govern(deployment, accounts, dep.contract("Membership").functions.admit(second.address, 1 << 6))
    opened: list[int] = []
    yield c, h, dep, second, opened
    for case_id in opened:
        if vault.case(dep, case_id)["open"]:  # a large case is released by the quorum's ruling
            both = [_sign(dep, members["arbiter"], case_id, False), _sign(dep, second, case_id, False)]
            c.post(f"/v1/cases/{case_id}/ruling", json={"pay_out": False, "signatures": both}, headers=h["arbiter"])
    govern(deployment, accounts, dep.contract("Membership").functions.remove(second.address))


def _open(c, h, opened, merchant, claimant, amount):
    r = c.post("/v1/cases", json={"merchant": merchant, "claimant": claimant, "amount_fen": amount}, headers=h)
    assert r.status_code == 201, r.text
    opened.append(r.json()["case_id"])
    return r.json()["case_id"]


def _sign(dep, account, case_id, pay_out):
    return "0x" + vault.sign_case_ruling(dep, bytes(account.key), case_id, pay_out).hex()


def test_an_arbiter_cannot_award_itself_a_merchants_deposit(api, members):
    c, h, dep, second, opened = api
    merchant, arbiter = members["merchant_b"].address, members["arbiter"]
    before = vault.deposit_account(dep, merchant)
    r = c.post(
        "/v1/cases",
        json={"merchant": merchant, "claimant": arbiter.address, "amount_fen": 50_000},
        headers=h["arbiter"],
    )
    assert r.status_code == 403 and r.json()["error"] == "PartyToCase", r.text
    assert vault.deposit_account(dep, merchant) == before  # nothing frozen
    nobody = {"merchant": merchant, "claimant": "0x" + "00" * 20, "amount_fen": 50_000}  # was a 409 from the chain
    r = c.post("/v1/cases", json=nobody, headers=h["arbiter"])
    assert r.status_code == 422 and r.json()["detail"][0]["field"] == "body.claimant", r.text
    # an arbiter named as the claimant signs for nothing: another arbiter decides
    case_id = _open(c, h["arbiter"], opened, merchant, second.address, 50_000)
    r = c.post(
        f"/v1/cases/{case_id}/ruling",
        json={"pay_out": True, "signatures": [_sign(dep, second, case_id, True)]},
        headers=h["arbiter"],
    )
    assert r.status_code == 403 and r.json()["error"] == "PartyToCase", r.text
    assert dep.contract("GuaranteeVault").functions.claimable(second.address).call() == 0
    r = c.post(f"/v1/cases/{case_id}/close", json={"pay_out": False}, headers=h["arbiter"])
    assert r.status_code == 200 and r.json()["open"] is False
    assert vault.deposit_account(dep, merchant) == before


def test_an_arbiter_cannot_award_a_deposit_to_a_claimant_it_named(api, members):
    """Issue 25's attack with a claimant of the arbiter's own (any address it holds): it opens a
    case within the one-arbiter threshold and awards it, case after case. The opener may release
    its case, never award it, by `/close` or by its signature alone."""
    c, h, dep, _, opened = api
    merchant, arbiter = members["merchant_b"].address, members["arbiter"]
    puppet = Account.create("an address the arbiter holds").address
    before = vault.deposit_account(dep, merchant)
    threshold = c.get("/v1/governance/parameters", headers=h["auditor"]).json()["case_threshold_fen"]
    case_id = _open(c, h["arbiter"], opened, merchant, puppet, threshold)
    r = c.post(f"/v1/cases/{case_id}/close", json={"pay_out": True}, headers=h["arbiter"])
    assert r.status_code == 403 and r.json()["error"] == "OpenerAlone", r.text
    mine = [_sign(dep, arbiter, case_id, True)]
    r = c.post(f"/v1/cases/{case_id}/ruling", json={"pay_out": True, "signatures": mine}, headers=h["arbiter"])
    assert r.status_code == 403 and r.json()["error"] == "OpenerAlone", r.text
    assert dep.contract("GuaranteeVault").functions.claimable(puppet).call() == 0
    r = c.post(f"/v1/cases/{case_id}/close", json={"pay_out": False}, headers=h["arbiter"])
    assert r.status_code == 200 and r.json()["open"] is False
    assert vault.deposit_account(dep, merchant) == before


def test_a_large_award_takes_the_quorum_of_arbiters_signatures(api, members):
    c, h, dep, second, opened = api
    merchant, claimant, arbiter = members["merchant_b"].address, members["platform"].address, members["arbiter"]
    params = c.get("/v1/governance/parameters", headers=h["auditor"]).json()
    threshold = params["case_threshold_fen"]
    assert params["case_arbiter_quorum"] == 2
    case_id = _open(c, h["arbiter"], opened, merchant, claimant, threshold + 1)
    r = c.post(f"/v1/cases/{case_id}/close", json={"pay_out": True}, headers=h["arbiter"])
    assert r.status_code == 422 and r.json()["error"] == "TooFewSignatures", r.text
    todo = c.get(f"/v1/cases/{case_id}/ruling", params={"pay_out": True}, headers=h["auditor"]).json()
    assert todo["signatures_needed"] == 2 and todo["typed_data"]["message"] == {"caseId": case_id, "payOut": True}
    assert c.get(f"/v1/cases/{case_id}/ruling", params={"pay_out": True}, headers=h["merchant_b"]).status_code == 403
    one = [_sign(dep, arbiter, case_id, True)]
    r = c.post(f"/v1/cases/{case_id}/ruling", json={"pay_out": True, "signatures": one}, headers=h["arbiter"])
    assert r.status_code == 422 and r.json()["error"] == "TooFewSignatures", r.text
    cosign = f"/v1/cases/{case_id}/cosignatures"
    for junk in ("0x" + "ff" * 65, "0x" + "00" * 65):  # the right length, not a signature: 422, not 500
        assert c.post(cosign, json={"pay_out": True, "signature": junk}, headers=h["arbiter"]).status_code == 422
    theirs = {"pay_out": True, "signature": _sign(dep, second, case_id, True)}
    assert c.post(cosign, json=theirs, headers=h["arbiter"]).status_code == 403  # not the arbiter's own
    left = c.post(cosign, json={"pay_out": True, "signature": one[0]}, headers=h["arbiter"]).json()
    assert [x["signer"] for x in left] == [arbiter.address]
    r = c.post(
        f"/v1/cases/{case_id}/ruling", json={"pay_out": True, "signatures": ["0x" + "ff" * 65]}, headers=h["arbiter"]
    )
    assert r.status_code == 422 and "signatures.0" in r.json()["detail"], r.text
    both = [_sign(dep, second, case_id, True), *one]  # any order: the API sorts them
    r = c.post(f"/v1/cases/{case_id}/ruling", json={"pay_out": True, "signatures": both}, headers=h["merchant_b"])
    assert r.status_code == 403  # arbiters submit rulings
    before = dep.contract("GuaranteeVault").functions.claimable(claimant).call()
    r = c.post(f"/v1/cases/{case_id}/ruling", json={"pay_out": True, "signatures": both}, headers=h["arbiter"])
    assert r.status_code == 200 and r.json()["open"] is False and r.json()["tx_hash"], r.text
    assert dep.contract("GuaranteeVault").functions.claimable(claimant).call() == before + threshold + 1
    # releasing a large case denies its claimant: the quorum's decision too, not one arbiter's
    case_id = _open(c, h["arbiter"], opened, merchant, claimant, threshold + 1)
    r = c.post(f"/v1/cases/{case_id}/close", json={"pay_out": False}, headers=h["arbiter"])
    assert r.status_code == 422 and r.json()["error"] == "TooFewSignatures", r.text
    todo = c.get(f"/v1/cases/{case_id}/ruling", params={"pay_out": False}, headers=h["auditor"]).json()
    assert todo["signatures_needed"] == 2 and todo["typed_data"]["message"] == {"caseId": case_id, "payOut": False}
    one = [_sign(dep, arbiter, case_id, False)]
    r = c.post(f"/v1/cases/{case_id}/ruling", json={"pay_out": False, "signatures": one}, headers=h["arbiter"])
    assert r.status_code == 422 and r.json()["error"] == "TooFewSignatures", r.text
    frozen = vault.deposit_account(dep, merchant)["frozen_fen"]
    both = [*one, _sign(dep, second, case_id, False)]
    r = c.post(f"/v1/cases/{case_id}/ruling", json={"pay_out": False, "signatures": both}, headers=h["arbiter"])
    assert r.status_code == 200 and r.json()["open"] is False, r.text
    assert vault.deposit_account(dep, merchant)["frozen_fen"] == frozen - threshold - 1
    # a small award is still one arbiter's (not a party's, not the opener's) decision
    case_id = _open(c, h["arbiter"], opened, merchant, claimant, threshold)
    one = [_sign(dep, second, case_id, True)]
    r = c.post(f"/v1/cases/{case_id}/ruling", json={"pay_out": True, "signatures": one}, headers=h["arbiter"])
    assert r.status_code == 200 and r.json()["open"] is False, r.text
    assert c.get("/v1/cases/999999/ruling", params={"pay_out": False}, headers=h["arbiter"]).status_code == 404
