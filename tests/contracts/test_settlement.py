"""OrderSettlement: batched escrow, delivery by the named carrier, the return window, refunds,
disputes and rulings by k of n arbiters, settlement by anyone, pull payouts."""

import pytest
from conftest import ARBITER, PLATFORM_CAP, REFERRAL_CAPS, TIMEOUT, govern, reverts, ruling_digest
from eth_account import Account
from eth_utils import keccak

from ledger.money.orders.terms import Batch, OrderTerms, unpack_shares

AMOUNT = 99_999  # 999.99 CNY: odd, so rounding is exercised
WINDOW = 7 * 24 * 3600
EVENT = keccak(text="urn:epcis:delivery")


@pytest.fixture(scope="module")
def approved(settlement, funded, platform):
    funded.approve(settlement, 2**256 - 1, {"from": platform})
    return settlement


def terms(platform, merchant, refs=(), bps=(), fee=500, amount=AMOUNT, slot=1, carrier=None, name="order-1"):
    return OrderTerms(
        key=keccak(text=name),
        amount=amount,
        merchant=merchant.address,
        payer=platform.address,
        slot=slot,
        referrers=tuple(r.address for r in refs),
        referral_bps=tuple(bps),
        platform_fee_bps=fee,
        carrier=carrier.address if carrier else None,
    )


def call(fn, orders, *extra, sender):
    b = Batch.of(orders)
    return fn(b.accounts, b.words, *extra, {"from": sender})


def one(fn, t, *extra, sender):
    b = Batch.of([t])
    return fn(b.accounts, b.words[0], b.words[1], *extra, {"from": sender})


def test_escrow_batch_records_terms_and_takes_the_sum(approved, funded, platform, merchant, merchant_b, referrers):
    orders = [
        terms(platform, merchant, referrers, [1000, 500, 300], name="a", slot=1),
        terms(platform, merchant_b, referrers[:1], [1000], amount=1, name="b", slot=2),
    ]
    before = funded.balanceOf(platform)
    tx = call(approved.escrow, orders, sender=platform)
    assert [e["key"] for e in tx.events["OrderEscrowed"]] == ["0x" + o.key.hex() for o in orders]
    assert tx.events["EscrowBatch"]["settleAfter"] == tx.timestamp + TIMEOUT
    assert funded.balanceOf(platform) == before - AMOUNT - 1
    assert approved.totalEscrowed() == AMOUNT + 1
    assert approved.slotHighWater(platform) == 3
    h, status, deadline, refunded = approved.slotRecord(platform, 1)
    assert (h, status, deadline, refunded) == (orders[0].commitment(), 1, tx.timestamp + TIMEOUT, 0)
    with reverts("SlotInUse"):
        call(approved.escrow, [terms(platform, merchant, name="c", slot=2)], sender=platform)


def test_escrow_refusals(approved, platform, merchant, referrers, producer, logistics, outsider):
    with reverts("MissingRole"):
        call(approved.escrow, [terms(platform, merchant)], sender=merchant)
    with reverts("RateAboveCap"):
        call(approved.escrow, [terms(platform, merchant, fee=PLATFORM_CAP + 1)], sender=platform)
    for level in range(3):
        bps = [0, 0, 0]
        bps[level] = REFERRAL_CAPS[level] + 1
        with reverts("RateAboveCap"):
            call(approved.escrow, [terms(platform, merchant, referrers, bps)], sender=platform)
    with reverts("NotAMerchant"):
        call(approved.escrow, [terms(platform, producer)], sender=platform)
    with reverts("NotACarrier"):
        call(approved.escrow, [terms(platform, merchant, carrier=merchant)], sender=platform)
    with reverts("PayerNotCaller"):
        call(approved.escrow, [terms(outsider, merchant)], sender=platform)
    b = Batch.of([terms(platform, merchant)])
    with reverts("BadBatch"):
        approved.escrow(b.accounts, b.words[:1], {"from": platform})
    with reverts("ZeroAmount"):  # amount bits cleared
        approved.escrow(b.accounts, [b.words[0], b.words[1] & ~(2**48 - 1)], {"from": platform})
    with reverts("TooManyLevels"):
        approved.escrow(b.accounts, [b.words[0], b.words[1] | 4 << 112], {"from": platform})
    with reverts("RateAboveCap"):  # a rate beyond the order's levels
        approved.escrow(b.accounts, [b.words[0], b.words[1] | 1 << 96], {"from": platform})
    assert approved.totalEscrowed() == 0


