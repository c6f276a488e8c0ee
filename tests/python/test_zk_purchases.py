"""Shoppers prove a delivered purchase without saying which (issue 28), through the API served by
uvicorn on a real anvil deployment, with the circuit `make zk` built (Groth16, snarkjs on Node):
commitments with orders, the tree anchored at delivery, refunds zeroed, reviews and claims by
proof, each kind of bad proof refused by name with nothing stored, the verifier's gas trap, every
root recomputed from the logs and a wrong one caught, no link from a review to an order; and the
shopper's journey in Debian's chromium (checkout, receipt link, proof and review in the browser)."""

from __future__ import annotations

import json
import os
import re
import shutil
import sqlite3
import subprocess
import sys
import time

import httpx
import pytest
from eth_account import Account
from PIL import Image
from pyzbar.pyzbar import decode as zbar_decode

from ledger.chain import governance
from ledger.chain.client import Sender
from ledger.chain.deploy import GOVERNOR_INDEXES
from ledger.i18n import catalog
from ledger.paths import ROOT
from ledger.privacy import build, fields, node, onchain, poseidon, tree

from .helpers import (
    captured_delivery,
    claim_terms_in_force,
    login_over_http,
    new_gtin,
    served_on_chain,
    withdrawal_cooldown,
)

SHOTS = ROOT / "build" / "zk-screenshots"
_n = iter(range(1, 10**6))


@pytest.fixture(scope="module")
def stack(deployment, chain_node, members, accounts, tmp_path_factory):
    build.build()  # `make zk` built it: this only checks
    dep, manifest = deployment
    platform = Sender(dep.w3, members["platform"], dep.decoder())
    onchain.deploy(dep, platform, manifest)
    issuer = Sender(dep.w3, members["issuer"], dep.decoder())
    token = dep.contract("SettlementToken")
    issuer.transact(token.functions.mint(members["platform"].address, 10**9))
    issuer.transact(token.functions.mint(members["merchant_a"].address, 10**6))
    onchain.wire_claims(dep, governors(dep, accounts), delay=3600)
    tmp = tmp_path_factory.mktemp("zk")
    # a merchant's new claim terms pay once the withdrawal cooldown passed: a short one here
    with withdrawal_cooldown(dep, governors(dep, accounts), 2), served_on_chain(deployment, chain_node, tmp) as url:
        h = {
            w: login_over_http(url, members[w])
            for w in ("platform", "merchant_a", "merchant_b", "logistics", "auditor")
        }
        gtin = new_gtin()
        assert (
            httpx.post(f"{url}/v1/products", json={"gtin": gtin, "name": "Tea"}, headers=h["merchant_a"]).status_code
            == 201
        )
        for lot in ("ZK-1", "ZK-2"):
            r = httpx.post(f"{url}/v1/batches", json={"gtin": gtin, "lot": lot}, headers=h["merchant_a"], timeout=60)
            assert r.status_code == 201, r.text
        yield {
            "url": url,
            "dep": dep,
            "h": h,
            "gtin": gtin,
            "members": members,
            "db": tmp / "api.sqlite3",
            "governors": governors(dep, accounts),
            "tmp": tmp,
            "env": {"LEDGER_RPC_URL": chain_node.url, "LEDGER_MANIFEST": str(manifest)},
            "commitments": {},
        }


def signed_in(s) -> dict:
    """The stack with fresh sessions (a slow machine outlives the fixture's)."""
    s["h"] = {w: login_over_http(s["url"], s["members"][w]) for w in s["h"]}
    return s


def governors(dep, accounts) -> list[Sender]:
    return [Sender(dep.w3, accounts[i], dep.decoder()) for i in GOVERNOR_INDEXES]


def post(s, path, body, who=None):
    return httpx.post(s["url"] + path, json=body, headers=s["h"][who] if who else {}, timeout=120)


def order(s, lot: str, secret: int, holder: int | str | None = None) -> str:
    """A shopper's order escrowed by the platform, with the holder Poseidon(secret) its checkout
    received (`holder`: what a browser handed over); the platform answers with the leaf it made."""
    oid = f"ZK{int(time.time())}{next(_n)}"
    body = {
        "order_id": oid,
        "merchant": s["members"]["merchant_a"].address,
        "amount_fen": 20_000,
        "referrers": [],
        "shopper_id": f"shopper-{oid}",
        "carrier": s["members"]["logistics"].address,
    }
    r = httpx.post(
        s["url"] + "/v1/orders", json=body, headers={**s["h"]["platform"], "Idempotency-Key": oid}, timeout=120
    )
    assert r.status_code == 201, r.text
    r = post(
        s,
        "/v1/purchases/commitments",
        {"order_id": oid, "gtin": s["gtin"], "lot": lot, "holder": str(holder or poseidon.holder(secret))},
        "platform",
    )
    assert r.status_code == 201, r.text
    s["commitments"][oid] = r.json()["commitment"]
    if holder is None:  # the platform's Poseidon (Python) is the circuit's (circomlibjs on Node)
        assert int(r.json()["commitment"]) == node.commitment(secret, fields.batch_id(s["gtin"], lot))
    return oid


def ensure_available(s, fen: int) -> None:
    """At least `fen` of merchant_a's deposit above its minimum: claims on its own terms keep it."""
    dep, merchant = s["dep"], s["members"]["merchant_a"].address
    short = fen - dep.contract("GuaranteeVault").functions.available(merchant).call()
    if short > 0:
        issuer = Sender(dep.w3, s["members"]["issuer"], dep.decoder())
        issuer.transact(dep.contract("SettlementToken").functions.mint(merchant, short + 100_000))
        r = post(s, "/v1/deposits", {"amount_fen": short + 100_000}, "merchant_a")
        assert r.status_code in (200, 201), r.text


