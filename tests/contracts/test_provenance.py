"""Provenance: products, batches, per-batch hash chains, Merkle anchors, recalls."""

import os

import pytest
from conftest import govern, reverts
from eth_utils import keccak

from ledger.trace.merkle import MerkleTree

GTIN = 6901234567892  # 690123456789 + check digit 2
ZERO = "0x" + "00" * 20
LOT = "L2026-11"


def h(text):
    return keccak(text=text)


@pytest.fixture(scope="module")
def registered(provenance, merchant):
    provenance.registerProduct(GTIN, {"from": merchant})
    tx = provenance.registerBatch(GTIN, LOT, {"from": merchant})
    return tx.events["BatchRegistered"]["batchId"]


@pytest.mark.parametrize(
    "gtin,valid",
    [
        (6901234567892, True),
        (6901234567891, False),
        (4006381333931, True),
        (96385074, True),
        (0, False),
        (10**14 + 1, False),
        (12345678901231, True),
        (12345678901234, False),
    ],
)
def test_gtin_check_digit(provenance, gtin, valid):
    assert provenance.isValidGtin(gtin) is valid


def test_register_product(provenance, merchant, merchant_b, producer):
    tx = provenance.registerProduct(GTIN, {"from": merchant})
    assert tx.events["ProductRegistered"]["gtin"] == GTIN
    assert tx.events["ProductRegistered"]["merchant"] == merchant
    assert provenance.productOwner(GTIN) == merchant
    with reverts("ProductExists"):
        provenance.registerProduct(GTIN, {"from": merchant_b})
    with reverts("InvalidGtin"):
        provenance.registerProduct(GTIN + 1, {"from": merchant})
    with reverts("MissingRole"):
        provenance.registerProduct(4006381333931, {"from": producer})


def test_register_batch(provenance, registered, merchant, merchant_b):
    assert registered == provenance.batchId(GTIN, LOT)
    gtin, count, head, recalled = provenance.batch(registered)
    assert (gtin, count, head, recalled) == (GTIN, 0, "0x" + "00" * 32, False)
    with reverts("BatchExists"):
        provenance.registerBatch(GTIN, LOT, {"from": merchant})
    with reverts("NotProductOwner"):
        provenance.registerBatch(GTIN, "OTHER", {"from": merchant_b})
    with reverts("UnknownProduct"):
        provenance.registerBatch(4006381333931, LOT, {"from": merchant})
    with reverts("InvalidLot"):
        provenance.registerBatch(GTIN, "", {"from": merchant})
    with reverts("InvalidLot"):
        provenance.registerBatch(GTIN, "X" * 21, {"from": merchant})


def test_hash_chain_links_each_event(provenance, registered, merchant, producer, logistics, inspector):
    for who in (producer, logistics, inspector):
        provenance.setRecorder(GTIN, who, True, {"from": merchant})
    head = b"\x00" * 32
    for i, (who, step) in enumerate(
        [(producer, "harvested"), (inspector, "inspected"), (logistics, "shipped"), (merchant, "received")]
    ):
        event_hash = h(step)
        tx = provenance.recordEvent(registered, event_hash, {"from": who})
        head = keccak(head + event_hash)
        ev = tx.events["EventRecorded"]
        assert (ev["batchId"], ev["index"], ev["eventHash"], ev["head"], ev["recorder"]) == (
            registered,
            i,
            "0x" + event_hash.hex(),
            "0x" + head.hex(),
            who,
        )
    _, count, chain_head, _ = provenance.batch(registered)
    assert count == 4 and chain_head == "0x" + head.hex()


