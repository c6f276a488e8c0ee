"""Fixtures for the contract tests (brownie, on its `development` anvil).

Accounts: 0-2 governors (threshold 2), 3 platform operator, 4 issuer, 5 and 6 merchants,
7 producer, 8 logistics, 9 inspector, 10 auditor, 11 arbiter, 12 outsider, 13-15 referrers,
16 buyer/claimant, 17 treasury.
"""

import re

import brownie
import pytest


def _own_node():
    """Our own anvil on 8546 with 20 accounts, never the `make run` node on 8545 (brownie attaches
    to whatever answers on its port). Imported in here: brownie hashes the sources of top-level
    imports under the project folder, and `brownie._config` is a compiled module."""
    from brownie._config import CONFIG

    CONFIG.networks["development"]["cmd_settings"].update({"port": 8546, "accounts": 20})


_own_node()

OPERATOR, MERCHANT, PRODUCER, LOGISTICS, INSPECTOR, AUDITOR, ARBITER, ISSUER = (1 << i for i in range(8))
COOLDOWN = 7 * 24 * 3600
TIMEOUT = 14 * 24 * 3600
PLATFORM_CAP = 1000
REFERRAL_CAPS = [1000, 500, 300]


def reverts(error_name):
    """Expect a revert with custom error `error_name` (any arguments)."""
    return brownie.reverts(revert_pattern=rf"{re.escape(error_name)}(:.*)?")


def govern(governance, governors, target, fn_name, *args):
    """Run `target.fn_name(*args)` through a governance proposal approved by two governors."""
    data = getattr(target, fn_name).encode_input(*args)
    tx = governance.propose(target, data, {"from": governors[0]})
    pid = tx.events["ProposalCreated"]["id"]
    return governance.approve(pid, {"from": governors[1]})


@pytest.fixture(autouse=True)
def isolation(fn_isolation):
    pass


#: fixture name => index (or slice) into brownie's accounts
ACCOUNTS = {
    "governors": slice(0, 3),
    "platform": 3,
    "issuer": 4,
    "merchant": 5,
    "merchant_b": 6,
    "producer": 7,
    "logistics": 8,
    "inspector": 9,
    "auditor": 10,
    "arbiter": 11,
    "outsider": 12,
    "referrers": slice(13, 16),
    "buyer": 16,
    "treasury": 17,
}


def _account_fixture(name, index):
    @pytest.fixture(scope="module", name=name)
    def fixture(accounts):
        return accounts[index]

    return fixture


for _name, _index in ACCOUNTS.items():
    globals()[_name] = _account_fixture(_name, _index)


@pytest.fixture(scope="module")
def governance(Governance, governors):
    return Governance.deploy(list(governors), 2, {"from": governors[0]})


@pytest.fixture(scope="module")
def membership(
    Membership,
    governance,
    governors,
    platform,
    issuer,
    merchant,
    merchant_b,
    producer,
    logistics,
    inspector,
    auditor,
    arbiter,
):
    m = Membership.deploy(governance, {"from": governors[0]})
    for account, roles in [
        (platform, OPERATOR),
        (issuer, ISSUER),
        (merchant, MERCHANT),
        (merchant_b, MERCHANT),
        (producer, PRODUCER),
        (logistics, LOGISTICS),
        (inspector, INSPECTOR),
        (auditor, AUDITOR),
        (arbiter, ARBITER),
    ]:
        govern(governance, governors, m, "admit", account, roles)
    return m


@pytest.fixture(scope="module")
def token(SettlementToken, membership, governors):
    return SettlementToken.deploy(membership, {"from": governors[0]})


@pytest.fixture(scope="module")
def provenance(Provenance, membership, governors):
    return Provenance.deploy(membership, {"from": governors[0]})


@pytest.fixture(scope="module")
def vault(GuaranteeVault, membership, token, governors):
    return GuaranteeVault.deploy(membership, token, COOLDOWN, {"from": governors[0]})


@pytest.fixture(scope="module")
def settlement(OrderSettlement, membership, token, governance, governors, treasury, merchant, merchant_b):
    s = OrderSettlement.deploy(membership, token, treasury, TIMEOUT, {"from": governors[0]})
    govern(governance, governors, s, "setCaps", PLATFORM_CAP, REFERRAL_CAPS)
    for m in (merchant, merchant_b):  # each merchant agrees to pay referrers up to the caps
        s.setReferralTerms(REFERRAL_CAPS, {"from": m})
    return s


@pytest.fixture(scope="module")
def funded(token, issuer, merchant, merchant_b, platform):
    """Mint working balances: 1,000,000.00 CNY (in fen) each to both merchants and the platform."""
    for account in (merchant, merchant_b, platform):
        token.mint(account, 100_000_000, {"from": issuer})
    return token


@pytest.fixture(scope="module")
def signing_arbiters(governance, governors, membership):
    """Three more arbiters with keys of their own, in ascending address order (they sign rulings)."""
    from eth_account import Account

    keys = [Account.create(f"signing arbiter {i}") for i in range(3)]
    for k in keys:
        govern(governance, governors, membership, "admit", k.address, ARBITER)
    return sorted(keys, key=lambda k: int(k.address, 16))


def case_signatures(vault, case_id, pay_out, signers):
    """The EIP-712 signatures of a ruling on a vault case by `signers` (keys), in their order."""
    from eth_account import Account

    digest = bytes(vault.caseRulingDigest(case_id, pay_out))
    return [bytes(Account.unsafe_sign_hash(digest, k.key).signature) for k in signers]


def ruling_digest(settlement, t, refund):
    """The EIP-712 digest arbiters sign to rule `refund` on the order with terms `t`, naming the
    order's instance as its slot holds it now (terms hash, the return window's end)."""
    terms_hash, _, deadline, _ = settlement.slotRecord(t.payer, t.slot)
    return bytes(settlement.rulingDigest(t.key, t.payer, refund, terms_hash, deadline))