def carriers_event(s) -> str:
    """A delivery event the carrier captured, for its deliveries to name."""
    with httpx.Client(base_url=s["url"], timeout=120) as c:
        return captured_delivery(c, s["h"]["logistics"])


def deliver(s, *oids: str) -> None:
    """The carrier delivers, and vouches for the code each recipient showed at hand-over."""
    ev = carriers_event(s)
    ds = [{"order_id": o, "epcis_event": ev} for o in oids]
    r = post(s, "/v1/orders/deliveries", {"deliveries": ds}, "logistics")
    assert r.status_code == 200, r.text
    handed = [{"order_id": o, "commitment": s["commitments"][o]} for o in oids]
    r = post(s, "/v1/purchases/vouches", {"handed": handed}, "logistics")
    assert r.status_code == 200 and r.json()["vouched"] == len(oids), r.text


def confirm(s) -> dict:
    """An auditor recomputes the roots from the logs and confirms the right ones."""
    r = post(s, "/v1/purchases/roots/confirmations", {}, "auditor")
    assert r.status_code == 200, r.text
    return r.json()


def anchor(s) -> dict:
    r = post(s, "/v1/purchases/anchor", {}, "platform")
    assert r.status_code == 200, r.text
    return r.json()


def leaves(s) -> list[int]:
    return [int(x) for x in httpx.get(s["url"] + "/v1/purchases/tree").json()["leaves"]]


def review_body(s, lot, p, rating, text):
    nullifier, root = p["publicSignals"][0], p["publicSignals"][1]
    return {
        "gtin": s["gtin"],
        "lot": lot,
        "root": root,
        "nullifier": nullifier,
        "proof": p["proof"],
        "rating": rating,
        "text": text,
    }