def test_a_referrer_is_a_party_of_its_own(approved, platform, merchant, referrers):
    """The platform names an order's referrers, but not itself (a second fee out of the merchant's
    proceeds), the merchant, one address at two levels (paid all of them), or this contract (a share
    it could never pull): each refused on chain (an outside probe had them all escrowed)."""
    r1, r2, _ = referrers
    for named in ([platform], [merchant], [r1, r1], [r1, r2, r1], [r1, r2, r2]):
        with reverts("ReferrerNotAllowed"):
            call(approved.escrow, [terms(platform, merchant, named, [10] * len(named))], sender=platform)
    with reverts("NotAParty"):
        call(approved.escrow, [terms(platform, merchant, [approved], [10])], sender=platform)
    # two indexes are two parties: a table naming an address twice (or out of order) is refused whole
    b = Batch.of([terms(platform, merchant, [r1], [10])])
    for table in (b.accounts + [b.accounts[0]], b.accounts[::-1]):
        with reverts("AccountsNotAscending"):
            approved.escrow(table, b.words, {"from": platform})
    assert approved.totalEscrowed() == 0
    call(approved.escrow, [terms(platform, merchant, [r1, r2], [10, 10])], sender=platform)  # distinct: taken


def test_referrers_are_paid_at_most_what_the_merchant_agreed(approved, platform, merchant_b, referrers, outsider):
    """The platform's key names an order's referrers and rates within the caps, but the money is the
    merchant's: each level's rate is at most what the merchant itself set (`setReferralTerms`)."""
    with reverts("MissingRole"):
        approved.setReferralTerms([10, 10, 10], {"from": platform})  # not a merchant: not its proceeds
    tx = approved.setReferralTerms([300, 0, 0], {"from": merchant_b})
    assert list(tx.events["ReferralTermsSet"]["bps"]) == [300, 0, 0]
    assert approved.referralTermsOf(merchant_b) == 300
    for bps in ([301], [300, 1]):
        with reverts("ReferralAboveTerms"):
            call(
                approved.escrow,
                [terms(platform, merchant_b, referrers[: len(bps)], bps, name="above")],
                sender=platform,
            )
    call(approved.escrow, [terms(platform, merchant_b, referrers[:2], [300, 0], name="within")], sender=platform)
    call(approved.escrow, [terms(platform, merchant_b, name="no referrers", slot=2)], sender=platform)
    approved.setReferralTerms([0, 0, 0], {"from": merchant_b})  # opted out: no referral from its proceeds
    with reverts("ReferralAboveTerms"):
        call(approved.escrow, [terms(platform, merchant_b, referrers[:1], [1], name="any", slot=3)], sender=platform)


def test_carrier_delivery_window_and_exact_split(
    approved, funded, chain, platform, merchant, referrers, logistics, outsider, treasury
):
    t = terms(platform, merchant, referrers, [1000, 500, 300], carrier=logistics)
    call(approved.escrow, [t], sender=platform)
    with reverts("MissingRole"):  # no carrier at all
        call(approved.confirmDeliveries, [t], [EVENT], sender=outsider)
    with reverts("HasCarrier"):
        call(approved.confirmByPlatform, [t], [EVENT], sender=platform)
    wrong = terms(platform, merchant, referrers, [1000, 500, 300], carrier=logistics, amount=AMOUNT - 1)
    with reverts("TermsMismatch"):
        call(approved.confirmDeliveries, [wrong], [EVENT], sender=logistics)
    tx = call(approved.confirmDeliveries, [t], [EVENT], sender=logistics)
    ev = tx.events["OrderDelivered"]
    assert ev["epcisEvent"] == "0x" + EVENT.hex() and ev["windowEnds"] == tx.timestamp + WINDOW
    with reverts("WrongStatus"):  # a second confirmation
        call(approved.confirmDeliveries, [t], [EVENT], sender=logistics)
    tx = call(approved.settle, [t], sender=outsider)  # window still open: skipped, nothing moves
    assert "OrderSettled" not in tx.events and tx.events["SettleSkipped"]["status"] == 2
    chain.sleep(WINDOW)
    tx = call(approved.settle, [t], sender=outsider)
    got = unpack_shares(tx.events["OrderSettled"]["shares"])
    expected = t.split()
    assert {k: got[k] for k in expected} == expected and got["by_timeout"] is False
    assert got["merchant_fen"] + sum(got["referral_fen"]) + got["platform_fee_fen"] == AMOUNT
    for who, amount in [(merchant, expected["merchant_fen"]), (treasury, expected["platform_fee_fen"])]:
        assert approved.owed(who) == amount
    for who, amount in zip(referrers, expected["referral_fen"], strict=True):
        before = funded.balanceOf(who)
        assert approved.withdraw({"from": who}).events["PayoutWithdrawn"]["amount"] == amount
        assert funded.balanceOf(who) == before + amount
    tx = call(approved.settle, [t], sender=outsider)  # settled already: nobody is paid twice
    assert "OrderSettled" not in tx.events and approved.totalEscrowed() == 0
    with reverts("NothingOwed"):
        approved.withdraw({"from": referrers[0]})


