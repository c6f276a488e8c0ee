"""Membership: roles are admitted, changed and removed by governance only."""

from conftest import ARBITER, INSPECTOR, MERCHANT, PRODUCER, govern, reverts


def test_direct_calls_are_refused_even_from_a_governor(membership, governors, outsider, merchant):
    with reverts("NotGovernance"):
        membership.admit(outsider, MERCHANT, {"from": governors[0]})
    with reverts("NotGovernance"):
        membership.setRoles(merchant, ARBITER, {"from": governors[0]})
    with reverts("NotGovernance"):
        membership.remove(merchant, {"from": merchant})


def test_admit_rerole_remove_emit_events(membership, governance, governors, outsider):
    count = membership.memberCount()
    tx = govern(governance, governors, membership, "admit", outsider, PRODUCER | INSPECTOR)
    assert tx.events["MemberAdmitted"]["member"] == outsider
    assert tx.events["MemberAdmitted"]["roles"] == PRODUCER | INSPECTOR
    assert membership.memberCount() == count + 1
    assert membership.hasAnyRole(outsider, INSPECTOR)
    assert not membership.hasAnyRole(outsider, MERCHANT)

    tx = govern(governance, governors, membership, "setRoles", outsider, MERCHANT)
    ev = tx.events["MemberRolesChanged"]
    assert (ev["previousRoles"], ev["roles"]) == (PRODUCER | INSPECTOR, MERCHANT)
    assert not membership.hasAnyRole(outsider, INSPECTOR)

    tx = govern(governance, governors, membership, "remove", outsider)
    assert tx.events["MemberRemoved"]["previousRoles"] == MERCHANT
    assert membership.rolesOf(outsider) == 0
    assert membership.memberCount() == count


def test_invalid_changes_revert(membership, governance, governors, outsider, merchant):
    with reverts("InvalidRoles"):
        govern(governance, governors, membership, "admit", outsider, 0)
    with reverts("InvalidRoles"):
        govern(governance, governors, membership, "admit", outsider, 1 << 8)
    with reverts("AlreadyMember"):
        govern(governance, governors, membership, "admit", merchant, MERCHANT)
    with reverts("NotMember"):
        govern(governance, governors, membership, "setRoles", outsider, MERCHANT)
    with reverts("NotMember"):
        govern(governance, governors, membership, "remove", outsider)
    with reverts("ZeroAddress"):
        govern(governance, governors, membership, "admit", "0x" + "00" * 20, MERCHANT)