def test_verified_reviews_claims_refusals_refunds_and_roots(stack):
    s, dep = stack, stack["dep"]
    c = dep.contract("PurchaseProofs")
    b1 = fields.batch_id(s["gtin"], "ZK-1")
    secrets = [int.from_bytes(os.urandom(31), "big") for _ in range(3)]
    kept, refunded_later, _ = secrets
    oids = [order(s, "ZK-1", x) for x in secrets]
    # refunded before delivery: never joins the tree
    assert post(s, f"/v1/orders/{oids[2]}/refund", {"amount_fen": 20_000}, "platform").status_code == 200
    deliver(s, oids[0], oids[1])
    # a carrier vouches only for what it delivered, with the code that came with the order, once
    spare = order(s, "ZK-1", int.from_bytes(os.urandom(31), "big"))
    vouch = "/v1/purchases/vouches"
    for handed, status in (
        ([{"order_id": spare, "commitment": s["commitments"][spare]}], 409),  # not delivered yet
        ([{"order_id": oids[2], "commitment": s["commitments"][oids[2]]}], 409),  # refunded
        ([{"order_id": oids[0], "commitment": s["commitments"][oids[0]]}], 409),  # vouched already
        ([{"order_id": "nope", "commitment": "5"}], 404),
    ):
        r = post(s, vouch, {"handed": handed}, "logistics")
        assert r.status_code == status, (handed, r.text)
    r = post(
        s, "/v1/orders/deliveries", {"deliveries": [{"order_id": spare, "epcis_event": carriers_event(s)}]}, "logistics"
    )
    assert r.status_code == 200, r.text
    r = post(s, vouch, {"handed": [{"order_id": spare, "commitment": "5"}]}, "logistics")  # another code shown
    assert r.status_code == 409 and "not the commitment" in r.json()["detail"], r.text
    r = post(s, vouch, {"handed": [{"order_id": spare, "commitment": s["commitments"][spare]}]}, "platform")
    assert r.status_code == 403, r.text  # the operator is no carrier
    done = anchor(s)
    assert (done["added"], done["zeroed"]) == (2, 0), done  # delivered without a vouch: not in the tree
    lv = leaves(s)
    assert lv == [node.commitment(kept, b1), node.commitment(refunded_later, b1)]
    assert int(done["root"]) == node.root(lv) and c.functions.rootValid(int(done["root"])).call()

    # the messages the contract binds are the ones Python (and the browser) compute
    th = fields.text_hash("fresh, as promised")
    here = onchain.domain(dep)
    assert c.functions.reviewMessage(5, th).call() == fields.review_message(here, 5, th)
    payee = s["members"]["producer"].address
    assert c.functions.claimMessage(payee, 500).call() == fields.claim_message(here, payee, 500)
    # bound to this chain and this contract: a proof spent on another deployment is no proof here
    elsewhere = (here[0], "0x" + "11" * 20)
    assert fields.claim_message(elsewhere, payee, 500) != fields.claim_message(here, payee, 500)
    assert fields.claim_message((here[0] + 1, here[1]), payee, 500) != fields.claim_message(here, payee, 500)
    said = httpx.get(f"{s['url']}/v1/purchases/domain").json()  # what the browser binds (anyone may ask)
    assert (said["chain_id"], said["contract"]) == here, said

    msg = fields.review_message(here, 5, th)
    p = node.prove(kept, b1, fields.PURPOSES["review"], msg, lv, lv.index(node.commitment(kept, b1)))
    assert node.verify(p["proof"], p["publicSignals"])
    good = review_body(s, "ZK-1", p, 5, "fresh, as promised")

    # every bad input: a clear 4xx naming it, nothing stored, nothing counted
    def refused(body, status, code, path="/v1/purchases/reviews"):
        r = post(s, path, body)
        assert r.status_code == status and r.json()["error"] == code, (r.status_code, r.text)

    refused({**good, "text": "terrible"}, 422, "InvalidProof")  # tampered message
    refused({**good, "rating": 1}, 422, "InvalidProof")
    refused({**good, "root": str(int(good["root"]) + 1)}, 409, "UnknownRoot")  # wrong root
    refused({**good, "lot": "ZK-2"}, 422, "InvalidProof")  # a proof for another batch
    refused({**good, "lot": "NOPE"}, 404, "not_found")  # unknown batch
    refused({**good, "proof": {**good["proof"], "pi_a": ["x", "1", "1"]}}, 422, "invalid_input")  # malformed
    refused({**good, "proof": {**good["proof"], "pi_a": ["1", "2", "1"]}}, 422, "InvalidProof")  # not a proof
    refused({**good, "nullifier": str(fields.FIELD + 1)}, 422, "NotInField")
    refused({**good, "text": "fresh\u202e, as promised"}, 422, "invalid_input")  # shown to all: nothing reordered
    assert c.functions.reviewCount(b1).call() == 0

    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(4) as pool:  # the same proof four times at once: one taken, three refused by name
        answers = list(pool.map(lambda _: post(s, "/v1/purchases/reviews", good), range(4)))
    (r,) = [a for a in answers if a.status_code == 201]
    assert r.json()["gas"] < 400_000
    assert sorted((a.status_code, a.json()["error"]) for a in answers if a is not r) == [(409, "NullifierUsed")] * 3
    refused(good, 409, "NullifierUsed")  # each purchase reviews a batch once
    # the same purchase may still claim, once, paid to a fresh address it names
    pay_to = Account.create().address
    pc = node.prove(kept, b1, fields.PURPOSES["claim"], fields.claim_message(here, pay_to, 500), lv, 0)
    claim = {
        "gtin": s["gtin"],
        "lot": "ZK-1",
        "root": pc["publicSignals"][1],
        "nullifier": pc["publicSignals"][0],
        "proof": pc["proof"],
        "pay_to": pay_to,
        "amount_fen": 500,
    }
    refused(claim, 409, "NoClaimTerms", "/v1/purchases/claims")  # the batch's claims pay nothing yet
    ensure_available(s, 10_000)  # the merchant's own terms keep its minimum (other tests may have set one)
    now = dep.w3.eth.get_block("latest")["timestamp"]
    terms = {"gtin": s["gtin"], "lot": "ZK-1", "amount_fen": 500, "until": now - 1, "count": 1}
    r = post(s, "/v1/purchases/claim-terms", {**terms, "amount_fen": 9}, "merchant_b")
    assert r.status_code == 403 and r.json()["error"] == "not_your_product", r.text
    r = post(s, "/v1/purchases/claim-terms", terms, "merchant_a")  # they would end before they paid
    assert r.status_code == 422 and r.json()["error"] == "EndsBeforeInForce", r.text
    assert post(s, "/v1/purchases/claim-terms", {**terms, "until": now + 4}, "merchant_a").status_code == 200
    claim_terms_in_force(dep, b1)
    while dep.w3.eth.get_block("latest")["timestamp"] <= now + 4:  # and past their end
        time.sleep(0.5)
        dep.w3.provider.make_request("evm_mine", [])
    refused(claim, 409, "ClaimWindowClosed", "/v1/purchases/claims")
    r = post(s, "/v1/purchases/claim-terms", {**terms, "until": now + 86_400}, "merchant_a")
    assert r.status_code == 200 and r.json()["amount_fen"] == 500, r.text
    assert r.json()["pays_from"] == c.functions.claimTerms(b1).call()[5] > now, r.text  # after the cooldown
    refused(claim, 409, "TermsNotInForce", "/v1/purchases/claims")
    claim_terms_in_force(dep, b1)
    refused({**claim, "amount_fen": 600}, 422, "WrongClaimAmount", "/v1/purchases/claims")
    refused(claim, 409, "RootNotConfirmed", "/v1/purchases/claims")  # no auditor recomputed it yet
    assert good["root"] in confirm(s)["confirmed"]
    refused(claim, 409, "RootTooNew", "/v1/purchases/claims")  # members have an hour to revoke it
    vault, token = dep.contract("GuaranteeVault"), dep.contract("SettlementToken")
    before = vault.functions.accountOf(s["members"]["merchant_a"].address).call()[0]
    assert token.functions.balanceOf(pay_to).call() == 0 and c.functions.claimCount(b1).call() == 0
    onchain.wire_claims(dep, s["governors"], delay=0)
    replay = {k: claim[k] for k in ("root", "nullifier", "proof")}
    refused({**good, **replay}, 422, "InvalidProof")  # replay across purposes: a claim's proof as a review
    r = post(s, "/v1/purchases/claims", claim)
    assert r.status_code == 201 and r.json()["paid_fen"] == 500, r.text
    # paid at once, from the merchant's deposit, to the shopper's address: the sums agree
    assert token.functions.balanceOf(pay_to).call() == 500
    assert vault.functions.accountOf(s["members"]["merchant_a"].address).call()[0] == before - 500
    refused(claim, 409, "ClaimsExhausted", "/v1/purchases/claims")  # the terms paid their one claim
    # after a recall the council imposes terms (two governors' votes): the merchant can't change them
    b2 = fields.batch_id(s["gtin"], "ZK-2")
    imposed = {
        "type": "set_claim_terms",
        "batch": b2,
        "merchant": s["members"]["merchant_a"].address,
        "amount_fen": 800,
    }
    pid = governance.propose(dep, s["governors"][0], imposed | {"until": now + 86_400, "count": 50}, "recall ZK-2")
    governance.approve(dep, s["governors"][1], pid)
    assert list(c.functions.claimTerms(b2).call())[1:5] == [800, now + 86_400, 50, True]  # in force at once
    r = post(s, "/v1/purchases/claim-terms", {**terms, "lot": "ZK-2", "count": 0}, "merchant_a")
    assert r.status_code == 403 and r.json()["error"] == "TermsNotYours", r.text
    summary = httpx.get(f"{s['url']}/v1/purchases/batches/{s['gtin']}/ZK-1").json()
    assert (summary["reviews"], summary["rating"], summary["claims"]) == (1, 5.0, 1), summary
    assert summary["claim_terms"]["paid_fen"] == 500 and summary["claim_terms"]["left"] == 0, summary
    assert summary["recent"][0]["text"] == "fresh, as promised"

    # a full refund after delivery: the leaf is zeroed in a new root, older roots go stale
    old = node.prove(refunded_later, b1, 1, fields.review_message(here, 1, fields.text_hash("")), lv, 1)
    assert post(s, f"/v1/orders/{oids[1]}/refund", {"amount_fen": 20_000}, "platform").status_code == 200
    done = anchor(s)
    assert (done["added"], done["zeroed"]) == (0, 1)
    assert leaves(s)[1] == 0
    # the older roots go stale once an auditor confirms a root holding the zeroing (one operator key
    # anchoring a zeroing root of no tree voids nothing)
    assert done["root"] in confirm(s)["confirmed"]
    refused(review_body(s, "ZK-1", old, 1, ""), 409, "StaleRoot")
    with pytest.raises(node.ProverFailed):  # its commitment is no longer a leaf under the root
        node.prove(refunded_later, b1, 1, 0, leaves(s), 1)

    # nothing of the order reaches the chain or the review's records
    logs = [str(dict(e["args"])) for ev in ("ReviewRecorded", "ClaimRecorded") for e in dep.logs(getattr(c.events, ev))]
    with sqlite3.connect(s["db"]) as db:
        reviews = [str(r) for r in db.execute("SELECT * FROM purchase_reviews")]
    answers = [r.text, json.dumps(summary)]
    links = [
        *oids,
        *(f"shopper-{o}" for o in oids),
        *(str(node.commitment(x, b1)) for x in secrets),
        *map(str, secrets),
    ]
    for where in (logs, reviews, answers):
        assert where and not [x for x in links if any(x in w for w in where)], where

    # every root recomputed from the logs; a wrong one is caught and revoked
    assert all(r["ok"] for r in tree.verify_roots(dep))
    platform = Sender(dep.w3, s["members"]["platform"], dep.decoder())
    bogus = 12345
    platform.transact(c.functions.anchor(bogus, [], [], c.functions.leafCount().call()))
    bad = [r for r in tree.verify_roots(dep) if not r["ok"]]
    assert [r["root"] for r in bad] == [str(bogus)]
    checked = confirm(s)
    assert str(bogus) in checked["wrong"] and str(bogus) not in checked["confirmed"]  # never confirmed
    platform.transact(c.functions.revokeRoot(bogus))
    assert not c.functions.rootValid(bogus).call()


