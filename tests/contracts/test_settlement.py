"""OrderSettlement: escrow, split within caps, timeout, refund, pull payouts."""

import pytest
from conftest import PLATFORM_CAP, REFERRAL_CAPS, TIMEOUT, govern, reverts
from eth_utils import keccak

ORDER = keccak(text="order-1")
AMOUNT = 99_999  # 999.99 CNY: odd, so rounding is exercised


@pytest.fixture(scope="module")
def approved(settlement, funded, platform):
    funded.approve(settlement, 2**256 - 1, {"from": platform})
    return settlement


def escrow(s, platform, merchant, buyer, refs=(), bps=(), fee=500, order=ORDER, amount=AMOUNT):
    return s.escrow(order, merchant, buyer, amount, list(refs), list(bps), fee, {"from": platform})


def test_escrow_records_terms(approved, funded, platform, merchant, buyer, referrers):
    tx = escrow(approved, platform, merchant, buyer, referrers, [1000, 500, 300])
    ev = tx.events["OrderEscrowed"]
    assert ev["orderId"] == "0x" + ORDER.hex() and ev["amount"] == AMOUNT
    assert list(ev["referrers"]) == list(referrers) and list(ev["referralBps"]) == [1000, 500, 300]
    assert ev["settleAfter"] == tx.timestamp + TIMEOUT
    assert funded.balanceOf(approved) == AMOUNT
    assert approved.totalEscrowed() == AMOUNT
    with reverts("OrderExists"):
        escrow(approved, platform, merchant, buyer)


def test_escrow_refusals(approved, platform, merchant, buyer, referrers, producer, outsider):
    with reverts("MissingRole"):
        escrow(approved, merchant, merchant, buyer)
    with reverts("TooManyLevels"):
        escrow(approved, platform, merchant, buyer, list(referrers) + [outsider], [1, 1, 1, 1])
    with reverts("LengthMismatch"):
        escrow(approved, platform, merchant, buyer, referrers[:2], [1])
    with reverts("RateAboveCap"):
        escrow(approved, platform, merchant, buyer, fee=PLATFORM_CAP + 1)
    for level in range(3):
        bps = [0, 0, 0]
        bps[level] = REFERRAL_CAPS[level] + 1
        with reverts("RateAboveCap"):
            escrow(approved, platform, merchant, buyer, referrers, bps)
    with reverts("NotAMerchant"):
        escrow(approved, platform, producer, buyer)
    with reverts("ZeroAmount"):
        escrow(approved, platform, merchant, buyer, amount=0)
    with reverts("ZeroAddress"):
        escrow(approved, platform, merchant, buyer, ["0x" + "00" * 20], [1])


def test_confirm_splits_exactly_and_payees_pull(approved, funded, platform, merchant, buyer, referrers, treasury):
    escrow(approved, platform, merchant, buyer, referrers, [1000, 500, 300], fee=500)
    tx = approved.confirm(ORDER, {"from": platform})
    ev = tx.events["OrderSettled"]
    fee = AMOUNT * 500 // 10000
    shares = [AMOUNT * b // 10000 for b in (1000, 500, 300)]
    merchant_share = AMOUNT - fee - sum(shares)
    assert (ev["merchantShare"], list(ev["referralShares"]), ev["platformFee"], ev["byTimeout"]) == (
        merchant_share,
        shares,
        fee,
        False,
    )
    assert merchant_share + sum(shares) + fee == AMOUNT
    for who, expected in [(merchant, merchant_share), (treasury, fee), *zip(referrers, shares, strict=True)]:
        assert approved.owed(who) == expected
        before = funded.balanceOf(who)
        assert approved.withdraw({"from": who}).events["PayoutWithdrawn"]["amount"] == expected
        assert funded.balanceOf(who) == before + expected
    assert funded.balanceOf(approved) == 0 and approved.totalOwed() == 0
    with reverts("NothingOwed"):
        approved.withdraw({"from": merchant})
    with reverts("OrderNotEscrowed"):
        approved.refund(ORDER, {"from": platform})


def test_split_view_matches_settlement(approved):
    merchant_share, shares, fee = approved.split(101, [3333, 1], 3333)
    assert (merchant_share, list(shares), fee) == (101 - 33 - 0 - 33, [33, 0], 33)


def test_timeout_settlement_by_anyone(approved, platform, merchant, buyer, outsider, chain):
    escrow(approved, platform, merchant, buyer)
    with reverts("TimeoutNotReached"):
        approved.settleOnTimeout(ORDER, {"from": outsider})
    chain.sleep(TIMEOUT)
    tx = approved.settleOnTimeout(ORDER, {"from": outsider})
    assert tx.events["OrderSettled"]["byTimeout"] is True
    with reverts("OrderNotEscrowed"):
        approved.settleOnTimeout(ORDER, {"from": outsider})
    with reverts("UnknownOrder"):
        approved.settleOnTimeout(keccak(text="nope"), {"from": outsider})


def test_refund_returns_full_amount(approved, funded, platform, merchant, buyer, referrers):
    escrow(approved, platform, merchant, buyer, referrers[:1], [1000])
    with reverts("MissingRole"):
        approved.refund(ORDER, {"from": merchant})
    tx = approved.refund(ORDER, {"from": platform})
    assert tx.events["OrderRefunded"]["amount"] == AMOUNT
    with reverts("OrderNotEscrowed"):
        approved.confirm(ORDER, {"from": platform})
    approved.withdraw({"from": buyer})
    assert funded.balanceOf(buyer) == AMOUNT
    assert approved.owed(referrers[0]) == 0


def test_only_operator_confirms(approved, platform, merchant, buyer):
    escrow(approved, platform, merchant, buyer)
    with reverts("MissingRole"):
        approved.confirm(ORDER, {"from": merchant})


def test_caps_set_by_governance_only(approved, governance, governors, platform):
    with reverts("NotGovernance"):
        approved.setCaps(0, [0, 0, 0], {"from": platform})
    with reverts("CapsTooHigh"):
        govern(governance, governors, approved, "setCaps", 5000, [3000, 1000, 1001])
    tx = govern(governance, governors, approved, "setCaps", 200, [300, 200, 100])
    assert tx.events["CapsSet"]["platformFeeCapBps"] == 200
    assert list(approved.referralCapBps()) == [300, 200, 100]
    with reverts("NotGovernance"):
        approved.setTimeout(1, {"from": platform})
    with reverts("NotGovernance"):
        approved.setTreasury(platform, {"from": platform})
    govern(governance, governors, approved, "setTimeout", 60)
    govern(governance, governors, approved, "setTreasury", platform)
    assert approved.settlementTimeout() == 60 and approved.treasury() == platform
