"""An open hole found in an outside audit (docs/zk.md), closed: the operator's key alone anchored
roots and a leaf said nothing of who made it, so the operator appended a commitment of its own
secret, waited the claim delay and was paid a shopper's claim from a merchant's deposit. Now a
leaf must be one a carrier vouched for (`NotVouched`), and a root that holds the operator's leaf
without carrying it in the log (so no leaf is anchored at all) pays nothing until an auditor has
recomputed it from the logs and confirmed it (`RootNotConfirmed`): both doors are tried here.

On a PurchaseProofs of its own (the manifest's one keeps its tree in step with the API's mirror
for test_zk_purchases), wired to the deposits by the development governors' votes."""

from __future__ import annotations

import os

import pytest
from eth_account import Account

from ledger.chain.client import Sender, TransactionFailed
from ledger.chain.compiler import load_artifacts
from ledger.chain.deploy import GOVERNOR_INDEXES
from ledger.privacy import build, fields, node, onchain, tree

from .helpers import new_gtin

AMOUNT = 700


def test_the_operator_alone_cannot_pay_itself_a_claim(deployment, members, accounts):
    build.build()  # `make zk` built it: this only checks
    dep, manifest = deployment
    s = {who: Sender(dep.w3, members[who], dep.decoder()) for who in ("platform", "issuer", "merchant_a")}
    onchain.deploy(dep, s["platform"], manifest)  # the verifier (and the manifest's PurchaseProofs)
    verifier = dep.manifest["contracts"][onchain.VERIFIER]["address"]
    membership = dep.manifest["contracts"]["Membership"]["address"]
    art = load_artifacts()["PurchaseProofs"]
    provenance = dep.contract("Provenance")
    address = s["platform"].deploy(art, membership, verifier, provenance.address)["contractAddress"]
    proofs = dep.w3.eth.contract(address=address, abi=art["abi"])
    governors = [Sender(dep.w3, accounts[i], dep.decoder()) for i in GOVERNOR_INDEXES]
    dep._contracts["PurchaseProofs"] = proofs  # wire_claims wires the contract it is handed
    try:
        onchain.wire_claims(dep, governors, delay=0)
    finally:
        dep._contracts.pop("PurchaseProofs")
    token, vault = dep.contract("SettlementToken"), dep.contract("GuaranteeVault")
    merchant = members["merchant_a"].address
    s["issuer"].transact(token.functions.mint(merchant, 10_000))
    s["merchant_a"].transact(token.functions.approve(vault.address, 10_000))
    s["merchant_a"].transact(vault.functions.deposit(10_000))
    gtin, lot = new_gtin(), "HOLE"  # merchant_a's own product: only its owner sets a batch's terms
    s["merchant_a"].transact(provenance.functions.registerProduct(int(gtin)))
    batch = fields.batch_id(gtin, lot)
    until = dep.w3.eth.get_block("latest")["timestamp"] + 86_400
    s["merchant_a"].transact(proofs.functions.setClaimTerms(int(gtin), lot, AMOUNT, until, 3))

    # the operator: a secret of its own, its commitment as a leaf, no order, no delivery, no carrier
    secret = int.from_bytes(os.urandom(31), "big")
    leaf = node.commitment(secret, batch)
    root = node.root([leaf])
    with pytest.raises(TransactionFailed, match="NotVouched"):  # the first door: the leaf in the log
        onchain.send(dep, s["platform"], proofs.functions.anchor(root, [leaf], [], 0))
    # the second: the root alone, its leaf in no log (any member recomputing it finds it wrong)
    s["platform"].transact(proofs.functions.anchor(root, [], [], 0))
    pay_to = Account.create().address
    message = fields.claim_message(pay_to, AMOUNT)
    p = node.prove(secret, batch, fields.PURPOSES["claim"], message, [leaf], 0)
    w, pub = node.solidity_proof(p["proof"]), [int(x) for x in p["publicSignals"]]
    assert pub[1] == root  # a good proof against the root the operator anchored
    fn = proofs.functions.claim(w, pub[1], batch, pub[0], pay_to, AMOUNT)
    try:
        with pytest.raises(TransactionFailed, match="RootNotConfirmed"):
            onchain.send(dep, s["platform"], fn)
    finally:  # the manifest's PurchaseProofs pays claims again, as test_zk_purchases wires it
        onchain.wire_claims(dep, governors, delay=3600)
    assert token.functions.balanceOf(pay_to).call() == 0, "the operator's key alone took a claim from the deposit"
    # an auditor recomputing the root from the logs finds it wrong and does not confirm it
    dep._contracts["PurchaseProofs"] = proofs
    try:
        checked = tree.verify_roots(dep)
    finally:
        dep._contracts.pop("PurchaseProofs")
    assert [r["ok"] for r in checked] == [False]