def test_the_verifier_gas_trap(stack):
    """The generated verifier answers false (no revert) short of gas; the contract refuses a call
    that would leave it short (VerifyGasTooLow), instead of calling a good proof invalid."""
    s, dep = signed_in(stack), stack["dep"]
    c, v = dep.contract("PurchaseProofs"), dep.contract(onchain.VERIFIER)
    lot = new_lot(s)
    b2 = fields.batch_id(s["gtin"], lot)
    x = int.from_bytes(os.urandom(31), "big")
    deliver(s, order(s, lot, x))
    anchor(s)
    lv = leaves(s)
    th = fields.text_hash("a review")
    p = node.prove(
        x,
        b2,
        fields.PURPOSES["review"],
        fields.review_message(onchain.domain(dep), 4, th),
        lv,
        lv.index(node.commitment(x, b2)),
    )
    w = node.solidity_proof(p["proof"])
    pub = [int(y) for y in p["publicSignals"]]
    gas = onchain.verifier_gas(dep, w, pub)
    args = ([w[0], w[1]], [[w[2], w[3]], [w[4], w[5]]], [w[6], w[7]], pub)
    assert v.functions.verifyProof(*args).call({"gas": gas["needed"] + 1000}) is True
    assert v.functions.verifyProof(*args).call({"gas": gas["needed"] - 1000}) is False  # false, not a revert
    assert gas["estimate"] < gas["needed"]  # and the node's estimate under-reports it
    assert gas["verify"] < c.functions.VERIFY_GAS().call() <= 260_000
    platform = Sender(dep.w3, s["members"]["platform"], dep.decoder())
    fn = c.functions.review(w, pub[1], b2, pub[0], 4, th)
    with pytest.raises(Exception, match="VerifyGasTooLow"):
        onchain.send(dep, platform, fn, gas=200_000)
    assert not c.functions.nullifierUsed(pub[0]).call()
    receipt = onchain.send(dep, platform, fn)
    assert receipt["status"] == 1 and c.functions.reviewCount(b2).call() == 1
    print(f"\nverifier gas {gas}; review transaction gas {receipt['gasUsed']}")