def test_platform_confirms_orders_without_carrier_and_can_name_one_later(
    approved, platform, merchant, logistics, outsider
):
    t = terms(platform, merchant)
    call(approved.escrow, [t], sender=platform)
    with reverts("MissingRole"):
        call(approved.confirmByPlatform, [t], [EVENT], sender=outsider)
    with reverts("NotACarrier"):
        one(approved.setCarrier, t, merchant, sender=platform)
    one(approved.setCarrier, t, logistics, sender=platform)
    with reverts("TermsMismatch"):  # the old terms no longer hold
        call(approved.confirmByPlatform, [t], [EVENT], sender=platform)
    carried = terms(platform, merchant, carrier=logistics)
    with reverts("HasCarrier"):
        one(approved.setCarrier, carried, logistics, sender=platform)
    call(approved.confirmDeliveries, [carried], [EVENT], sender=logistics)
    assert approved.orderState(*_args(carried))[0] == 2


def _args(t):
    b = Batch.of([t])
    return b.accounts, b.words[0], b.words[1]


def test_timeout_settles_undelivered_orders(approved, chain, platform, merchant, outsider):
    t = terms(platform, merchant)
    call(approved.escrow, [t], sender=platform)
    assert "OrderSettled" not in call(approved.settle, [t], sender=outsider).events
    chain.sleep(TIMEOUT)
    tx = call(approved.settle, [t], sender=outsider)
    assert unpack_shares(tx.events["OrderSettled"]["shares"])["by_timeout"] is True


def test_partial_refund_recomputes_split_and_never_pays_commission_on_it(
    approved, chain, platform, merchant, referrers, outsider, logistics
):
    t = terms(platform, merchant, referrers, [1000, 500, 300], carrier=logistics)
    call(approved.escrow, [t], sender=platform)
    with reverts("NotAllowed"):
        one(approved.refund, t, 1, sender=outsider)
    tx = one(approved.refund, t, 30_000, sender=merchant)  # before delivery: the merchant agrees
    assert tx.events["OrderRefunded"]["remaining"] == AMOUNT - 30_000
    call(approved.confirmDeliveries, [t], [EVENT], sender=logistics)
    with reverts("RefundTooLarge"):
        one(approved.refund, t, AMOUNT - 30_000 + 1, sender=platform)
    with reverts("ZeroAmount"):
        one(approved.refund, t, 0, sender=platform)
    one(approved.refund, t, 9_999, sender=platform)  # within the window, for the shopper
    assert approved.owed(platform) == 39_999
    chain.sleep(WINDOW)
    with reverts("WindowClosed"):
        one(approved.refund, t, 1, sender=platform)
    tx = call(approved.settle, [t], sender=outsider)
    got = unpack_shares(tx.events["OrderSettled"]["shares"])
    assert {k: got[k] for k in ("merchant_fen", "referral_fen", "platform_fee_fen")} == t.split(60_000)
    assert approved.totalEscrowed() == 0
    assert approved.owed(referrers[0]) == 6_000  # 10% of what remained, not of the whole


