"""The tree of delivered purchases: commitments come with orders; the carrier who hands a parcel
over vouches on chain for the commitment its recipient showed; the operator anchors exactly the
vouched commitments (the contract refuses any other leaf) and zeroes those of refunded orders; an
auditor recomputes each root from the logs and confirms it (`ledger zk verify --confirm`), and
only confirmed roots move money. No one key makes a leaf that pays.

Decided (docs/zk.md): a commitment joins when its carrier vouched for it at delivery (a claim
within the return window needs it before settlement); a full refund, before or after delivery,
makes the purchase unprovable: a commitment not yet vouched for is voided, an anchored leaf is
zeroed in the next root, and the contract voids every older root once an auditor confirms a root
holding that zeroing. A partial refund leaves the purchase provable (the shopper kept goods). A
commitment a carrier vouched for that no order here explains (its own code, or a code of a parcel
it did not carry) joins zeroed: a leaf that pays needs the carrier's and the operator's word."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session as DbSession

from ledger.chain.client import Sender, TransactionFailed
from ledger.chain.deploy import Deployment
from ledger.errors import Conflict, InvalidInput, NotFound
from ledger.store.models import Batch, Order
from ledger.store.purchase_tables import PurchaseCommitment, PurchaseForeignLeaf

from . import chunks, onchain, poseidon
from .fields import FIELD, batch_id
from .roots import confirm_roots, latest_root, verify_roots  # noqa: F401 - the tree's roots, as callers know them

DEPTH = chunks.DEPTH
CAPACITY = 1 << DEPTH
IN_TREE = ("delivered", "disputed", "settled")
#: leaves per anchoring transaction (its log carries them all)
MAX_ANCHOR = 500


def parse_field(value: Any, what: str) -> int:
    try:  # decimal digits (leading zeros too, as the API's pattern takes them), or 0x-hex
        text = str(value).strip()
        v = int(text, 16) if text[:2].lower() == "0x" else int(text, 10) if isinstance(value, str) else int(value)
    except (TypeError, ValueError):
        raise InvalidInput(f"{what}: not a number: {str(value)[:80]!r}") from None
    if not 0 < v < FIELD:
        raise InvalidInput(f"{what}: must be a field element, 0 < x < the BN254 scalar field")
    return v


def record_commitment(db: DbSession, order_id: str, gtin: str, lot: str, holder: Any) -> PurchaseCommitment:
    """A purchase's commitment, kept with the still-open order: the leaf Poseidon(holder, batch),
    made here from the batch the platform's order is for (`gtin`/`lot`, a batch of the order's own
    merchant) and the holder Poseidon(secret) the shopper's browser made at checkout. The shopper
    names no batch: a commitment a browser made for another batch would prove a purchase of it."""
    h = parse_field(holder, "holder")
    order = db.get(Order, order_id)
    if order is None:
        raise NotFound(f"no order {order_id}")
    if order.status != "escrowed":
        raise Conflict(f"order {order_id} is {order.status}: a commitment comes with the order, before delivery")
    if db.get(PurchaseCommitment, order_id) is not None:
        raise Conflict(f"order {order_id} already has a purchase commitment")
    # the batch's own registrant (a product reclaimed by its prefix's holder keeps its first
    # registrant in `products`, while its new batches are the new owner's)
    known = db.execute(select(Batch.batch_id, Batch.merchant).where(Batch.gtin == gtin, Batch.lot == lot)).first()
    if known is None:
        raise NotFound(f"unknown batch {gtin}/{lot}")
    if known.merchant.lower() != order.merchant.lower():
        raise Conflict(f"{gtin}/{lot} is not a batch of {order.merchant}, the merchant of order {order_id}")
    batch = batch_id(gtin, lot)
    row = PurchaseCommitment(
        order_id=order_id,
        batch=str(batch),
        commitment=str(poseidon.leaf(h, batch)),
        state="waiting",
        created_at=datetime.now(UTC),
    )
    db.add(row)
    db.flush()
    return row


def chain_leaves(dep: Deployment) -> list[int]:
    """The tree's leaves replayed from the chain's logs."""
    leaves: list[int] = []
    for a in onchain.anchored(dep):
        leaves.extend(a["leaves"])
        for z in a["zeroed"]:
            leaves[z] = 0
    return leaves


def vouch(db: DbSession, dep: Deployment, carrier: Sender, handed: Sequence[tuple[str, Any]]) -> dict[str, Any]:
    """The carrier `carrier` vouches, in one transaction, for the commitment each recipient showed
    at hand-over: [(order_id, commitment)], orders it carried and delivered, each commitment the
    one that came with its order. Commits `db`."""
    if not 0 < len(handed) <= MAX_ANCHOR:
        raise InvalidInput(f"vouch for 1 to {MAX_ANCHOR} commitments at a time, not {len(handed)}")
    rows = []
    for order_id, shown in handed:
        c = parse_field(shown, f"{order_id}: commitment")
        order, row = db.get(Order, order_id), db.get(PurchaseCommitment, order_id)
        if order is None or (order.carrier or "").lower() != carrier.address.lower():
            raise NotFound(f"no order {order_id} carried by {carrier.address}")
        if order.status not in IN_TREE or order.window_ends_at is None:  # never delivered (settled by timeout)
            raise Conflict(f"order {order_id} is {order.status}: a carrier vouches once it has delivered")
        if row is None:
            raise Conflict(f"order {order_id}: no commitment came with it at checkout")
        if int(row.commitment) != c:
            raise Conflict(f"order {order_id}: the code shown is not the commitment that came with the order")
        if row.state not in ("waiting", "vouching") or any(r is row for r in rows):
            raise Conflict(f"order {order_id}: its commitment was vouched for already ({row.state})")
        rows.append(row)
    ids, values = [r.order_id for r in rows], [int(r.commitment) for r in rows]
    # marked first (`vouching`: the anchor matches a vouch mined but never answered), and the
    # database left alone while the chain mines. A vouch prepared for the carrier to sign comes
    # back `vouching` with its signature; two vouches at once for one commitment would make two
    # leaves of it, which prove nothing more (one nullifier per purpose and batch).
    taken = db.execute(
        update(PurchaseCommitment)
        .where(PurchaseCommitment.order_id.in_(ids), PurchaseCommitment.state.in_(("waiting", "vouching")))
        .values(state="vouching")
    )
    if taken.rowcount != len(ids):
        db.rollback()
        raise Conflict("a commitment among these was vouched for meanwhile")
    db.commit()
    try:
        receipt = carrier.transact(dep.contract("PurchaseProofs").functions.vouch(values))
    except TransactionFailed:  # refused: nothing vouched, the commitments wait again
        db.execute(update(PurchaseCommitment).where(PurchaseCommitment.order_id.in_(ids)).values(state="waiting"))
        db.commit()
        raise
    # anything else (the node stopped answering) leaves them `vouching`: the anchor finds them by
    # value in the chain's Vouched logs if the transaction was mined after all
    tx = receipt["transactionHash"].hex()
    db.execute(
        update(PurchaseCommitment).where(PurchaseCommitment.order_id.in_(ids)).values(state="vouched", anchor_tx=tx)
    )
    db.commit()
    return {"vouched": len(rows), "tx": tx, "gas": int(receipt["gasUsed"])}


def _joining(db: DbSession, dep: Deployment, first: int) -> tuple[list[int], list[PurchaseCommitment | int], str]:
    """The commitments carriers vouched for from leaf `first` on, whole vouching calls of at most
    MAX_ANCHOR in all (one call may hold that many): (values, each one's row or, for a commitment
    no order here explains, its index; the last vouching transaction)."""
    values: list[int] = []
    by: list[str] = []  # each one's carrier
    tx = ""
    for call in onchain.vouched(dep, first):
        if call["first"] != first + len(values):
            raise Conflict(f"vouched commitments from {call['first']} while the tree has {first + len(values)}")
        if values and len(values) + len(call["commitments"]) > MAX_ANCHOR:
            break
        values.extend(call["commitments"])
        by.extend([call["carrier"].lower()] * len(call["commitments"]))
        tx = call["tx"]
    # the rows the vouches were for; one still `vouching` or `waiting` too, in case a vouch was
    # mined but its row's update was lost (the vouch is on chain all the same)
    candidates = (
        db.execute(
            select(PurchaseCommitment, Order.carrier)
            .join(Order, Order.order_id == PurchaseCommitment.order_id)
            .where(
                PurchaseCommitment.state.in_(("vouched", "vouching", "waiting")),
                PurchaseCommitment.commitment.in_([str(v) for v in set(values)]),
                # delivered (its window set at delivery): a carrier vouching on chain for a parcel it
                # has not delivered paid a claim, and the order was refunded whole after (outside probe)
                Order.window_ends_at.is_not(None),
            )
            .order_by(PurchaseCommitment.state, PurchaseCommitment.created_at, PurchaseCommitment.order_id)
        ).all()
        if values
        else []
    )
    # a commitment is an order's only as vouched for by that order's carrier: a carrier vouching for
    # another carrier's parcel, or for a code of its own, explains nothing here
    pool: dict[tuple[int, str], list[PurchaseCommitment]] = {}
    for r, carrier in candidates:
        pool.setdefault((int(r.commitment), (carrier or "").lower()), []).append(r)
    owners: list[PurchaseCommitment | int] = []
    for i, v in enumerate(values):
        mine = pool.get((v, by[i]))
        owners.append(mine.pop(0) if mine else first + i)
    return values, owners, tx


def anchor(db: DbSession, dep: Deployment, operator: Sender) -> dict[str, Any] | None:
    """Add the commitments carriers vouched for, zero those of refunded orders, anchor the new
    root: one transaction (at most MAX_ANCHOR new leaves); None when nothing changed. Commits `db`."""
    for r in db.scalars(
        select(PurchaseCommitment)
        .join(Order, Order.order_id == PurchaseCommitment.order_id)
        .where(PurchaseCommitment.state == "waiting", Order.status == "refunded")
    ):
        r.state = "void"  # refunded before a carrier vouched for it: it never joins
    db.commit()  # not held while the chunk roots are stored (their own session) and the chain mines
    leaves = chain_leaves(dep)
    first = len(leaves)
    if first == 0:
        _forget_earlier_tree(db)
    new, owners, vouch_tx = _joining(db, dep, first)
    refunded_rows = _refunded(db)
    refunded = {r.order_id for r in refunded_rows}
    zeroing = [r for r in refunded_rows if r.state == "anchored"]
    if not new and not zeroing:
        db.commit()
        return None
    if first + len(new) > CAPACITY:
        raise Conflict("the tree of delivered purchases is full (2^20 leaves): a new tree is needed")
    # the contract takes every vouched leaf: a purchase refunded after its carrier vouched for it
    # joins and is zeroed in the same anchor, and so is a commitment no order here explains (a
    # carrier's key alone vouched for it on chain): a leaf pays only with the operator's word too
    joining_refunded = {first + i for i, o in enumerate(owners) if not isinstance(o, int) and o.order_id in refunded}
    foreign = {o for o in owners if isinstance(o, int)}
    zeroed = sorted([int(r.leaf_index) for r in zeroing] + list(joining_refunded | foreign))
    leaves.extend(new)
    for z in zeroed:
        leaves[z] = 0
    root = chunks.root(leaves, db)  # only the chunks this anchor changed are hashed again
    c = dep.contract("PurchaseProofs")
    receipt = operator.transact(c.functions.anchor(root, new, zeroed, first))
    tx = receipt["transactionHash"].hex()
    for i, o in enumerate(owners):
        if isinstance(o, int):
            db.add(PurchaseForeignLeaf(leaf_index=o, commitment=str(new[i]), vouch_tx=vouch_tx))
        else:
            o.leaf_index, o.anchor_tx = first + i, tx
            o.state = "zeroed" if first + i in joining_refunded else "anchored"
    for r in zeroing:
        r.state, r.anchor_tx = "zeroed", tx
    db.commit()
    return {
        "root": str(root),
        "added": len(new),
        "zeroed": len(zeroed),
        "size": len(leaves),
        "tx": tx,
        "gas": int(receipt["gasUsed"]),
    }


def _refunded(db: DbSession) -> list[PurchaseCommitment]:
    """Commitments of refunded orders still in or on their way into the tree: an anchored leaf to
    zero, or a vouched commitment to zero as it joins."""
    return list(
        db.scalars(
            select(PurchaseCommitment)
            .join(Order, Order.order_id == PurchaseCommitment.order_id)
            .where(
                PurchaseCommitment.state.in_(("anchored", "vouched", "vouching", "waiting")), Order.status == "refunded"
            )
        )
    )


def changes_waiting(db: DbSession, dep: Deployment) -> int:
    """What the next anchor would change: commitments vouched for on chain beyond the tree, and
    anchored leaves of refunded orders to zero."""
    c = dep.contract("PurchaseProofs")
    joins = int(c.functions.vouched().call()) - int(c.functions.leafCount().call())
    return joins + sum(r.state == "anchored" for r in _refunded(db))


def _forget_earlier_tree(db: DbSession) -> None:
    """A contract with no leaf yet and a mirror with some: `ledger zk deploy` put up a new
    PurchaseProofs (its code changed) over an earlier one's mirror. Those leaves and vouches were
    on the earlier contract: the commitments wait again for their carriers to vouch on this one."""
    kept = db.scalar(select(PurchaseCommitment.order_id).where(PurchaseCommitment.leaf_index.is_not(None)).limit(1))
    foreign = db.scalar(select(PurchaseForeignLeaf.leaf_index).limit(1))
    if kept is None and foreign is None:
        return
    db.execute(
        update(PurchaseCommitment)
        .where(PurchaseCommitment.state.in_(("anchored", "zeroed", "vouched", "vouching")))
        .values(state="waiting", leaf_index=None, anchor_tx=None)
    )
    db.execute(delete(PurchaseForeignLeaf))
    db.commit()