def new_lot(s) -> str:
    lot = f"ZK-{next(_n)}-{os.urandom(2).hex()}"
    r = httpx.post(
        f"{s['url']}/v1/batches", json={"gtin": s["gtin"], "lot": lot}, headers=s["h"]["merchant_a"], timeout=60
    )
    assert r.status_code == 201, r.text
    return lot


def test_a_shoppers_dispute_upheld_by_an_arbiter_pays_the_address_it_named(stack):
    """A shopper's own dispute (proof of a delivered purchase of the batch) within the batch's
    window freezes the terms' amount of the merchant's deposit as a vault case for a fresh address;
    an arbiter (not the platform, not the merchant) upholds it, and it is paid to that address."""
    s, dep = signed_in(stack), stack["dep"]
    c, vault, token = dep.contract("PurchaseProofs"), dep.contract("GuaranteeVault"), dep.contract("SettlementToken")
    merchant = s["members"]["merchant_a"].address
    lot = new_lot(s)
    b = fields.batch_id(s["gtin"], lot)
    x = int.from_bytes(os.urandom(31), "big")
    deliver(s, order(s, lot, x))
    anchor(s)
    confirm(s)
    lv = leaves(s)
    pay_to = Account.create().address  # fresh: no gas, never seen before
    statement = "arrived thawed and spoiled"
    msg = fields.dispute_message(onchain.domain(dep), fields.text_hash(statement), pay_to)
    assert c.functions.disputeMessage(fields.text_hash(statement), pay_to).call() == msg
    p = node.prove(x, b, fields.PURPOSES["dispute"], msg, lv, lv.index(node.commitment(x, b)))
    body = {"gtin": s["gtin"], "lot": lot, "root": p["publicSignals"][1], "nullifier": p["publicSignals"][0]}
    body |= {"proof": p["proof"], "statement": statement, "pay_to": pay_to}
    r = post(s, "/v1/purchases/disputes", body)
    assert r.status_code == 409 and r.json()["error"] == "NoClaimTerms", r.text  # no window: nothing frozen
    if vault.functions.accountOf(merchant).call()[0] < 10_000:
        assert post(s, "/v1/deposits", {"amount_fen": 100_000}, "merchant_a").status_code in (200, 201)
    now = dep.w3.eth.get_block("latest")["timestamp"]
    terms = {"gtin": s["gtin"], "lot": lot, "amount_fen": 700, "until": now + 86_400, "count": 0}
    assert post(s, "/v1/purchases/claim-terms", terms, "merchant_a").status_code == 200  # no paid claims at all
    onchain.wire_claims(dep, s["governors"], delay=3600)
    r = post(s, "/v1/purchases/disputes", body)
    assert r.status_code == 409 and r.json()["error"] == "RootTooNew", r.text  # members may still revoke it
    onchain.wire_claims(dep, s["governors"], delay=0)
    r = post(s, "/v1/purchases/disputes", {**body, "pay_to": s["members"]["producer"].address})
    assert r.status_code == 422 and r.json()["error"] == "InvalidProof", r.text  # the address is in the proof
    before = vault.functions.accountOf(merchant).call()
    r = post(s, "/v1/purchases/disputes", body)
    assert r.status_code == 201, r.text
    got = r.json()
    case_id = got["case_id"]
    assert (got["frozen_fen"], got["pay_to"]) == (700, pay_to)
    print(f"\nshopper's dispute transaction gas {got['gas']}")
    assert vault.functions.accountOf(merchant).call()[1] == before[1] + 700  # frozen, not paid
    r = post(s, "/v1/purchases/disputes", body)
    assert r.status_code == 409 and r.json()["error"] == "NullifierUsed", r.text  # a purchase disputes once
    r = post(s, f"/v1/purchases/disputes/{case_id}/payment", {})
    assert r.status_code == 409 and "still open" in r.json()["detail"], r.text
    assert post(s, f"/v1/cases/{case_id}/close", {"pay_out": True}, "merchant_a").status_code == 403
    s["h"]["arbiter"] = login_over_http(s["url"], s["members"]["arbiter"])
    r = post(s, f"/v1/cases/{case_id}/close", {"pay_out": True}, "arbiter")
    assert r.status_code == 200, r.text
    r = post(s, f"/v1/purchases/disputes/{case_id}/payment", {})
    assert r.status_code == 200 and r.json()["paid_fen"] == 700, r.text
    print(f"arbiter's award gas {r.json()['gas']} (claimFor)")
    assert token.functions.balanceOf(pay_to).call() == 700
    after = vault.functions.accountOf(merchant).call()
    assert (after[0], after[1]) == (before[0] - 700, before[1])
    r = post(s, f"/v1/purchases/disputes/{case_id}/payment", {})
    assert r.status_code == 409, r.text  # paid once
    assert post(s, "/v1/purchases/disputes/999999/payment", {}).status_code == 404
    summary = httpx.get(f"{s['url']}/v1/purchases/batches/{s['gtin']}/{lot}").json()
    assert (summary["disputes"], summary["claims"]) == (1, 0), summary


