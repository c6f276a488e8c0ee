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
from datetime import UTC, datetime

import pytest
from eth_account import Account
from sqlalchemy import create_engine, select
from sqlalchemy.orm import Session

from ledger.chain.client import Sender, TransactionFailed
from ledger.chain.compiler import load_artifacts
from ledger.chain.deploy import GOVERNOR_INDEXES
from ledger.privacy import build, fields, node, onchain, tree
from ledger.store.order_tables import Order
from ledger.store.purchase_tables import PurchaseChunkRoot, PurchaseCommitment, PurchaseForeignLeaf

from .helpers import claim_terms_in_force, new_gtin, withdrawal_cooldown

AMOUNT = 700


def _fresh_proofs(dep, manifest, platform):  # type: ignore[no-untyped-def]
    """A PurchaseProofs of its own, beside the manifest's, on the same verifier."""
    build.build()  # `make zk` built it: this only checks
    onchain.deploy(dep, platform, manifest)  # the verifier (and the manifest's PurchaseProofs)
    verifier = dep.manifest["contracts"][onchain.VERIFIER]["address"]
    membership = dep.manifest["contracts"]["Membership"]["address"]
    art = load_artifacts()["PurchaseProofs"]
    address = platform.deploy(art, membership, verifier, dep.contract("Provenance").address)["contractAddress"]
    return dep.w3.eth.contract(address=address, abi=art["abi"])


def test_the_operator_alone_cannot_pay_itself_a_claim(deployment, members, accounts):
    dep, manifest = deployment
    s = {who: Sender(dep.w3, members[who], dep.decoder()) for who in ("platform", "issuer", "merchant_a")}
    proofs = _fresh_proofs(dep, manifest, s["platform"])
    provenance = dep.contract("Provenance")
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
    with withdrawal_cooldown(dep, governors, 1):  # its terms pay once the cooldown passed: a short one
        s["merchant_a"].transact(proofs.functions.setClaimTerms(int(gtin), lot, AMOUNT, until, 3))
    claim_terms_in_force(dep, batch, proofs)

    # the operator: a secret of its own, its commitment as a leaf, no order, no delivery, no carrier
    secret = int.from_bytes(os.urandom(31), "big")
    leaf = node.commitment(secret, batch)
    root = node.root([leaf])
    with pytest.raises(TransactionFailed, match="NotVouched"):  # the first door: the leaf in the log
        onchain.send(dep, s["platform"], proofs.functions.anchor(root, [leaf], [], 0))
    # the second: the root alone, its leaf in no log (any member recomputing it finds it wrong)
    s["platform"].transact(proofs.functions.anchor(root, [], [], 0))
    pay_to = Account.create().address
    message = fields.claim_message(onchain.domain(dep), pay_to, AMOUNT)
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


def _mirror_scene(deployment, members, tmp_path):  # type: ignore[no-untyped-def]
    """A PurchaseProofs of its own and an empty mirror of its tree in a database of its own."""
    dep, manifest = deployment
    platform = Sender(dep.w3, members["platform"], dep.decoder())
    carrier = Sender(dep.w3, members["logistics"], dep.decoder())
    proofs = _fresh_proofs(dep, manifest, platform)
    engine = create_engine(f"sqlite:///{tmp_path}/mirror.sqlite3")
    for t in (Order, PurchaseCommitment, PurchaseForeignLeaf, PurchaseChunkRoot):
        t.__table__.create(engine)
    return dep, platform, carrier, proofs, engine


def test_a_contract_deployed_again_takes_the_purchases_again(deployment, members, tmp_path):
    """`ledger zk deploy` puts up a new PurchaseProofs when its code changed: the database's mirror
    of the earlier one's tree (leaves at indexes the new contract has not given) is let go, the
    commitments wait for their carriers again, and join the new tree when vouched."""
    dep, platform, carrier, proofs, engine = _mirror_scene(deployment, members, tmp_path)
    now, c = datetime.now(UTC), node.commitment(12345, fields.batch_id(new_gtin(), "AGAIN"))
    with Session(engine) as db:
        db.add(Order(order_id="again-1", order_key="0x" + "11" * 32, merchant=members["merchant_a"].address,
                     payer=platform.address, carrier=carrier.address, amount_fen=900, referrers="[]",
                     platform_fee_bps=0, status="delivered", escrow_tx="0x" + "22" * 32, created_at=now,
                     window_ends_at=now, updated_at=now))  # fmt: skip
        db.add(PurchaseCommitment(order_id="again-1", batch="1", commitment=str(c), state="anchored",
                                  leaf_index=0, anchor_tx="0x" + "33" * 32, created_at=now))  # fmt: skip
        db.add(PurchaseForeignLeaf(leaf_index=1, commitment="77", vouch_tx="0x" + "44" * 32))
        db.commit()
        dep._contracts["PurchaseProofs"] = proofs
        try:
            assert tree.anchor(db, dep, platform) is None  # nothing vouched on the new contract yet
            row = db.get(PurchaseCommitment, "again-1")
            assert (row.state, row.leaf_index) == ("waiting", None)
            assert db.scalar(select(PurchaseForeignLeaf.leaf_index)) is None
            assert tree.vouch(db, dep, carrier, [("again-1", str(c))])["vouched"] == 1
            done = tree.anchor(db, dep, platform)
            assert (done["added"], done["size"]) == (1, 1)
            assert (db.get(PurchaseCommitment, "again-1").leaf_index, tree.chain_leaves(dep)) == (0, [c])
            assert [r["ok"] for r in tree.verify_roots(dep)] == [True]
        finally:
            dep._contracts.pop("PurchaseProofs")