def test_only_the_merchant_and_the_recorders_it_authorised_record(
    provenance, registered, merchant, merchant_b, producer, logistics, auditor, governance, governors, membership
):
    with reverts("NotAuthorisedRecorder"):  # a producer the merchant has not authorised
        provenance.recordEvent(registered, h("x"), {"from": producer})
    with reverts("NotProductOwner"):  # a competitor cannot authorise itself
        provenance.setRecorder(GTIN, producer, True, {"from": merchant_b})
    with reverts("NotARecorder"):
        provenance.setRecorder(GTIN, auditor, True, {"from": merchant})
    tx = provenance.setRecorder(GTIN, producer, True, {"from": merchant})
    assert tx.events["RecorderSet"]["allowed"] is True and provenance.mayRecord(GTIN, producer)
    provenance.recordEvent(registered, h("x"), {"from": producer})
    assert not provenance.mayRecord(GTIN, logistics) and not provenance.mayRecord(GTIN, merchant_b)
    provenance.setRecorder(GTIN, producer, False, {"from": merchant})
    with reverts("NotAuthorisedRecorder"):
        provenance.recordEvent(registered, h("y"), {"from": producer})
    # authorised, then removed from the consortium: no longer records
    provenance.setRecorder(GTIN, logistics, True, {"from": merchant})
    govern(governance, governors, membership, "remove", logistics)
    assert not provenance.mayRecord(GTIN, logistics)


def test_record_event_refusals(provenance, registered, merchant, merchant_b, auditor, outsider, producer):
    provenance.setRecorder(GTIN, producer, True, {"from": merchant})
    with reverts("NotAuthorisedRecorder"):
        provenance.recordEvent(registered, h("x"), {"from": merchant_b})  # another merchant
    with reverts("NotAuthorisedRecorder"):
        provenance.recordEvent(registered, h("x"), {"from": auditor})
    with reverts("NotAuthorisedRecorder"):
        provenance.recordEvent(registered, h("x"), {"from": outsider})
    with reverts("UnknownBatch"):
        provenance.recordEvent(h("no such batch"), h("x"), {"from": producer})
    with reverts("EmptyHash"):
        provenance.recordEvent(registered, b"\x00" * 32, {"from": producer})