def test_the_council_reinstates_a_right_root_one_key_revoked(stack, accounts, monkeypatch):
    """One auditor's key revokes a right root (voiding is one key: safety first); governors see it
    listed as revoked and recomputed right, one proposes putting it back with the root as the
    decimal digits a browser sends, a second approves, and the root proves again. Only governors
    and auditors read the list."""
    s, dep = signed_in(stack), stack["dep"]
    c = dep.contract("PurchaseProofs")
    lot = new_lot(s)
    deliver(s, order(s, lot, int.from_bytes(os.urandom(31), "big")))
    anchor(s)
    root = tree.latest_root(dep)  # the one just anchored, right
    Sender(dep.w3, s["members"]["auditor"], dep.decoder()).transact(c.functions.revokeRoot(root))
    assert not c.functions.rootValid(root).call()

    g1, g2 = (accounts[i] for i in GOVERNOR_INDEXES[:2])
    h1 = login_over_http(s["url"], g1)
    r = httpx.get(s["url"] + "/v1/purchases/roots", headers=h1, timeout=60)
    assert r.status_code == 200, r.text
    listed = next(x for x in r.json() if x["root"] == str(root))
    assert listed["ok"] and listed["revoked"], listed
    assert httpx.get(s["url"] + "/v1/purchases/roots", headers=s["h"]["merchant_a"], timeout=60).status_code == 403
    assert httpx.get(s["url"] + "/v1/purchases/roots", timeout=60).status_code == 401

    action = {"type": "reinstate_root", "root": str(root)}  # past 2^53: digits, as the console sends it
    for bad in ("0", "12a", str(2**256), "", " 1"):
        r = httpx.post(
            s["url"] + "/v1/governance/proposals",
            json={"action": action | {"root": bad}, "reason": "x"},
            headers=h1,
            timeout=60,
        )
        assert r.status_code == 422, (bad, r.text)
    r = httpx.post(
        s["url"] + "/v1/governance/proposals",
        json={"action": action, "reason": "revoked in error"},
        headers=h1,
        timeout=60,
    )
    assert r.status_code == 201, r.text
    pid = r.json()["id"]
    shown = next(
        p for p in httpx.get(s["url"] + "/v1/governance/proposals", headers=h1, timeout=60).json() if p["id"] == pid
    )
    assert shown["action"] == action, shown  # given back as digits, exactly
    r = httpx.post(
        f"{s['url']}/v1/governance/proposals/{pid}/approvals",
        json={},
        headers=login_over_http(s["url"], g2),
        timeout=60,
    )
    assert r.status_code == 200, r.text
    assert c.functions.rootValid(root).call()
    # the roots' replay is kept while the chain's anchors stay the same; revocation is read each time
    replays = []
    real = node.roots
    monkeypatch.setattr(node, "roots", lambda *a: replays.append(1) or real(*a))
    listed = next(x for x in tree.verify_roots(dep) if x["root"] == str(root))
    assert listed["ok"] and not listed["revoked"]
    assert tree.verify_roots(dep) == tree.verify_roots(dep) and len(replays) == 1, replays
    deliver(s, order(s, lot, int.from_bytes(os.urandom(31), "big")))
    anchor(s)  # a new anchor: replayed again, once
    rows = tree.verify_roots(dep)
    assert rows[-1]["root"] == str(tree.latest_root(dep)) and rows[-1]["ok"] and len(replays) == 2, (rows[-1], replays)


def test_the_worker_anchors_the_tree_on_size_or_age(stack):
    """`ledger worker`'s purchases-tree loop, beside the API on its database: one delivered purchase
    waits until the loop has run 25 s (the period trigger); three at once go without waiting
    (the size trigger, 3)."""
    s, dep = signed_in(stack), stack["dep"]
    c = dep.contract("PurchaseProofs")
    oids = [order(s, "ZK-2", int.from_bytes(os.urandom(31), "big")) for _ in range(4)]
    env = {**os.environ, **s["env"], "LEDGER_DATABASE_URL": f"sqlite:///{s['db']}",
           "LEDGER_DATA_DIR": str(s["tmp"] / "data"), "LEDGER_ANCHOR_INTERVAL": "0",
           "LEDGER_ZK_ANCHOR_INTERVAL_S": "0.3", "LEDGER_ZK_ANCHOR_MIN_LEAVES": "3",
           "LEDGER_ZK_ANCHOR_MAX_AGE_S": "25"}  # fmt: skip
    log = open(s["tmp"] / "worker.log", "wb")  # noqa: SIM115 - closed below
    started = time.monotonic()
    worker = subprocess.Popen([sys.executable, "-m", "ledger", "worker"], cwd=ROOT, env=env, stdout=log, stderr=log)

    def anchored_after(count: int, within: float) -> int:
        """The tree's size once it holds more than `count` leaves."""
        deadline = time.monotonic() + within
        while c.functions.leafCount().call() <= count:
            assert worker.poll() is None and time.monotonic() < deadline, (s["tmp"] / "worker.log").read_text()[-3000:]
            time.sleep(0.3)
        return c.functions.leafCount().call()

    try:
        size = c.functions.leafCount().call()
        deliver(s, oids[0])
        assert anchored_after(size, 180) == size + 1
        first = time.monotonic()
        assert first - started >= 25  # one alone waited for the period
        deliver(s, *oids[1:])
        assert anchored_after(size + 1, 120) == size + 4
        # three went at once, on the size trigger, whatever the time (the worker says which)
        said = re.findall(r"anchored \((\w+) trigger\): (\d+) added", (s["tmp"] / "worker.log").read_text())
        assert said == [("age", "1"), ("size", "3")], said
        assert all(r["ok"] or r["revoked"] for r in tree.verify_roots(dep))  # the worker's roots are right
        # the auditor's check from the command line: every root right or revoked, the new ones confirmed
        out = subprocess.run([sys.executable, "-m", "ledger", "zk", "verify", "--confirm"], cwd=ROOT,
                             env=env, capture_output=True, text=True, timeout=300, check=False)  # fmt: skip
        assert out.returncode == 0 and "root(s) confirmed on chain by the auditor" in out.stdout, out
        assert c.functions.confirmedAt(tree.latest_root(dep)).call() > 0
    finally:
        worker.terminate()
        assert worker.wait(timeout=30) == 0
        log.close()


