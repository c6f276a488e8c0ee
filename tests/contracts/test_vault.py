"""GuaranteeVault: deposits, governance minimums, cooldown withdrawals, arbiter cases."""

import pytest
from brownie import accounts
from conftest import ARBITER, COOLDOWN, case_signatures, govern, reverts
from eth_account import Account

DEPOSIT = 5_000_000  # 50,000.00 CNY
MINIMUM = 2_000_000
SMALL = 100_000  # the default case threshold: awards up to it need one arbiter


@pytest.fixture(scope="module")
def deposited(vault, funded, merchant, governance, governors):
    funded.approve(vault, 2**256 - 1, {"from": merchant})
    vault.deposit(DEPOSIT, {"from": merchant})
    govern(governance, governors, vault, "setMinimum", merchant, MINIMUM)
    return vault


def account(vault, m):
    balance, frozen, minimum, pending, unlock_at = vault.accountOf(m)
    return dict(balance=balance, frozen=frozen, minimum=minimum, pending=pending, unlock_at=unlock_at)


def test_deposit(vault, funded, merchant, producer):
    funded.approve(vault, 1000, {"from": merchant})
    tx = vault.deposit(1000, {"from": merchant})
    assert tx.events["Deposited"]["balance"] == 1000
    assert funded.balanceOf(vault) == 1000
    with reverts("ZeroAmount"):
        vault.deposit(0, {"from": merchant})
    with reverts("MissingRole"):
        vault.deposit(1000, {"from": producer})
    with reverts("ERC20InsufficientAllowance"):
        vault.deposit(1, {"from": merchant})


def test_minimum_only_by_governance(vault, governance, governors, merchant):
    with reverts("NotGovernance"):
        vault.setMinimum(merchant, 0, {"from": governors[0]})
    with reverts("NotGovernance"):
        vault.setCooldown(0, {"from": merchant})
    tx = govern(governance, governors, vault, "setMinimum", merchant, 777)
    assert tx.events["MinimumSet"]["minimum"] == 777
    tx = govern(governance, governors, vault, "setCooldown", 60)
    assert vault.cooldown() == 60


def test_withdrawal_waits_for_cooldown_and_keeps_minimum(deposited, funded, merchant, chain):
    vault = deposited
    assert vault.available(merchant) == DEPOSIT - MINIMUM
    with reverts("InsufficientAvailable"):
        vault.requestWithdrawal(DEPOSIT - MINIMUM + 1, {"from": merchant})
    tx = vault.requestWithdrawal(DEPOSIT - MINIMUM, {"from": merchant})
    unlock_at = tx.events["WithdrawalRequested"]["unlockAt"]
    assert unlock_at == tx.timestamp + COOLDOWN
    with reverts("WithdrawalAlreadyPending"):
        vault.requestWithdrawal(1, {"from": merchant})
    with reverts("CooldownNotOver"):
        vault.withdraw({"from": merchant})
    chain.sleep(COOLDOWN)
    before = funded.balanceOf(merchant)
    tx = vault.withdraw({"from": merchant})
    assert tx.events["Withdrawn"]["balance"] == MINIMUM
    assert funded.balanceOf(merchant) == before + DEPOSIT - MINIMUM
    assert account(vault, merchant)["pending"] == 0
    with reverts("NoPendingWithdrawal"):
        vault.withdraw({"from": merchant})


def test_a_withdrawal_not_taken_in_its_window_lapses_and_is_asked_again(deposited, funded, merchant, chain):
    """Asked once and kept, a request let its merchant take the deposit at any moment later (the
    moment a complaint came); it may be taken only within WITHDRAWAL_WINDOW after its cooldown."""
    vault = deposited
    window = vault.WITHDRAWAL_WINDOW()
    assert window == 3 * 24 * 3600
    unlock_at = vault.requestWithdrawal(1_000, {"from": merchant}).events["WithdrawalRequested"]["unlockAt"]
    chain.sleep(COOLDOWN + window + 1)
    with reverts("WithdrawalLapsed"):
        vault.withdraw({"from": merchant})
    assert account(vault, merchant)["pending"] == 1_000  # still shown as asked, never takeable
    tx = vault.requestWithdrawal(2_000, {"from": merchant})  # a lapsed request is replaced
    assert tx.events["WithdrawalRequested"]["unlockAt"] > unlock_at + window
    with reverts("CooldownNotOver"):
        vault.withdraw({"from": merchant})
    chain.sleep(COOLDOWN + window - 60)  # the last minute of its window
    before = funded.balanceOf(merchant)
    vault.withdraw({"from": merchant})
    assert funded.balanceOf(merchant) == before + 2_000
    assert account(vault, merchant)["pending"] == 0