@pytest.mark.parametrize("leaves", [1, 2, 3, 7, 64, 1000])
def test_anchor_and_verify_python_proofs(provenance, producer, leaves):
    hashes = [h(f"event-{i}") for i in range(leaves)]
    tree = MerkleTree(hashes)
    tx = provenance.anchor(tree.root, leaves, "ipfs://batch-1", {"from": producer})
    ev = tx.events["RootAnchored"]
    assert (ev["root"], ev["leafCount"], ev["uri"], ev["submitter"]) == (
        "0x" + tree.root.hex(),
        leaves,
        "ipfs://batch-1",
        producer,
    )
    for i in sorted({0, leaves // 2, leaves - 1}):
        assert provenance.verifyEvent(tree.root, hashes[i], tree.proof(i))
    assert not provenance.verifyEvent(tree.root, h("not in the tree"), tree.proof(0))
    if leaves > 1:
        assert not provenance.verifyEvent(tree.root, hashes[0], tree.proof(1))
    submitter, _, count = provenance.anchorOf(tree.root)
    assert (submitter, count) == (producer, leaves)


def test_anchor_refusals(provenance, producer, auditor, outsider):
    root = os.urandom(32)
    with reverts("MissingRole"):
        provenance.anchor(root, 3, "uri", {"from": auditor})
    with reverts("MissingRole"):
        provenance.anchor(root, 3, "uri", {"from": outsider})
    with reverts("EmptyAnchor"):
        provenance.anchor(b"\x00" * 32, 3, "uri", {"from": producer})
    with reverts("EmptyAnchor"):
        provenance.anchor(root, 0, "uri", {"from": producer})
    provenance.anchor(root, 3, "uri", {"from": producer})
    with reverts("RootExists"):
        provenance.anchor(root, 3, "uri", {"from": producer})
    with reverts("UnknownRoot"):
        provenance.verifyEvent(os.urandom(32), h("x"), [])
    with reverts("UnknownRoot"):
        provenance.anchorOf(os.urandom(32))


def test_recall(provenance, registered, merchant, merchant_b, inspector, platform, producer):
    with reverts("MissingRole"):
        provenance.recall(registered, "contaminated", {"from": merchant_b})
    with reverts("MissingRole"):
        provenance.recall(registered, "contaminated", {"from": producer})
    with reverts("EmptyReason"):
        provenance.recall(registered, "", {"from": inspector})
    tx = provenance.recall(registered, "contaminated", {"from": inspector})
    ev = tx.events["BatchRecalled"]
    assert (ev["batchId"], ev["by"], ev["reason"]) == (registered, inspector, "contaminated")
    assert provenance.batch(registered)[3] is True
    with reverts("BatchIsRecalled"):
        provenance.recall(registered, "again", {"from": platform})
    with reverts("UnknownBatch"):
        provenance.recall(h("none"), "x", {"from": merchant})


def test_merchant_recalls_own_batch(provenance, registered, merchant):
    assert "BatchRecalled" in provenance.recall(registered, "label error", {"from": merchant}).events


def _gtin(body13: str) -> int:
    """A GTIN-14 from its first 13 digits (indicator, company prefix, item reference)."""
    from ledger.trace.gs1 import check_digit

    return int(body13 + str(check_digit(body13)))


def test_a_company_prefix_governance_assigned_is_its_holder_s(provenance, governance, governors, merchant, merchant_b):
    """An outside finding (docs/money.md): any merchant could register another brand's GTIN first
    and issue codes for it that scan as genuine. Governance assigns GS1 company prefixes to their
    licensees; a GTIN under one is its holder's to register, or to take back."""
    held, squatted, free = _gtin("0061414100003"), _gtin("1061414100003"), _gtin("0950600013435")
    provenance.registerProduct(squatted, {"from": merchant_b})  # before the prefix was assigned
    with reverts("NotGovernance"):
        provenance.assignPrefix("0614141", merchant, {"from": merchant})
    for bad in ("06141", "0614141000003", "06141a1"):
        with reverts("InvalidPrefix"):
            govern(governance, governors, provenance, "assignPrefix", bad, merchant)
    with reverts("MissingRole"):  # a licensee is a merchant member
        govern(governance, governors, provenance, "assignPrefix", "0614141", governors[0])
    tx = govern(governance, governors, provenance, "assignPrefix", "0614141", merchant)
    assert tx.events["PrefixAssigned"]["holder"] == merchant
    # every packaging level (indicator digit) of the prefix is the holder's; leading zeros count
    assert provenance.prefixHolderOf(held) == merchant and provenance.prefixHolderOf(squatted) == merchant
    assert provenance.prefixHolderOf(_gtin("0614141000003")) == ZERO  # prefix 614141..., another licence
    with reverts("PrefixHeldByOther"):
        provenance.registerProduct(held, {"from": merchant_b})
    provenance.registerProduct(held, {"from": merchant})
    provenance.registerProduct(free, {"from": merchant_b})  # no assigned prefix: first come
    with reverts("PrefixHeldByOther"):  # only the holder takes a product back
        provenance.reclaimProduct(squatted, {"from": merchant_b})
    tx = provenance.reclaimProduct(squatted, {"from": merchant})
    got = tx.events["ProductReclaimed"]
    assert (got["gtin"], got["from"], got["holder"]) == (squatted, merchant_b, merchant)
    assert provenance.productOwner(squatted) == merchant
    with reverts("PrefixHeldByOther"):  # its own already
        provenance.reclaimProduct(squatted, {"from": merchant})
    with reverts("PrefixHeldByOther"):  # under no assigned prefix, nobody takes it back
        provenance.reclaimProduct(free, {"from": merchant})
    govern(governance, governors, provenance, "assignPrefix", "0614141", ZERO)  # unassigned again
    assert provenance.prefixHolderOf(held) == ZERO
