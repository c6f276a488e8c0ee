"""What one key may not do to what belongs to others (an outside audit, issue 25's siblings):
a token holder may not spend an issuer's fiat reference, and an operator may act only on the
orders it paid for itself."""

import pytest
from conftest import AUDITOR, COOLDOWN, LOGISTICS, OPERATOR, govern, reverts, ruling_digest
from eth_account import Account
from eth_utils import keccak

from ledger.money.orders.terms import Batch, OrderTerms
from ledger.privacy import fields

EVENT = keccak(text="urn:epcis:delivery")


def test_a_holder_cannot_spend_a_deposit_reference_before_the_issuer(token, issuer, merchant, buyer):
    """A fiat deposit's reference (a bank transfer's, seen in the pool or guessed) redeemed first
    by any holder for 1 fen used to make the deposit unmintable: the same namespace held both."""
    token.mint(buyer, 1, {"from": issuer})
    token.redeem(1, "ICBC-20261205-0042", {"from": buyer})
    tx = token.issue(merchant, 50_000, "ICBC-20261205-0042", {"from": issuer})
    assert tx.events["Issued"]["amount"] == 50_000 and token.balanceOf(merchant) == 50_000
    assert token.referenceUsed(keccak(text="ICBC-20261205-0042"))
    with reverts("ReferenceUsed"):  # each reference still once each way
        token.issue(merchant, 50_000, "ICBC-20261205-0042", {"from": issuer})
    token.mint(buyer, 1, {"from": issuer})
    with reverts("ReferenceUsed"):
        token.redeem(1, "ICBC-20261205-0042", {"from": buyer})
    assert token.redemptionUsed(keccak(text="ICBC-20261205-0042"))


@pytest.fixture(scope="module")
def platform_b(accounts, governance, governors, membership, funded, issuer):
    """A second platform: an operator with a key and orders of its own."""
    b = accounts[18]
    govern(governance, governors, membership, "admit", b, OPERATOR)
    funded.mint(b, 1_000_000, {"from": issuer})
    return b


def _terms(payer, merchant, carrier=None, slot=1):
    return OrderTerms(
        key=keccak(text=f"order of {payer.address}"),
        amount=10_000,
        merchant=merchant.address,
        payer=payer.address,
        slot=slot,
        platform_fee_bps=500,
        carrier=carrier.address if carrier else None,
    )


def _one(fn, t, *extra, sender):
    b = Batch.of([t])
    return fn(b.accounts, b.words[0], b.words[1], *extra, {"from": sender})


def test_an_operator_acts_only_on_the_orders_it_paid_for(settlement, funded, platform, platform_b, merchant, logistics):
    """Any operator key used to refund, dispute, name a carrier for or confirm delivery of another
    platform's orders: return the merchant's escrow to that payer, freeze it, or open the return
    window with a carrier of its choosing. Now only the order's payer (or its merchant, refunding)."""
    funded.approve(settlement, 2**256 - 1, {"from": platform})
    t = _terms(platform, merchant)
    b = Batch.of([t])
    settlement.escrow(b.accounts, b.words, {"from": platform})
    with reverts("NotAllowed"):
        _one(settlement.refund, t, 10_000, sender=platform_b)
    with reverts("NotAllowed"):
        _one(settlement.setCarrier, t, logistics, sender=platform_b)
    with reverts("NotAllowed"):
        settlement.confirmByPlatform(b.accounts, b.words, [EVENT], {"from": platform_b})
    settlement.confirmByPlatform(b.accounts, b.words, [EVENT], {"from": platform})
    with reverts("NotAllowed"):
        _one(settlement.dispute, t, sender=platform_b)
    assert settlement.orderState(b.accounts, b.words[0], b.words[1])[0] == 2  # delivered, untouched
    assert settlement.owed(platform) == 0 and settlement.totalEscrowed() == 10_000
    # the payer and the merchant keep their rights
    _one(settlement.refund, t, 1_000, sender=merchant)
    _one(settlement.refund, t, 1_000, sender=platform)
    _one(settlement.dispute, t, sender=platform)
    assert settlement.owed(platform) == 2_000
    # platform B's own order: B names its carrier, not platform A
    funded.approve(settlement, 2**256 - 1, {"from": platform_b})
    tb = _terms(platform_b, merchant)
    bb = Batch.of([tb])
    settlement.escrow(bb.accounts, bb.words, {"from": platform_b})
    with reverts("NotAllowed"):
        _one(settlement.setCarrier, tb, logistics, sender=platform)
    _one(settlement.setCarrier, tb, logistics, sender=platform_b)