def test_a_purchase_proves_only_the_batch_of_its_order(stack):
    """The batch a proof names is the order's, not the shopper's word (an attack from outside: a
    shopper who bought from merchant_b posted a verified review of merchant_a's batch and was paid a
    claim from merchant_a's deposit, its browser having committed to merchant_a's batch). The
    browser hands over only Poseidon(secret); the platform makes the leaf from the order's batch."""
    s = signed_in(stack)
    other = new_gtin()  # merchant_b's product: not a batch merchant_a's order can be for
    r = httpx.post(f"{s['url']}/v1/products", json={"gtin": other, "name": "Rice"}, headers=s["h"]["merchant_b"])
    assert r.status_code == 201, r.text
    r = post(s, "/v1/batches", {"gtin": other, "lot": "B-1"}, "merchant_b")
    assert r.status_code == 201, r.text
    x = int.from_bytes(os.urandom(31), "big")
    oid = order(s, "ZK-1", x)
    late = f"ZK{int(time.time())}{next(_n)}x"
    body = {"order_id": late, "merchant": s["members"]["merchant_a"].address, "amount_fen": 100, "referrers": []}
    r = httpx.post(s["url"] + "/v1/orders", json=body, headers={**s["h"]["platform"], "Idempotency-Key": late})
    assert r.status_code == 201, r.text
    for holder, status in ((str(poseidon.holder(x)), 409), ("0", 422), (str(fields.FIELD), 422)):
        gtin_lot = {"gtin": other, "lot": "B-1"} if status == 409 else {"gtin": s["gtin"], "lot": "ZK-1"}
        r = post(s, "/v1/purchases/commitments", {"order_id": late, **gtin_lot, "holder": holder}, "platform")
        assert r.status_code == status, r.text
        assert status == 422 or "not a batch of" in r.json()["detail"], r.text
    zeros = {"order_id": late, "gtin": s["gtin"], "lot": "ZK-1", "holder": "0" + str(poseidon.holder(x))}
    r = post(s, "/v1/purchases/commitments", zeros, "platform")  # leading zeros: the same number
    assert r.status_code == 201 and r.json()["commitment"] == str(
        node.commitment(x, fields.batch_id(s["gtin"], "ZK-1"))
    )
    deliver(s, oid)
    anchor(s)
    lv = leaves(s)
    index = lv.index(int(s["commitments"][oid]))
    b2 = fields.batch_id(s["gtin"], "ZK-2")
    msg = fields.review_message(onchain.domain(s["dep"]), 5, fields.text_hash("another batch"))
    with pytest.raises(node.ProverFailed):  # the same secret proves no other batch, of any merchant
        node.prove(x, b2, fields.PURPOSES["review"], msg, lv, index)
    with pytest.raises(node.ProverFailed):
        node.prove(x, fields.batch_id(other, "B-1"), fields.PURPOSES["review"], msg, lv, index)
    p = node.prove(x, fields.batch_id(s["gtin"], "ZK-1"), fields.PURPOSES["review"], msg, lv, index)
    assert node.verify(p["proof"], p["publicSignals"])  # its own batch: proven


def test_the_tree_in_whole_chunks(stack):
    """What a prover fetches: the summary (chunk roots, root), every prefix page, whole chunks;
    binary, with ETags; the chunk roots give the anchored root."""
    s, dep = signed_in(stack), stack["dep"]
    if not dep.contract("PurchaseProofs").functions.leafCount().call():
        deliver(s, order(s, "ZK-2", 7))
        anchor(s)
    url = s["url"] + "/v1/purchases/tree"
    lv = leaves(s)
    r = httpx.get(url + "/summary", timeout=300)  # its chunk roots hashed on Node: seconds on a busy machine
    assert r.status_code == 200 and r.headers["etag"], r.text
    summary = r.json()
    assert (summary["size"], summary["chunk_bits"], len(summary["chunk_roots"])) == (len(lv), 10, 1)
    assert int(summary["root"]) == node.root(lv) == tree.latest_root(dep)
    assert httpx.get(url + "/summary", headers={"If-None-Match": r.headers["etag"]}, timeout=60).status_code == 304
    chunk = httpx.get(url + "/chunks/0").content
    assert [int.from_bytes(chunk[i : i + 32], "big") for i in range(0, len(chunk), 32)] == lv
    prefixes = httpx.get(url + "/prefixes/0").content
    assert prefixes == b"".join(x.to_bytes(32, "big")[:4] for x in lv)
    assert httpx.get(url + "/chunks/1").content == b""  # a chunk beyond the tree: empty
    assert len(summary["upper"]) == 10 and summary["upper"][-1] == [summary["root"]]
    assert httpx.get(url + "/chunks/1024").status_code == 422  # beyond 2^20 leaves
    assert httpx.get(url + "/prefixes/16").status_code == 422


