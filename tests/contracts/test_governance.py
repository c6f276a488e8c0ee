"""Governance: k-of-n proposals; nothing executes on one key."""

import brownie
from conftest import MERCHANT, govern, reverts


def test_constructor_rejects_bad_threshold(Governance, governors):
    with reverts("InvalidThreshold"):
        Governance.deploy(list(governors), 4, {"from": governors[0]})
    with reverts("InvalidThreshold"):
        Governance.deploy(list(governors), 0, {"from": governors[0]})
    with reverts("AlreadyGovernor"):
        Governance.deploy([governors[0], governors[0]], 1, {"from": governors[0]})


def test_one_governor_cannot_act_alone(governance, membership, governors, outsider):
    data = membership.admit.encode_input(outsider, MERCHANT)
    tx = governance.propose(membership, data, {"from": governors[0]})
    assert tx.events["ProposalCreated"]["proposer"] == governors[0]
    assert tx.events["ProposalApproved"]["approvals"] == 1
    assert "ProposalExecuted" not in tx.events
    assert membership.rolesOf(outsider) == 0
    pid = tx.events["ProposalCreated"]["id"]
    with reverts("AlreadyApproved"):
        governance.approve(pid, {"from": governors[0]})
    tx = governance.approve(pid, {"from": governors[1]})
    assert "ProposalExecuted" in tx.events
    assert membership.rolesOf(outsider) == MERCHANT
    target, _, approvals, executed = governance.proposal(pid)
    assert (target, approvals, executed) == (membership, 2, True)
    with reverts("AlreadyExecuted"):
        governance.approve(pid, {"from": governors[2]})


def test_only_governors_propose_and_approve(governance, membership, governors, outsider):
    data = membership.admit.encode_input(outsider, MERCHANT)
    with reverts("NotGovernor"):
        governance.propose(membership, data, {"from": outsider})
    pid = governance.propose(membership, data, {"from": governors[0]}).events["ProposalCreated"]["id"]
    with reverts("NotGovernor"):
        governance.approve(pid, {"from": outsider})
    with reverts("UnknownProposal"):
        governance.approve(pid + 1, {"from": governors[1]})
    with reverts("ZeroAddress"):
        governance.propose(brownie.ZERO_ADDRESS, data, {"from": governors[0]})


def test_target_error_bubbles_and_approval_rolls_back(governance, membership, governors, merchant):
    data = membership.admit.encode_input(merchant, MERCHANT)  # already a member
    pid = governance.propose(membership, data, {"from": governors[0]}).events["ProposalCreated"]["id"]
    with reverts("AlreadyMember"):
        governance.approve(pid, {"from": governors[1]})
    assert not governance.hasApproved(pid, governors[1])
    _, _, approvals, executed = governance.proposal(pid)
    assert approvals == 1 and not executed


def test_validator_decisions_only_through_the_council(governance, governors, outsider):
    with reverts("OnlySelf"):
        governance.setValidator(outsider, True, {"from": governors[0]})
    tx = govern(governance, governors, governance, "setValidator", outsider, True)
    assert dict(tx.events["ValidatorDecided"]) == {"validator": outsider, "authorized": True}
    tx = govern(governance, governors, governance, "setValidator", outsider, False)
    assert dict(tx.events["ValidatorDecided"]) == {"validator": outsider, "authorized": False}
    with reverts("ZeroAddress"):
        govern(governance, governors, governance, "setValidator", brownie.ZERO_ADDRESS, True)


def test_council_changes_only_through_itself(governance, governors, outsider):
    with reverts("OnlySelf"):
        governance.addGovernor(outsider, {"from": governors[0]})
    with reverts("OnlySelf"):
        governance.setThreshold(1, {"from": governors[0]})
    tx = govern(governance, governors, governance, "addGovernor", outsider)
    assert tx.events["GovernorAdded"]["governor"] == outsider
    assert governance.governorCount() == 4
    tx = govern(governance, governors, governance, "setThreshold", 3)
    assert tx.events["ThresholdChanged"]["threshold"] == 3
    # removing governors may not leave the threshold unreachable
    data = governance.removeGovernor.encode_input(governors[2])
    pid = governance.propose(governance, data, {"from": governors[0]}).events["ProposalCreated"]["id"]
    governance.approve(pid, {"from": governors[1]})
    tx = governance.approve(pid, {"from": outsider})
    assert tx.events["GovernorRemoved"]["governor"] == governors[2]
    data = governance.removeGovernor.encode_input(outsider)
    pid = governance.propose(governance, data, {"from": governors[0]}).events["ProposalCreated"]["id"]
    governance.approve(pid, {"from": governors[1]})
    with reverts("InvalidThreshold"):
        governance.approve(pid, {"from": outsider})


def test_a_proposal_carries_its_reason_on_chain(governance, membership, governors, outsider):
    data = membership.admit.encode_input(outsider, MERCHANT)
    with reverts("NotGovernor"):
        governance.proposeWithReason(membership, data, "why not", {"from": outsider})
    tx = governance.proposeWithReason(membership, data, "a new tea farm", {"from": governors[0]})
    pid = tx.events["ProposalCreated"]["id"]
    assert tx.events["ProposalReason"]["id"] == pid and tx.events["ProposalReason"]["reason"] == "a new tea farm"
    assert tx.events["ProposalApproved"]["approvals"] == 1 and "ProposalExecuted" not in tx.events
    assert "ProposalExecuted" in governance.approve(pid, {"from": governors[1]}).events
    assert membership.rolesOf(outsider) == MERCHANT


def test_a_proposal_expires_unapproved_after_its_lifetime(governance, membership, governors, outsider):
    data = membership.admit.encode_input(outsider, MERCHANT)
    pid = governance.propose(membership, data, {"from": governors[0]}).events["ProposalCreated"]["id"]
    brownie.chain.sleep(governance.PROPOSAL_LIFETIME() + 1)
    brownie.chain.mine()
    with reverts("ProposalExpired"):
        governance.approve(pid, {"from": governors[1]})
    assert membership.rolesOf(outsider) == 0


def test_a_removed_governors_approval_no_longer_counts(governance, membership, governors, outsider):
    """Governor 0 approves (by proposing) an admission, then is removed: governor 1's approval
    alone may not execute it; governor 2's then does."""
    data = membership.admit.encode_input(outsider, MERCHANT)
    pid = governance.propose(membership, data, {"from": governors[0]}).events["ProposalCreated"]["id"]
    remove = governance.removeGovernor.encode_input(governors[0])
    rid = governance.propose(governance, remove, {"from": governors[1]}).events["ProposalCreated"]["id"]
    assert governance.approve(rid, {"from": governors[2]}).events["GovernorRemoved"]["governor"] == governors[0]
    assert governance.proposal(pid)[2] == 0  # its one approval was governor 0's
    tx = governance.approve(pid, {"from": governors[1]})
    assert tx.events["ProposalApproved"]["approvals"] == 1 and "ProposalExecuted" not in tx.events
    assert membership.rolesOf(outsider) == 0
    with reverts("NotGovernor"):
        governance.approve(pid, {"from": governors[0]})
    assert "ProposalExecuted" in governance.approve(pid, {"from": governors[2]}).events
    assert membership.rolesOf(outsider) == MERCHANT