def test_a_ruling_on_one_platforms_order_does_not_decide_anothers_with_the_same_key(
    settlement, funded, platform, platform_b, merchant, merchant_b, signing_arbiters
):
    """Order keys are public (OrderEscrowed) and unique only in each platform's books: platform B
    escrowed an order under platform A's disputed key, disputed it, had an arbiter rule on it, and
    the signature then decided A's dispute too (anyone may submit a ruling). A ruling names the payer."""
    for p in (platform, platform_b):
        funded.approve(settlement, 2**256 - 1, {"from": p})
    mine, sham = _terms(platform, merchant), _terms(platform_b, merchant_b)
    sham = OrderTerms(**{**sham.__dict__, "key": mine.key, "amount": 1})
    for t, p in ((mine, platform), (sham, platform_b)):
        b = Batch.of([t])
        settlement.escrow(b.accounts, b.words, {"from": p})
        settlement.confirmByPlatform(b.accounts, b.words, [EVENT], {"from": p})
        _one(settlement.dispute, t, sender=p)
    arbiter = signing_arbiters[0]
    digest = ruling_digest(settlement, sham, 0)
    signature = bytes(Account.unsafe_sign_hash(digest, arbiter.key).signature)
    with reverts("NotAnArbiter"):  # over A's order the signature names someone else
        _one(settlement.rule, mine, 0, [signature], sender=platform_b)
    _one(settlement.rule, sham, 0, [signature], sender=platform_b)  # the order it was made for
    assert settlement.orderState(*_args(mine))[0] == 3  # A's order: still disputed, undecided
    own = bytes(Account.unsafe_sign_hash(ruling_digest(settlement, mine, 10_000), arbiter.key).signature)
    _one(settlement.rule, mine, 10_000, [own], sender=platform)
    assert settlement.orderState(*_args(mine))[0] == 5


def test_a_carrier_governance_removed_confirms_no_delivery(
    settlement, funded, platform, merchant, logistics, membership, governance, governors, chain
):
    """A carrier's key confirmed deliveries after governance removed it (its key compromised, say):
    `confirmDeliveries` checked only that the order names the caller, so the removed key still
    opened the return window of orders it never delivered, and the merchant was paid after it."""
    funded.approve(settlement, 2**256 - 1, {"from": platform})
    t = _terms(platform, merchant, carrier=logistics, slot=40)
    b = Batch.of([t])
    settlement.escrow(b.accounts, b.words, {"from": platform})
    govern(governance, governors, membership, "remove", logistics)
    with reverts("MissingRole"):
        settlement.confirmDeliveries(b.accounts, b.words, [EVENT], {"from": logistics})
    assert settlement.orderState(*_args(t))[0] == 1  # still escrowed: its payer may refund it
    _one(settlement.refund, t, t.amount, sender=platform)
    assert settlement.orderState(*_args(t))[0] == 5  # refunded


def test_a_ruling_decides_only_the_order_instance_it_was_signed_for(
    settlement, funded, platform, merchant, outsider, signing_arbiters
):
    """A ruling signed Ruling(key, payer, refund) decided any later order of that payer under the
    same key (a reused order number, a restored database): the merchant replayed an old `refund 0`
    and was paid the new order without an arbiter looking. It names the slot's terms and deadline."""
    funded.approve(settlement, 2**256 - 1, {"from": platform})
    arbiter = signing_arbiters[0]
    first = OrderTerms(**{**_terms(platform, merchant, slot=41).__dict__, "amount": 40_000})
    second = OrderTerms(**{**first.__dict__, "amount": 90_000})
    signed = []
    for t in (first, second):
        b = Batch.of([t])
        settlement.escrow(b.accounts, b.words, {"from": platform})
        settlement.confirmByPlatform(b.accounts, b.words, [EVENT], {"from": platform})
        _one(settlement.dispute, t, sender=platform)
        if not signed:  # the first order: ruled refund 0, as its arbiter decided
            signed.append(bytes(Account.unsafe_sign_hash(ruling_digest(settlement, t, 0), arbiter.key).signature))
            _one(settlement.rule, t, 0, signed, sender=outsider)
    owed = settlement.owed(merchant)
    with reverts("NotAnArbiter"):  # over the second order, the old signature names someone else
        _one(settlement.rule, second, 0, signed, sender=merchant)
    assert settlement.owed(merchant) == owed and settlement.orderState(*_args(second))[0] == 3