def test_cancel_withdrawal(deposited, merchant):
    with reverts("NoPendingWithdrawal"):
        deposited.cancelWithdrawal({"from": merchant})
    deposited.requestWithdrawal(10, {"from": merchant})
    tx = deposited.cancelWithdrawal({"from": merchant})
    assert tx.events["WithdrawalCancelled"]["amount"] == 10
    deposited.requestWithdrawal(20, {"from": merchant})


def test_removed_merchant_may_withdraw_everything(deposited, merchant, membership, governance, governors, chain):
    govern(governance, governors, membership, "remove", merchant)
    assert deposited.available(merchant) == DEPOSIT
    deposited.requestWithdrawal(DEPOSIT, {"from": merchant})
    chain.sleep(COOLDOWN)
    deposited.withdraw({"from": merchant})
    assert account(deposited, merchant)["balance"] == 0


def test_case_freezes_then_releases(deposited, arbiter, merchant, buyer):
    tx = deposited.openCase(merchant, buyer, SMALL, {"from": arbiter})  # one arbiter decides it
    case_id = tx.events["CaseOpened"]["caseId"]
    assert account(deposited, merchant)["frozen"] == SMALL
    assert deposited.available(merchant) == DEPOSIT - MINIMUM - SMALL
    tx = deposited.closeCase(case_id, False, {"from": arbiter})
    assert tx.events["CaseReleased"]["amount"] == SMALL
    assert account(deposited, merchant)["frozen"] == 0
    with reverts("CaseClosed"):
        deposited.closeCase(case_id, True, {"from": arbiter})


def test_case_pays_out_to_claimant_who_pulls(deposited, funded, arbiter, merchant, buyer, signing_arbiters):
    assert tuple(deposited.caseRuling()) == (SMALL, 2)  # one arbiter awards up to 1,000.00 CNY
    case_id = deposited.openCase(merchant, buyer, SMALL, {"from": arbiter}).events["CaseOpened"]["caseId"]
    signed = case_signatures(deposited, case_id, True, signing_arbiters[:1])  # not the opener
    tx = deposited.ruleCase(case_id, True, signed, {"from": buyer})
    assert tx.events["CasePaidOut"]["claimant"] == buyer
    assert account(deposited, merchant)["balance"] == DEPOSIT - SMALL
    assert deposited.claimable(buyer) == SMALL
    tx = deposited.claim({"from": buyer})
    assert tx.events["Claimed"]["amount"] == SMALL
    assert funded.balanceOf(buyer) == SMALL
    with reverts("NothingToClaim"):
        deposited.claim({"from": buyer})


def test_case_opened_during_cooldown_blocks_withdrawal(deposited, arbiter, merchant, buyer, chain):
    deposited.requestWithdrawal(DEPOSIT - MINIMUM, {"from": merchant})
    deposited.openCase(merchant, buyer, 1, {"from": arbiter})
    chain.sleep(COOLDOWN)
    with reverts("InsufficientAvailable"):
        deposited.withdraw({"from": merchant})


def test_case_refusals(deposited, arbiter, merchant, buyer, auditor):
    with reverts("MissingRole"):
        deposited.openCase(merchant, buyer, 1, {"from": auditor})
    with reverts("MissingRole"):
        deposited.closeCase(1, False, {"from": merchant})
    with reverts("InsufficientAvailable"):
        deposited.openCase(merchant, buyer, DEPOSIT + 1, {"from": arbiter})
    with reverts("ZeroAmount"):
        deposited.openCase(merchant, buyer, 0, {"from": arbiter})
    with reverts("ZeroAddress"):
        deposited.openCase(merchant, "0x" + "00" * 20, 1, {"from": arbiter})
    with reverts("UnknownCase"):
        deposited.closeCase(99, False, {"from": arbiter})