def test_a_carrier_alone_cannot_make_a_leaf_that_pays(deployment, members, tmp_path):
    """Found by an audit of the contracts: a carrier vouched on chain, with its key alone, for a
    commitment of its own secret; the contract makes the operator anchor every vouched leaf, the
    operator's anchoring took it as a real one, an auditor found the root right, and the carrier
    was paid claims from a merchant's deposit. Now the operator's anchoring zeroes, as it joins,
    every vouched commitment no order here explains (the carrier's own code, or a code vouched for
    by a carrier that did not carry its order): a leaf pays only with the carrier's and the
    operator's word. Zeroing a joining leaf voids no earlier root."""
    dep, platform, carrier, proofs, engine = _mirror_scene(deployment, members, tmp_path)
    batch, now = fields.batch_id(new_gtin(), "OWN"), datetime.now(UTC)
    shopper, own = node.commitment(111, batch), node.commitment(0xC0FFEE, batch)
    other = node.commitment(222, batch)  # a real order's code, its parcel carried by someone else
    with Session(engine) as db:
        for oid, code, by in (("own-1", shopper, carrier.address), ("own-2", other, members["merchant_b"].address)):
            key, merchant = "0x" + oid.encode().hex().ljust(64, "0"), members["merchant_a"].address
            db.add(Order(order_id=oid, order_key=key, merchant=merchant, payer=platform.address, carrier=by,
                         amount_fen=900, referrers="[]", platform_fee_bps=0, status="delivered",
                         escrow_tx="0x" + "22" * 32, created_at=now, window_ends_at=now,
                         updated_at=now))  # fmt: skip
            db.add(PurchaseCommitment(order_id=oid, batch=str(batch), commitment=str(code), state="waiting",
                                      created_at=now))  # fmt: skip
        db.commit()
        dep._contracts["PurchaseProofs"] = proofs
        try:
            assert tree.vouch(db, dep, carrier, [("own-1", str(shopper))])["vouched"] == 1
            first = tree.anchor(db, dep, platform)
            auditor = Sender(dep.w3, members["auditor"], dep.decoder())
            assert tree.confirm_roots(dep, auditor)["confirmed"] == [first["root"]]
            carrier.transact(proofs.functions.vouch([own, other]))  # its key alone, straight to the chain
            done = tree.anchor(db, dep, platform)
            assert (done["added"], done["zeroed"]) == (2, 2)
            assert tree.chain_leaves(dep) == [shopper, 0, 0]
            assert db.get(PurchaseCommitment, "own-2").state == "waiting"  # its own carrier may still vouch
            assert [r["ok"] for r in tree.verify_roots(dep)] == [True, True]
            assert proofs.functions.rootValid(int(first["root"])).call()  # zeroing a joining leaf voids nothing
            with pytest.raises(node.ProverFailed):  # the carrier's code is no leaf under the root
                node.prove(0xC0FFEE, batch, fields.PURPOSES["claim"], 0, tree.chain_leaves(dep), 1)
        finally:
            dep._contracts.pop("PurchaseProofs")


def test_a_vouch_for_a_parcel_not_delivered_joins_zeroed(deployment, members, tmp_path):
    """Outside probe: the API refuses a carrier's vouch before delivery, but the carrier's key
    vouched on chain directly; the anchor took the code as the order's leaf, a claim was paid, and
    the order was then refunded whole. A vouch explains an order's commitment only once the order
    was delivered: before, it joins zeroed, and the commitment waits for a vouch after delivery."""
    dep, platform, carrier, proofs, engine = _mirror_scene(deployment, members, tmp_path)
    batch, now = fields.batch_id(new_gtin(), "EARLY"), datetime.now(UTC)
    code = node.commitment(333, batch)
    with Session(engine) as db:
        db.add(Order(order_id="early-1", order_key="0x" + "ea" * 32, merchant=members["merchant_a"].address,
                     payer=platform.address, carrier=carrier.address, amount_fen=900, referrers="[]",
                     platform_fee_bps=0, status="escrowed", escrow_tx="0x" + "22" * 32, created_at=now,
                     updated_at=now))  # fmt: skip
        db.add(PurchaseCommitment(order_id="early-1", batch=str(batch), commitment=str(code), state="waiting",
                                  created_at=now))  # fmt: skip
        db.commit()
        dep._contracts["PurchaseProofs"] = proofs
        try:
            carrier.transact(proofs.functions.vouch([code]))  # its key, straight to the chain, before delivery
            done = tree.anchor(db, dep, platform)
            assert (done["added"], done["zeroed"]) == (1, 1) and tree.chain_leaves(dep) == [0]
            assert db.get(PurchaseCommitment, "early-1").state == "waiting"
        finally:
            dep._contracts.pop("PurchaseProofs")