def _args(t):
    b = Batch.of([t])
    return b.accounts, b.words[0], b.words[1]


GTIN = 9506000134352  # GS1's example GTIN-14 09506000134352, registered by `merchant`


@pytest.fixture(scope="module")
def proofs(PurchaseProofs, membership, token, provenance, merchant, governors, governance, vault):
    """PurchaseProofs over any verifier (terms are set without proofs), paying from `vault`;
    `merchant` owns GTIN."""
    provenance.registerProduct(GTIN, {"from": merchant})
    p = PurchaseProofs.deploy(membership, token, provenance, {"from": governors[0]})
    govern(governance, governors, p, "setClaimPayout", vault, 0)
    return p


def test_the_circuits_batch_id_is_the_contracts(proofs):
    assert proofs.batchOf(GTIN, "L/2026-A") == fields.batch_id("09506000134352", "L/2026-A")
    assert proofs.batchOf(12345670, "") == fields.batch_id("00000012345670", "")


def test_only_the_products_owner_sets_its_batches_claim_terms(
    proofs, chain, merchant, merchant_b, governance, governors
):
    """Any merchant used to be first to set another's batch's terms (paid from its own deposit,
    but the batch's merchant was then refused until the council imposed terms): now the chain
    asks Provenance who owns the product."""
    until = chain.time() + COOLDOWN + 86_400  # new terms pay after the cooldown: they must run past it
    with reverts("TermsNotYours"):
        proofs.setClaimTerms(GTIN, "FIRST", 1, until, 1, {"from": merchant_b})
    with reverts("TermsNotYours"):
        proofs.setClaimTerms(GTIN + 10, "FIRST", 1, until, 1, {"from": merchant})  # no such product of its
    tx = proofs.setClaimTerms(GTIN, "FIRST", 500, until, 1, {"from": merchant})
    batch = fields.batch_id("09506000134352", "FIRST")
    assert tx.events["ClaimTermsSet"]["batch"] == batch and list(proofs.claimTerms(batch))[:2] == [merchant, 500]
    with reverts("NotGovernance"):
        proofs.imposeClaimTerms(batch, merchant_b, 1, until, 1, {"from": merchant_b})


def test_a_merchants_new_terms_pay_only_after_the_withdrawal_cooldown(
    proofs, chain, merchant, vault, governance, governors, accounts
):
    """Outside probe: a merchant set terms of its whole deposit on a batch of its own, bought one
    item through a sock puppet and claimed: its deposit was out in two minutes, where a withdrawal
    waits the cooldown. A merchant's new terms now pay from the end of the vault's cooldown;
    governance's imposed terms (after a recall) pay at once."""
    lot = "L-COOL"
    batch = proofs.batchOf(GTIN, lot)
    tx = proofs.setClaimTerms(GTIN, lot, 500, chain.time() + 2 * COOLDOWN, 1, {"from": merchant})
    pays_from = tx.events["ClaimTermsSet"]["from"]
    assert pays_from == tx.timestamp + vault.cooldown() == proofs.claimTerms(batch)[5]
    with reverts("TermsNotInForce"):
        proofs.claim([0] * 8, 1, batch, 1, accounts[7], 500, {"from": merchant})
    chain.sleep(COOLDOWN + 1)
    chain.mine()
    with reverts("RootNotConfirmed"):  # in force: refused now only for want of a real proof
        proofs.claim([0] * 8, 1, batch, 1, accounts[7], 500, {"from": merchant})
    other = "L-IMPOSED"
    govern(governance, governors, proofs, "imposeClaimTerms", proofs.batchOf(GTIN, other), merchant, 500,
           chain.time() + 86_400, 1)  # fmt: skip
    with reverts("RootNotConfirmed"):
        proofs.claim([0] * 8, 1, proofs.batchOf(GTIN, other), 1, accounts[7], 500, {"from": merchant})