def test_an_arbiter_cannot_award_itself_a_deposit(
    deposited, arbiter, merchant, outsider, governance, governors, membership, signing_arbiters
):
    """The attack of issue 25: an arbiter opens a case naming itself the claimant, pays it out
    and claims it. A party never opens or decides its own case, nor signs a ruling on it."""
    with reverts("PartyToCase"):
        deposited.openCase(merchant, arbiter, 50_000, {"from": arbiter})
    with reverts("PartyToCase"):
        deposited.openCase(arbiter, merchant, 1, {"from": arbiter})
    # nor a case paying the merchant out of its own deposit (past its withdrawal's cooldown and floor)
    for claimant in (merchant, deposited.address):
        with reverts("PartyToCase"):
            deposited.openCase(merchant, claimant, 1, {"from": arbiter})
    # a second arbiter opens a case for the first, who may neither decide it alone
    govern(governance, governors, membership, "admit", outsider, ARBITER)
    case_id = deposited.openCase(merchant, arbiter, 50_000, {"from": outsider}).events["CaseOpened"]["caseId"]
    for pay_out in (True, False):
        with reverts("PartyToCase"):
            deposited.closeCase(case_id, pay_out, {"from": arbiter})
    # nor sign for it: a claimant who is an arbiter counts for nothing in a ruling
    mine, other = signing_arbiters[:2]
    case_id = deposited.openCase(merchant, mine.address, 50_000, {"from": arbiter}).events["CaseOpened"]["caseId"]
    for signers in ([mine], [mine, other]):
        with reverts("PartyToCase"):
            deposited.ruleCase(case_id, True, case_signatures(deposited, case_id, True, signers), {"from": outsider})
    assert account(deposited, merchant)["balance"] == DEPOSIT and deposited.claimable(mine.address) == 0
    tx = deposited.ruleCase(case_id, True, case_signatures(deposited, case_id, True, [other]), {"from": outsider})
    assert tx.events["CaseRuled"]["signers"] == 1 and deposited.claimable(mine.address) == 50_000


def test_the_arbiter_who_opened_a_case_never_awards_it_alone(deposited, arbiter, merchant, buyer, signing_arbiters):
    """Issue 25's attack with a claimant of the arbiter's own: one arbiter opens a case naming an
    address it holds (not itself) as claimant, awards it and claims it, case after case, each
    within the one-arbiter threshold. The opener may release its case; an award needs another."""
    puppet = Account.create("an address the arbiter holds").address
    first = deposited.openCase(merchant, puppet, SMALL, {"from": arbiter}).events["CaseOpened"]["caseId"]
    assert deposited.caseOpener(first) == arbiter
    with reverts("OpenerAlone"):
        deposited.closeCase(first, True, {"from": arbiter})
    mine, other = signing_arbiters[:2]  # an opener with a key that also signs rulings
    opener = accounts.add("0x" + bytes(mine.key).hex())
    arbiter.transfer(opener, "1 ether")
    case_id = deposited.openCase(merchant, puppet, SMALL, {"from": opener}).events["CaseOpened"]["caseId"]
    with reverts("OpenerAlone"):
        deposited.ruleCase(case_id, True, case_signatures(deposited, case_id, True, [mine]), {"from": buyer})
    assert account(deposited, merchant)["balance"] == DEPOSIT and deposited.claimable(puppet) == 0
    # another arbiter awards it (alone, or beside the opener), and the opener may release its case
    tx = deposited.ruleCase(case_id, True, case_signatures(deposited, case_id, True, [mine, other]), {"from": buyer})
    assert tx.events["CasePaidOut"]["amount"] == SMALL and deposited.claimable(puppet) == SMALL
    assert deposited.closeCase(first, False, {"from": arbiter}).events["CaseReleased"]["amount"] == SMALL


