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