def test_full_refund_ends_the_order(approved, platform, merchant, outsider):
    t = terms(platform, merchant)
    call(approved.escrow, [t], sender=platform)
    one(approved.refund, t, AMOUNT, sender=platform)
    assert approved.orderState(*_args(t))[0] == 5
    assert call(approved.settle, [t], sender=outsider).events["SettleSkipped"]["status"] == 5
    with reverts("WrongStatus"):
        one(approved.refund, t, 1, sender=platform)
    # its slot may now hold another order
    call(approved.escrow, [terms(platform, merchant, name="order-2")], sender=platform)


@pytest.fixture(scope="module")
def arbiters(accounts, governance, governors, membership):
    """Three more arbiters with keys of their own (they sign rulings, never send transactions)."""
    keys = [Account.create(f"arbiter {i}") for i in range(3)]
    for k in keys:
        govern(governance, governors, membership, "admit", k.address, ARBITER)
    return sorted(keys, key=lambda k: int(k.address, 16))


def signatures(settlement, t, refund, signers):
    digest = ruling_digest(settlement, t, refund)
    return [bytes(Account.unsafe_sign_hash(digest, k.key).signature) for k in signers]


def test_disputes_and_rulings(approved, chain, platform, merchant, outsider, arbiters, governance, governors):
    big = terms(platform, merchant, name="big", slot=1)
    t = terms(platform, merchant, amount=250_000, name="disputed", slot=2)
    late = terms(platform, merchant, name="late", slot=3)
    call(approved.escrow, [big, t, late], sender=platform)
    with reverts("WrongStatus"):  # not delivered yet: no window
        one(approved.dispute, t, sender=platform)
    call(approved.confirmByPlatform, [big, t, late], [EVENT] * 3, sender=platform)
    with reverts("MissingRole"):
        one(approved.dispute, t, sender=merchant)
    one(approved.dispute, t, sender=platform)
    with reverts("WrongStatus"):
        one(approved.refund, t, 1, sender=platform)
    chain.sleep(WINDOW)
    tx = call(approved.settle, [big, t], sender=outsider)  # the disputed one is skipped, the other settles
    assert len(tx.events["OrderSettled"]) == 1 and tx.events["SettleSkipped"]["status"] == 3
    with reverts("WindowClosed"):
        one(approved.dispute, late, sender=platform)
    with reverts("WrongStatus"):
        one(approved.dispute, big, sender=platform)

    with reverts("TooFewSignatures"):  # 250,000 fen is above the threshold: two arbiters needed
        one(approved.rule, t, 50_000, signatures(approved, t, 50_000, arbiters[:1]), sender=outsider)
    with reverts("NotAnArbiter"):
        one(approved.rule, t, 50_000, signatures(approved, t, 50_000, [Account.create()] * 2), sender=outsider)
    with reverts("SignersNotAscending"):
        one(approved.rule, t, 50_000, signatures(approved, t, 50_000, arbiters[1::-1]), sender=outsider)
    with reverts("RefundTooLarge"):
        one(approved.rule, t, 250_001, signatures(approved, t, 250_001, arbiters[:2]), sender=outsider)
    # signatures over another amount recover to other addresses: not arbiters
    with reverts("NotAnArbiter"):
        one(approved.rule, t, 60_000, signatures(approved, t, 50_000, arbiters[:2]), sender=outsider)
    tx = one(approved.rule, t, 50_000, signatures(approved, t, 50_000, arbiters[:2]), sender=outsider)
    assert tx.events["OrderRuled"]["signers"] == 2
    assert tx.events["OrderRefunded"]["amount"] == 50_000
    got = unpack_shares(tx.events["OrderSettled"]["shares"], levels=0)
    assert got["merchant_fen"] + got["platform_fee_fen"] == 200_000
    assert approved.totalEscrowed() == AMOUNT  # `late` only
    with reverts("WrongStatus"):
        one(approved.rule, t, 0, signatures(approved, t, 0, arbiters[:2]), sender=outsider)


def test_small_dispute_needs_one_arbiter_and_can_refund_all(approved, platform, merchant, outsider, arbiters):
    t = terms(platform, merchant, amount=100_000, name="small")
    call(approved.escrow, [t], sender=platform)
    call(approved.confirmByPlatform, [t], [EVENT], sender=platform)
    one(approved.dispute, t, sender=platform)
    tx = one(approved.rule, t, 100_000, signatures(approved, t, 100_000, arbiters[:1]), sender=outsider)
    assert "OrderSettled" not in tx.events and approved.orderState(*_args(t))[0] == 5
    assert approved.owed(platform) == 100_000 and approved.totalEscrowed() == 0