def test_a_large_case_needs_a_quorum_of_arbiters_either_way(
    deposited, arbiter, merchant, buyer, outsider, governance, governors, membership, signing_arbiters
):
    a, b, c = signing_arbiters  # ascending addresses
    big = SMALL + 1
    case_id = deposited.openCase(merchant, buyer, big, {"from": arbiter}).events["CaseOpened"]["caseId"]
    with reverts("TooFewSignatures"):
        deposited.closeCase(case_id, True, {"from": arbiter})

    def rule(signers, pay_out=True):
        return deposited.ruleCase(
            case_id, pay_out, case_signatures(deposited, case_id, pay_out, signers), {"from": outsider}
        )

    with reverts("TooFewSignatures"):
        rule([a])
    with reverts("SignersNotAscending"):
        rule([b, a])
    with reverts("SignersNotAscending"):
        rule([a, a])
    with reverts("NotAnArbiter"):
        rule(sorted([a, Account.create("not an arbiter")], key=lambda k: int(k.address, 16)))
    signed = case_signatures(deposited, case_id, True, [a, b])
    govern(governance, governors, membership, "remove", a.address)  # signed, then no longer an arbiter
    with reverts("NotAnArbiter"):
        deposited.ruleCase(case_id, True, signed, {"from": outsider})
    tx = rule([b, c])
    assert tx.events["CaseRuled"]["signers"] == 2 and tx.events["CasePaidOut"]["amount"] == big
    assert deposited.claimable(buyer) == big and account(deposited, merchant)["balance"] == DEPOSIT - big
    with reverts("CaseClosed"):
        rule([b, c])
    # releasing a large case denies its claimant: not one arbiter's decision either
    case_id = deposited.openCase(merchant, buyer, big, {"from": arbiter}).events["CaseOpened"]["caseId"]
    with reverts("TooFewSignatures"):
        deposited.closeCase(case_id, False, {"from": arbiter})
    with reverts("TooFewSignatures"):
        rule([b], pay_out=False)
    tx = rule([b, c], pay_out=False)
    assert tx.events["CaseRuled"]["signers"] == 2 and tx.events["CaseReleased"]["amount"] == big
    assert account(deposited, merchant)["frozen"] == 0 and deposited.claimable(buyer) == big
    with reverts("UnknownCase"):
        deposited.ruleCase(99, False, [], {"from": outsider})


def test_case_ruling_set_only_by_governance(deposited, arbiter, merchant, buyer, governance, governors):
    with reverts("NotGovernance"):
        deposited.setCaseRuling(0, 2, {"from": governors[0]})
    with reverts("BadQuorum"):  # an award above the threshold always needs more than one arbiter
        govern(governance, governors, deposited, "setCaseRuling", 0, 1)
    tx = govern(governance, governors, deposited, "setCaseRuling", 10, 3)
    assert tx.events["CaseRulingSet"]["quorum"] == 3 and tuple(deposited.caseRuling()) == (10, 3)
    case_id = deposited.openCase(merchant, buyer, 11, {"from": arbiter}).events["CaseOpened"]["caseId"]
    with reverts("TooFewSignatures"):
        deposited.closeCase(case_id, True, {"from": arbiter})