def test_a_merchant_cannot_take_back_live_claim_terms(proofs, chain, merchant, governance, governors):
    """A merchant's claim terms are its promise to the batch's shoppers: while they run, the
    merchant used to zero them (or move the amount a proof binds) at any moment, even in front of
    a shopper's claim in the pool. Now it may only extend them; the council may still change them."""
    lot, until = "L4242", chain.time() + COOLDOWN + 86_400
    batch = proofs.batchOf(GTIN, lot)
    proofs.setClaimTerms(GTIN, lot, 500, until, 3, {"from": merchant})
    pays_from = proofs.claimTerms(batch)[5]
    # no fewer claims, no earlier end, no other amount; nor more claims at once (each new one would
    # pay before the cooldown: new claims wait new terms)
    for amount, end, count in ((500, until, 0), (500, until - 1, 3), (499, until, 3), (501, until, 3), (500, until, 5)):
        with reverts("TermsLocked"):
            proofs.setClaimTerms(GTIN, lot, amount, end, count, {"from": merchant})
    proofs.setClaimTerms(GTIN, lot, 500, until + 86_400, 3, {"from": merchant})  # for longer
    assert list(proofs.claimTerms(batch))[1:] == [500, until + 86_400, 3, False, pays_from]
    govern(governance, governors, proofs, "imposeClaimTerms", batch, merchant, 500, until, 0)
    assert list(proofs.claimTerms(batch))[1:5] == [500, until, 0, True]
    with reverts("TermsNotYours"):  # imposed: no longer the merchant's to change
        proofs.setClaimTerms(GTIN, lot, 500, until + 86_400, 5, {"from": merchant})
    chain.sleep(3 * 86_400)
    chain.mine()
    other = "L4343"  # a batch whose terms ran out may be given new ones
    with reverts("EndsBeforeInForce"):  # terms that would end before they pay anything
        proofs.setClaimTerms(GTIN, other, 500, chain.time() + 10, 1, {"from": merchant})
    proofs.setClaimTerms(GTIN, other, 500, chain.time() + COOLDOWN + 10, 1, {"from": merchant})
    chain.sleep(COOLDOWN + 20)
    chain.mine()
    proofs.setClaimTerms(GTIN, other, 300, chain.time() + COOLDOWN + 86_400, 0, {"from": merchant})


def _chain(*commitments):
    """The contract's keccak chain over `commitments`, from zero."""
    h = b"\0" * 32
    for c in commitments:
        h = keccak(h + c.to_bytes(32, "big"))
    return "0x" + h.hex()


def test_the_operator_anchors_only_leaves_carriers_vouched_for(
    proofs, chain, platform, logistics, auditor, merchant, token, governance, governors
):
    """An outside audit's open finding (docs/zk.md): the operator's key alone appended leaves of
    its own secrets and was paid claims with them. Now the leaves are exactly the commitments
    carriers vouched for, in their order, whole vouching calls at a time; a carrier that is also
    an operator cannot vouch; roots pay only once an auditor confirmed them."""
    first = proofs.leafCount()
    base = proofs.vouched()
    with reverts("NotVouched"):  # a leaf no carrier vouched for
        proofs.anchor(11, [7], [], first, {"from": platform})
    with reverts("MissingRole"):
        proofs.vouch([7], {"from": platform})
    with reverts("TooManyCommitments"):
        proofs.vouch([], {"from": logistics})
    with reverts("NotInField"):
        proofs.vouch([0], {"from": logistics})
    tx = proofs.vouch([7, 8], {"from": logistics})
    got = tx.events["Vouched"]
    assert (got["carrier"], got["first"], list(got["commitments"])) == (logistics, base, [7, 8])
    proofs.vouch([9], {"from": logistics})
    for leaves in ([7], [8, 7], [7, 8, 10], [7, 8, 9, 9]):  # part of a call, reordered, another, one more
        with reverts("NotVouched"):
            proofs.anchor(12, leaves, [], first, {"from": platform})
    proofs.anchor(12, [7, 8], [], first, {"from": platform})  # one call's leaves: whole
    proofs.anchor(13, [9], [], first + 2, {"from": platform})
    assert proofs.anchoredHash() == proofs.vouchedHash()
    if base == 0:  # the chain from an empty tree, as Python computes it
        assert proofs.vouchedHash() == _chain(7, 8, 9)
    # the operator may still zero a leaf (a refund): that takes nothing from anyone
    proofs.anchor(14, [], [first], first + 3, {"from": platform})
    # a root pays only once an auditor confirmed it; neither an operator nor a stranger confirms
    proofs.setClaimTerms(GTIN, "VOUCHED", 500, chain.time() + COOLDOWN + 86_400, 1, {"from": merchant})
    chain.sleep(COOLDOWN + 1)  # a merchant's new terms pay once the withdrawal cooldown has passed
    chain.mine()
    batch = proofs.batchOf(GTIN, "VOUCHED")
    with reverts("RootNotConfirmed"):
        proofs.claim([0] * 8, 14, batch, 1, logistics, 500, {"from": platform})
    with reverts("RootNotConfirmed"):
        proofs.dispute([0] * 8, 14, batch, 1, b"\1" * 32, logistics, {"from": platform})
    with reverts("MissingRole"):
        proofs.confirmRoot(14, {"from": platform})
    with reverts("UnknownRoot"):
        proofs.confirmRoot(99, {"from": auditor})
    tx = proofs.confirmRoot(14, {"from": auditor})
    assert tx.events["RootConfirmed"]["by"] == auditor and proofs.confirmedAt(14) > 0


