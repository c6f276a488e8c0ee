"""DeviceRegistry: a member registers its own devices; only the owner or governance revokes."""

import pytest
from conftest import govern, reverts
from web3 import Web3

X, Y = "0x" + "11" * 32, "0x" + "22" * 32


@pytest.fixture(scope="module")
def registry(DeviceRegistry, membership, provenance, governors):
    return DeviceRegistry.deploy(membership, provenance, {"from": governors[0]})


def _id(giai):
    return "0x" + Web3.keccak(text=giai).hex().removeprefix("0x")


def test_a_member_registers_its_own_device(registry, logistics, chain):
    tx = registry.register("0614141ABC123", X, Y, {"from": logistics})
    ev = tx.events["DeviceRegistered"]
    assert ev["deviceId"] == _id("0614141ABC123") and ev["owner"] == logistics
    d = registry.device(_id("0614141ABC123"))
    assert d["owner"] == logistics and d["giai"] == "0614141ABC123"
    assert d["since"] == chain[tx.block_number].timestamp and d["revokedAt"] == 0
    assert (d["keyX"], d["keyY"]) == (X, Y)
    assert registry.isActive(_id("0614141ABC123")) and registry.deviceCount() == 1
    assert not registry.isActive(_id("nothing"))


def test_outsiders_and_bad_input_are_refused(registry, outsider, merchant):
    with reverts("MissingRole"):
        registry.register("0614141X", X, Y, {"from": outsider})
    with reverts("InvalidGiai"):
        registry.register("", X, Y, {"from": merchant})
    with reverts("InvalidGiai"):
        registry.register("9" * 31, X, Y, {"from": merchant})
    with reverts("InvalidKey"):
        registry.register("0614141X", "0x" + "00" * 32, "0x" + "00" * 32, {"from": merchant})
    registry.register("0614141X", X, Y, {"from": merchant})
    with reverts("DeviceExists"):
        registry.register("0614141X", X, "0x" + "33" * 32, {"from": merchant})
    with reverts("KeyInUse"):
        registry.register("0614141Y", X, Y, {"from": merchant})


def test_a_member_cannot_lock_a_key_s_holder_out_by_registering_it_first(registry, merchant, merchant_b):
    key_y = "0x" + "55" * 32  # the holder's key, seen by another member before the holder registers it
    registry.register("0614141SQUAT", X, key_y, {"from": merchant_b})
    tx = registry.register("0614141HOLDER", X, key_y, {"from": merchant})
    assert tx.events["DeviceRegistered"]["owner"] == merchant

    def of(owner):  # keccak256(abi.encode(owner, x, y))
        return Web3.keccak(hexstr="0x" + "00" * 12 + owner.address[2:].lower() + X[2:] + key_y[2:])

    assert registry.deviceOfKey(of(merchant)) == _id("0614141HOLDER")
    assert registry.deviceOfKey(of(merchant_b)) == _id("0614141SQUAT")


def test_under_an_assigned_company_prefix_only_its_holder_registers_giais(
    registry, provenance, governance, governors, merchant, merchant_b, logistics
):
    """A GIAI begins with its owner's GS1 company prefix: once governance assigns the prefix, another
    member cannot take the holder's asset identifiers (and sign readings as the holder's devices)."""
    registry.register("0614142FIRST", X, "0x" + "61" * 32, {"from": merchant_b})  # first come, while unassigned
    govern(governance, governors, provenance, "assignPrefix", "0614142", merchant)
    for giai in ("0614142SQUAT", "06141420001", "0614142" + "9" * 23):
        with reverts("PrefixHeldByOther"):
            registry.register(giai, X, "0x" + "62" * 32, {"from": merchant_b})
        with reverts("PrefixHeldByOther"):
            registry.register(giai, X, "0x" + "62" * 32, {"from": logistics})
    assert registry.prefixHolderOf("0614142SQUAT") == merchant
    assert registry.prefixHolderOf("061414SQUAT") == "0x" + "00" * 20  # 6 digits: another prefix, unassigned
    assert registry.prefixHolderOf("06A14142") == "0x" + "00" * 20  # not a prefix at all
    tx = registry.register("0614142DOCK1", X, "0x" + "63" * 32, {"from": merchant})
    assert tx.events["DeviceRegistered"]["owner"] == merchant
    registry.register("0614143OTHER", X, "0x" + "64" * 32, {"from": merchant_b})  # not the held prefix
    # a 12-digit prefix, read from a GIAI of digits only
    govern(governance, governors, provenance, "assignPrefix", "061414444444", merchant_b)
    with reverts("PrefixHeldByOther"):
        registry.register("061414444444123", X, "0x" + "65" * 32, {"from": merchant})
    registry.register("061414444444123", X, "0x" + "65" * 32, {"from": merchant_b})
    # one registered under it before the assignment stays its registrant's until the holder revokes it
    assert registry.device(_id("0614142FIRST"))["owner"] == merchant_b and registry.isActive(_id("0614142FIRST"))
    with reverts("NotDeviceOwner"):
        registry.revoke(_id("0614143OTHER"), "not under my prefix", {"from": merchant})
    registry.revoke(_id("0614142FIRST"), "registered under our prefix by another member", {"from": merchant})
    assert not registry.isActive(_id("0614142FIRST"))


def test_only_the_owner_or_governance_revokes(registry, governance, governors, merchant, merchant_b):
    registry.register("0614141A", X, Y, {"from": merchant})
    registry.register("0614141B", X, "0x" + "44" * 32, {"from": merchant})
    with reverts("NotDeviceOwner"):
        registry.revoke(_id("0614141A"), "theft", {"from": merchant_b})
    with reverts("NotDeviceOwner"):
        registry.revoke(_id("0614141A"), "theft", {"from": governors[0]})  # a governor alone is not governance
    with reverts("UnknownDevice"):
        registry.revoke(_id("none"), "x", {"from": merchant})
    tx = registry.revoke(_id("0614141A"), "lost", {"from": merchant})
    assert tx.events["DeviceRevoked"]["by"] == merchant and tx.events["DeviceRevoked"]["reason"] == "lost"
    assert registry.device(_id("0614141A"))["revokedAt"] == tx.timestamp
    assert not registry.isActive(_id("0614141A"))
    with reverts("AlreadyRevoked"):
        registry.revoke(_id("0614141A"), "again", {"from": merchant})
    tx = govern(governance, governors, registry, "revoke", _id("0614141B"), "compromised")
    assert not registry.isActive(_id("0614141B"))


def test_a_removed_members_devices_are_inactive(registry, governance, governors, membership, producer):
    registry.register("0614141P", X, Y, {"from": producer})
    assert registry.isActive(_id("0614141P"))
    govern(governance, governors, membership, "remove", producer)
    assert not registry.isActive(_id("0614141P"))
