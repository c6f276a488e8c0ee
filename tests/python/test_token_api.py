"""Issuance against fiat references: once per reference, the same request answered as the first
time, a reused reference refused; redemption burns the holder's own; the supply check balances."""

from __future__ import annotations

import pytest

from .helpers import login, make_client, new_gtin


@pytest.fixture
def api(deployment, chain_node, tmp_path, members):
    c = make_client(deployment, chain_node, tmp_path, anchor_interval_s=0)
    return c, {who: login(c, members[who]) for who in ("issuer", "merchant_a", "auditor", "producer")}, members


def test_issue_redeem_and_the_supply_check(api, deployment):
    c, h, members = api
    dep, _ = deployment
    ref = f"ICBC-{new_gtin()}"
    to = members["merchant_a"].address
    body = {"to": to, "amount_fen": 12_345, "fiat_reference": ref}
    first = c.post("/v1/token/issuances", json=body, headers=h["issuer"])
    assert first.status_code == 201, first.text
    assert first.json()["amount_fen"] == 12_345 and first.json()["fiat_reference"] == ref
    again = c.post("/v1/token/issuances", json=body, headers=h["issuer"])
    assert again.status_code == 200 and again.json() == first.json()  # idempotent: minted once
    other = c.post("/v1/token/issuances", json=body | {"amount_fen": 99}, headers=h["issuer"])
    assert other.status_code == 409 and other.json()["error"] == "reference_used"
    assert '"amount_fen": 12345' in other.json()["detail"] and "{'" not in other.json()["detail"]  # JSON, not a repr
    assert [i for i in c.get("/v1/token/issuances", headers=h["auditor"]).json() if i["fiat_reference"] == ref] == [
        first.json()
    ]
    payout = f"PAYOUT-{new_gtin()}"
    r = c.post("/v1/token/redemptions", json={"amount_fen": 345, "fiat_reference": payout}, headers=h["merchant_a"])
    assert r.status_code == 201 and r.json()["holder"] == to
    reused = c.post("/v1/token/redemptions", json={"amount_fen": 1, "fiat_reference": ref}, headers=h["merchant_a"])
    assert reused.status_code == 409
    # a payout's reference never blocks a deposit's: a holder cannot make a deposit unmintable
    deposit = {"to": to, "amount_fen": 5, "fiat_reference": payout}
    late = c.post("/v1/token/issuances", json=deposit, headers=h["issuer"])
    assert late.status_code == 201, late.text
    supply = c.get("/v1/token/supply", headers=h["auditor"]).json()
    assert supply["balanced"] and supply["unexplained_fen"] == 0
    assert supply["total_supply_fen"] == dep.contract("SettlementToken").functions.totalSupply().call()


@pytest.mark.parametrize(
    ("who", "body", "status"),
    [
        ("producer", {"amount_fen": 1, "fiat_reference": "X-1"}, 403),  # not an issuer
        ("issuer", {"amount_fen": 1.5, "fiat_reference": "X-2"}, 422),  # fen are whole
        ("issuer", {"amount_fen": 1, "fiat_reference": ""}, 422),
        ("issuer", {"amount_fen": 1, "fiat_reference": "has space"}, 422),
        ("issuer", {"amount_fen": 0, "fiat_reference": "X-3"}, 422),
    ],
)
def test_bad_issuances_are_refused_and_mint_nothing(api, deployment, who, body, status):
    c, h, members = api
    dep, _ = deployment
    supply = dep.contract("SettlementToken").functions.totalSupply().call()
    r = c.post("/v1/token/issuances", json={"to": members["merchant_a"].address} | body, headers=h[who])
    assert r.status_code == status, r.text
    assert dep.contract("SettlementToken").functions.totalSupply().call() == supply


def test_redeeming_more_than_held_is_refused(api):
    c, h, _ = api
    r = c.post("/v1/token/redemptions", json={"amount_fen": 10**15, "fiat_reference": f"P-{new_gtin()}"},
               headers=h["producer"])  # fmt: skip
    assert r.status_code == 409 and r.json()["error"] == "ERC20InsufficientBalance"


def test_the_same_issuance_sent_at_once_mints_once_and_answers_each_as_the_first(api, deployment):
    """Ten identical issuances at once (a retry storm): minted once; each answered 201 or 200 with
    the same issuance (four were 409 `ReferenceUsed`, the reference taken by their own twin)."""
    from concurrent.futures import ThreadPoolExecutor

    c, h, members = api
    dep, _ = deployment
    body = {"to": members["merchant_a"].address, "amount_fen": 777, "fiat_reference": f"ICBC-{new_gtin()}"}
    supply = dep.contract("SettlementToken").functions.totalSupply().call()
    with ThreadPoolExecutor(10) as pool:
        answers = list(pool.map(lambda _: c.post("/v1/token/issuances", json=body, headers=h["issuer"]), range(10)))
    assert {a.status_code for a in answers} <= {200, 201} and [a.status_code for a in answers].count(201) >= 1, [
        (a.status_code, a.text) for a in answers
    ]
    assert len({a.text for a in answers}) == 1
    assert dep.contract("SettlementToken").functions.totalSupply().call() == supply + 777