def test_a_carrier_or_auditor_that_is_also_an_operator_cannot_vouch_or_confirm(
    proofs, platform, governance, governors, membership, accounts
):
    both = accounts[19]
    govern(governance, governors, membership, "admit", both, OPERATOR | LOGISTICS | AUDITOR)
    try:
        with reverts("OperatorCannot"):
            proofs.vouch([5], {"from": both})
        proofs.anchor(21, [], [], proofs.leafCount(), {"from": platform})
        with reverts("OperatorCannot"):
            proofs.confirmRoot(21, {"from": both})
    finally:
        govern(governance, governors, membership, "remove", both)


def test_one_key_voids_a_right_root_only_until_governance_reinstates_it(
    proofs, platform, auditor, governance, governors
):
    """An outside audit's open finding (docs/money.md): one auditor's or operator's key voided any
    root for good. Voiding stays one key (safety first); governance reinstates a right root."""
    root = 31
    proofs.anchor(root, [], [], proofs.leafCount(), {"from": platform})
    proofs.revokeRoot(root, {"from": auditor})
    assert not proofs.rootValid(root)
    with reverts("NotGovernance"):
        proofs.reinstateRoot(root, {"from": auditor})
    with reverts("NotGovernance"):
        proofs.reinstateRoot(root, {"from": governors[0]})  # one governor is not governance
    tx = govern(governance, governors, proofs, "reinstateRoot", root)
    assert proofs.rootValid(root) and not proofs.revokedRoot(root)
    assert "RootReinstated" in tx.events
    with reverts("UnknownRoot"):  # only a voided root is reinstated
        govern(governance, governors, proofs, "reinstateRoot", root)


def test_one_operator_key_cannot_void_confirmed_roots_with_a_zeroing(proofs, platform, logistics, auditor):
    """Found by an audit of the contracts: any anchor zeroing a leaf moved `oldestValid` to itself,
    so one operator key anchoring a root of no tree with a zeroed index made every earlier root
    (confirmed ones too) stale, and governance could not reinstate them (stale is not revoked):
    repeated, it held every claim until the batches' windows closed. Now a zeroing voids the roots
    before it only once an auditor confirms a root holding it, and zeroing a leaf as it joins (a
    vouched commitment no order explains) voids nothing."""
    first = proofs.leafCount()
    proofs.vouch([41, 42], {"from": logistics})
    proofs.anchor(401, [41, 42], [], first, {"from": platform})
    proofs.confirmRoot(401, {"from": auditor})
    proofs.anchor(402, [], [first + 1], first + 2, {"from": platform})  # the attack: a root of no tree
    assert proofs.rootValid(401) and proofs.oldestValid() < proofs.rootSeq(401)
    proofs.vouch([43], {"from": logistics})
    proofs.anchor(403, [43], [first + 2], first + 2, {"from": platform})  # a joining leaf zeroed: no voiding
    proofs.confirmRoot(403, {"from": auditor})  # (it holds the zeroing before it: that one voids now)
    assert proofs.oldestValid() == proofs.rootSeq(402) and not proofs.rootValid(401)
    assert proofs.voidsBefore(403) == proofs.rootSeq(402)
    # the latest tree again (every new leaf zeroed as it joined): accepted, its number and age kept;
    # an older root, or the latest with a leaf an earlier root held zeroed, is taken
    proofs.vouch([44], {"from": logistics})
    seq, at = proofs.rootSeq(403), proofs.anchoredAt(403)
    with reverts("RootTaken"):
        proofs.anchor(401, [44], [first + 3], first + 3, {"from": platform})
    with reverts("RootTaken"):
        proofs.anchor(403, [44], [first, first + 3], first + 3, {"from": platform})
    tx = proofs.anchor(403, [44], [first + 3], first + 3, {"from": platform})
    assert tx.events["RootAnchored"]["seq"] == seq and (proofs.rootSeq(403), proofs.anchoredAt(403)) == (seq, at)
    assert proofs.leafCount() == first + 4 and proofs.anchors() == seq
