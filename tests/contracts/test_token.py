"""SettlementToken: integer fen, minted only by issuers."""

from conftest import reverts


def test_two_decimals(token):
    assert token.decimals() == 2
    assert token.symbol() == "tCNY"


def test_only_issuers_mint(token, issuer, merchant, platform, governors):
    tx = token.mint(merchant, 12345, {"from": issuer})
    assert tx.events["Minted"]["amount"] == 12345
    assert tx.events["Transfer"]["to"] == merchant
    assert token.balanceOf(merchant) == 12345
    for who in (platform, merchant, governors[0]):
        with reverts("MissingRole"):
            token.mint(who, 1, {"from": who})


def test_holders_burn_their_own(token, issuer, merchant):
    token.mint(merchant, 500, {"from": issuer})
    token.burn(200, {"from": merchant})
    assert token.balanceOf(merchant) == 300 and token.totalSupply() == 300
    with reverts("ERC20InsufficientBalance"):
        token.burn(301, {"from": merchant})


def test_issue_and_redeem_once_per_fiat_reference(token, issuer, merchant, platform):
    supply = token.totalSupply()
    tx = token.issue(merchant, 10_000, "ICBC-20261202-0001", {"from": issuer})
    assert tx.events["Issued"]["fiatReference"] == "ICBC-20261202-0001" and tx.events["Issued"]["amount"] == 10_000
    with reverts("ReferenceUsed"):
        token.issue(merchant, 10_000, "ICBC-20261202-0001", {"from": issuer})
    with reverts("MissingRole"):
        token.issue(platform, 1, "ICBC-20261202-0002", {"from": platform})
    with reverts("EmptyReference"):
        token.issue(merchant, 1, "", {"from": issuer})
    with reverts("ZeroAmount"):
        token.issue(merchant, 0, "ICBC-20261202-0003", {"from": issuer})
    tx = token.redeem(4_000, "PAYOUT-7", {"from": merchant})
    assert tx.events["Redeemed"]["holder"] == merchant and tx.events["Redeemed"]["amount"] == 4_000
    with reverts("ReferenceUsed"):
        token.redeem(1, "PAYOUT-7", {"from": merchant})
    with reverts("ERC20InsufficientBalance"):
        token.redeem(10**9, "PAYOUT-8", {"from": merchant})
    assert token.totalSupply() == supply + 10_000 - 4_000