def test_proven_claims_are_paid_only_by_the_payer_governance_names(deposited, funded, merchant, governance, governors):
    """Shoppers' proven claims (PurchaseProofs, docs/zk.md) are paid from the deposit by the one
    contract governance names; no member's key can call it, and frozen amounts stay frozen."""
    vault = deposited
    payer, shopper = accounts[19], Account.create().address  # a contract in production; any address here
    with reverts("NotClaimsPayer"):
        vault.payProvenClaim(merchant, shopper, 1, False, {"from": payer})  # none named yet
    with reverts("NotGovernance"):
        vault.setClaimsPayer(payer, {"from": governors[0]})
    govern(governance, governors, vault, "setClaimsPayer", payer)
    for who in (governors[0], merchant):
        with reverts("NotClaimsPayer"):
            vault.payProvenClaim(merchant, who, 1, False, {"from": who})
    tx = vault.payProvenClaim(merchant, shopper, 500, False, {"from": payer})
    assert tx.events["ProvenClaimPaid"]["amount"] == 500 and funded.balanceOf(shopper) == 500
    assert account(vault, merchant)["balance"] == DEPOSIT - 500  # imposed terms: below the minimum if need be
    # the merchant's own terms keep its minimum, as a withdrawal does (standing terms of a whole
    # deposit, claimed through a purchase of its own, were a withdrawal with no floor)
    with reverts("InsufficientAvailable"):
        vault.payProvenClaim(merchant, shopper, DEPOSIT - 500 - MINIMUM + 1, True, {"from": payer})
    vault.payProvenClaim(merchant, shopper, DEPOSIT - 500 - MINIMUM, True, {"from": payer})
    assert account(vault, merchant)["balance"] == MINIMUM
    with reverts("InsufficientAvailable"):
        vault.payProvenClaim(merchant, shopper, DEPOSIT, False, {"from": payer})
    with reverts("ZeroAmount"):
        vault.payProvenClaim(merchant, shopper, 0, False, {"from": payer})
    # paid to the merchant it would skip the withdrawal's cooldown; to the vault, belong to no one
    for party in (merchant, vault.address):
        with reverts("PartyToCase"):
            vault.payProvenClaim(merchant, party, 500, False, {"from": payer})


def test_a_proven_dispute_is_a_case_arbiters_decide_and_pays_only_its_address(
    deposited, funded, arbiter, merchant, governance, governors, signing_arbiters
):
    """A shopper's dispute (PurchaseProofs.dispute, after the proof) freezes the terms' amount for
    the address the shopper named; only the claims payer opens such a case, an arbiter not a party
    upholds or releases it, and the award goes to that address, sent by anyone (claimFor)."""
    vault = deposited
    payer, stranger = accounts[19], accounts[18]
    shopper, other = Account.create().address, Account.create().address  # fresh: no gas, no key used
    govern(governance, governors, vault, "setClaimsPayer", payer)
    for who in (arbiter, merchant, stranger):
        with reverts("NotClaimsPayer"):
            vault.openProvenCase(merchant, who, 800, {"from": who})
    before = account(vault, merchant)
    tx = vault.openProvenCase(merchant, shopper, 800, {"from": payer})
    case_id = tx.events["CaseOpened"]["caseId"]
    print(f"\ngas: openProvenCase {tx.gas_used}")
    assert account(vault, merchant)["frozen"] == before["frozen"] + 800
    with reverts("ZeroAmount"):
        vault.openProvenCase(merchant, shopper, 0, {"from": payer})
    with reverts("InsufficientAvailable"):
        vault.openProvenCase(merchant, shopper, before["balance"], {"from": payer})
    with reverts("MissingRole"):
        vault.closeCase(case_id, True, {"from": merchant})  # only arbiters decide, never the merchant
    with reverts("NothingToClaim"):
        vault.claimFor(shopper, {"from": stranger})  # nothing until upheld
    tx = vault.ruleCase(case_id, True, case_signatures(vault, case_id, True, signing_arbiters[:1]), {"from": stranger})
    print(f"gas: ruleCase (one arbiter upholds) {tx.gas_used}")
    assert tx.events["CasePaidOut"]["claimant"] == shopper
    tx = vault.claimFor(shopper, {"from": stranger})  # a relayer sends it; the money goes to the shopper
    print(f"gas: claimFor {tx.gas_used}")
    assert funded.balanceOf(shopper) == 800 and funded.balanceOf(stranger) == 0
    assert account(vault, merchant)["balance"] == before["balance"] - 800
    assert account(vault, merchant)["frozen"] == before["frozen"]
    # released: the merchant keeps it, nobody is paid
    case2 = vault.openProvenCase(merchant, other, 800, {"from": payer}).events["CaseOpened"]["caseId"]
    vault.closeCase(case2, False, {"from": arbiter})
    with reverts("NothingToClaim"):
        vault.claimFor(other, {"from": stranger})
    assert account(vault, merchant)["balance"] == before["balance"] - 800