def test_a_shopper_checks_out_reviews_and_claims_in_the_browser(stack):
    """Debian chromium on a phone viewport: the checkout module makes the secret and hands out only
    its holder Poseidon(secret); a fresh browser opened on the receipt link shows the hand-over code, proves and
    posts a review; another files a claim to a fresh address, paid the batch's amount."""
    s = signed_in(stack)
    node_bin, chromium = shutil.which("node"), shutil.which("chromium") or "/usr/bin/chromium"
    assert node_bin and os.path.exists(chromium), "node and Debian chromium are needed (make test installs them)"

    def journey(*args: str) -> dict:
        out = subprocess.run(
            [node_bin, str(ROOT / "tests" / "browser" / "shopper_journey.mjs"), s["url"], *args, str(SHOTS)],
            capture_output=True, text=True, timeout=300, cwd=ROOT, check=False,
            env={**os.environ, "CHROMIUM": chromium},
        )  # fmt: skip
        assert out.returncode == 0, out.stderr[-3000:]
        report = json.loads(out.stdout)
        assert report["errors"] == [] and report["csp"] == [], report
        assert all(v == [] for v in report["axe"].values()), report["axe"]
        return report

    got = journey("broken")  # receipt links damaged in copying: said so, nothing saved
    said = catalog("purchases", "zh")["bad_receipt"]
    assert got["broken"] == [{"said": said, "kept": 0}] * 3, got
    got = journey("checkout", s["gtin"], "ZK-2")
    commitment, holder = got["commitment"], got["holder"]
    b2 = fields.batch_id(s["gtin"], "ZK-2")
    # what the browser computed is the circuit's Poseidon (snarkjs proves against it below)
    assert "#s=" in got["receipt"] and str(b2) in got["batch"]
    oid = order(s, "ZK-2", 0, holder=holder)  # the platform's leaf from the browser's holder: the browser's code
    assert s["commitments"][oid] == commitment, (s["commitments"][oid], commitment)
    deliver(s, oid)
    anchor(s)
    receipt = got["receipt"]
    got = journey("review", receipt)
    assert got["status"] == "201", got
    print(f"\nproof in chromium: {got['seconds']:.2f} s")
    summary = httpx.get(f"{s['url']}/v1/purchases/batches/{s['gtin']}/ZK-2").json()
    assert summary["reviews"] == 1 and summary["recent"][0]["text"] == got["text"]
    # and a claim from the same page, paid to a fresh address, once an auditor confirmed the root
    dep, token = s["dep"], s["dep"].contract("SettlementToken")
    proofs = dep.contract("PurchaseProofs")
    if proofs.functions.claimTerms(b2).call()[0] == "0x" + "00" * 20:  # run alone: the council imposed none
        until = dep.w3.eth.get_block("latest")["timestamp"] + 86_400
        body = {"gtin": s["gtin"], "lot": "ZK-2", "amount_fen": 800, "until": until, "count": 5}
        assert post(s, "/v1/purchases/claim-terms", body, "merchant_a").status_code == 200
        claim_terms_in_force(dep, b2)
    ensure_available(s, 10_000)
    terms = proofs.functions.claimTerms(b2).call()
    assert terms[1] > 0 and terms[3] > 0, terms
    confirm(s)
    onchain.wire_claims(dep, s["governors"], delay=0)
    pay_to = Account.create().address
    got = journey("claim", receipt, pay_to)
    assert got["handover"] == str(commitment), got
    (read,) = zbar_decode(Image.open(got["handover_qr"]))  # the QR the courier's device reads
    assert read.type == "QRCODE" and read.data.decode() == str(commitment)
    assert got["amount"] == f"{terms[1] // 100}.{terms[1] % 100:02d}", got  # shown in yuan
    assert got["status"] == "201", got
    assert token.functions.balanceOf(pay_to).call() == terms[1]
    # a dispute from the same page: the batch's amount frozen as a case for arbiters; the award,
    # refused while the case is open, collected by its number in a fresh browser once upheld
    award_to = Account.create().address
    got = journey("dispute", receipt, award_to)
    assert got["status"] == "201" and got["case"], got
    said = {catalog("purchases", lang)["error:case_open"] for lang in ("zh", "en")}  # in the page's words
    assert got["early"]["status"] == "409" and any(x in got["early"]["line"] for x in said), got
    s["h"]["arbiter"] = login_over_http(s["url"], s["members"]["arbiter"])
    r = post(s, f"/v1/cases/{got['case']}/close", {"pay_out": True}, "arbiter")
    assert r.status_code == 200, r.text
    got = journey("collect", receipt, got["case"])
    assert got["status"] == "200", got
    assert token.functions.balanceOf(award_to).call() == terms[1]


def test_every_proof_of_a_purchase_asks_for_the_same_two_chunks(stack):
    """What a proving browser asks the server for says nothing of its leaf (docs/zk.md): besides
    what every prover fetches, its own chunk and a decoy, in a random order; the decoy is kept with
    the purchase, so every proof of it asks for the same two chunks (a fresh decoy at each proof left
    the real chunk as the one they shared), also once the tree has grown. On a tree served by the
    page's routes (its leaf in chunk 2 of 3, then of 5), twelve proofs in one browser."""
    s = signed_in(stack)
    node_bin, chromium = shutil.which("node"), shutil.which("chromium") or "/usr/bin/chromium"
    out = subprocess.run(
        [node_bin, str(ROOT / "tests" / "browser" / "shopper_journey.mjs"), s["url"], "decoy", str(SHOTS)],
        capture_output=True, text=True, timeout=300, cwd=ROOT, check=False, env={**os.environ, "CHROMIUM": chromium},
    )  # fmt: skip
    assert out.returncode == 0, out.stderr[-3000:]
    report = json.loads(out.stdout)
    assert report["errors"] == [], report["errors"]
    asked, kept = report["decoy"]["asked"], report["decoy"]["kept"]
    assert len(asked) == 12 and all(len(a) == 2 for a in asked), asked
    assert kept in (0, 1) and all(sorted(a) == sorted([2, kept]) for a in asked), (kept, asked)
    assert {tuple(a) for a in asked} == {(2, kept), (kept, 2)}, asked  # in either order: the first is no tell