def test_no_party_to_an_order_signs_a_ruling_on_it(approved, platform, merchant, outsider, arbiters):
    """An arbiter who is a referrer of an order (paid from what the ruling leaves) may not decide
    its dispute alone, and its signature beside another's counts as a refusal: the parties to an
    order (payer, merchant, referrers, carrier) never rule on it, as with a case on a deposit."""
    party, other = arbiters[:2]
    t = terms(platform, merchant, refs=(party,), bps=(1000,), amount=100_000, name="party")
    call(approved.escrow, [t], sender=platform)
    call(approved.confirmByPlatform, [t], [EVENT], sender=platform)
    one(approved.dispute, t, sender=platform)
    for signers in ([party], sorted([party, other], key=lambda k: int(k.address, 16))):
        with reverts("PartyToOrder"):
            one(approved.rule, t, 0, signatures(approved, t, 0, signers), sender=outsider)
    assert approved.owed(party.address) == 0
    tx = one(approved.rule, t, 100_000, signatures(approved, t, 100_000, [other]), sender=outsider)
    assert tx.events["OrderRefunded"]["amount"] == 100_000 and approved.owed(party.address) == 0


def test_governance_sets_window_and_ruling(approved, governance, governors, platform):
    for fn, args in [("setReturnWindow", (60,)), ("setRuling", (5, 3)), ("setTimeout", (1,))]:
        with reverts("NotGovernance"):
            getattr(approved, fn)(*args, {"from": platform})
    for quorum in (0, 1):  # one arbiter key alone would rule any order, however large
        with reverts("BadQuorum"):
            govern(governance, governors, approved, "setRuling", 5, quorum)
    govern(governance, governors, approved, "setReturnWindow", 60)
    govern(governance, governors, approved, "setRuling", 5, 3)
    assert (approved.returnWindow(), approved.rulingThreshold(), approved.arbiterQuorum()) == (60, 5, 3)


def test_split_view_matches_settlement(approved):
    merchant_share, shares, fee = approved.split(101, [3333, 1], 3333)
    assert (merchant_share, list(shares), fee) == (101 - 33 - 0 - 33, [33, 0], 33)


def test_caps_set_by_governance_only(approved, governance, governors, platform):
    with reverts("NotGovernance"):
        approved.setCaps(0, [0, 0, 0], {"from": platform})
    with reverts("CapsTooHigh"):
        govern(governance, governors, approved, "setCaps", 5000, [3000, 1000, 1001])
    tx = govern(governance, governors, approved, "setCaps", 200, [300, 200, 100])
    assert tx.events["CapsSet"]["platformFeeCapBps"] == 200
    assert list(approved.referralCapBps()) == [300, 200, 100]
    with reverts("NotGovernance"):
        approved.setTreasury(platform, {"from": platform})
    govern(governance, governors, approved, "setTreasury", platform)
    assert approved.treasury() == platform


def test_one_slot_width_for_batch_and_one_order_calls(approved, platform, merchant, outsider):
    """The slot is the 32-bit field at bit 216 for every entry point: a word with its top 8 bits set
    (which the Python side never writes) puts the order in the slot the one-order calls name, so it
    can still be refunded or disputed; it was escrowed in slot 2^32 + n and refused as
    TermsMismatch by them (an order nobody could refund), when batch calls read 40 bits."""
    t = terms(platform, merchant, name="wide-slot", slot=77)
    b = Batch.of([t])
    wide = b.words[1] | 1 << 248
    high = approved.slotHighWater(platform)
    approved.escrow(b.accounts, [b.words[0], wide], {"from": platform})
    assert approved.slotRecord(platform, 77)[1] == 1  # escrowed, in slot 77
    assert approved.slotHighWater(platform) == max(high, 78)
    assert approved.orderState(b.accounts, b.words[0], wide)[0] == 1
    approved.refund(b.accounts, b.words[0], wide, 1, {"from": platform})  # one-order call, same word
    approved.confirmByPlatform(b.accounts, [b.words[0], wide], [EVENT], {"from": platform})  # a batch call
    approved.refund(b.accounts, b.words[0], b.words[1], AMOUNT - 1, {"from": platform})  # the plain word too
    assert approved.slotRecord(platform, 77)[1] == 5
