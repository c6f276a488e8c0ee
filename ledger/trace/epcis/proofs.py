"""Where a captured EPCIS event is on chain: its Merkle path to an anchored root, or its entry in
its batch's hash chain. Trees are rebuilt from the stored digests on first use and kept."""

from __future__ import annotations

from datetime import UTC

from sqlalchemy import select
from sqlalchemy.orm import Session

from ledger.store.models import EpcisAnchor, EpcisEvent
from ledger.trace.merkle import MerkleTree, TreeCache

TREES = TreeCache()  # anchored roots' trees


def anchor_tree(db: Session, anchor: EpcisAnchor) -> MerkleTree:
    """The Merkle tree of an anchor, rebuilt from its events' digests on first use."""

    def leaves() -> list[bytes]:
        digests = db.scalars(
            select(EpcisEvent.digest).where(EpcisEvent.anchor_id == anchor.id).order_by(EpcisEvent.leaf_index)
        ).all()
        return [bytes.fromhex(d[2:]) for d in digests]

    return TREES.get(anchor.root, leaves)


def proof_of(db: Session, row: EpcisEvent) -> dict:
    """Where an event is on chain; status pending until it is. Method `merkle`: leaf, path, root,
    transaction and block. Method `batchChain`: the batch, the entry's index, the batch's head
    after it, the recorder who signed it, transaction and block."""
    out = {"hashId": row.hash_id, "eventHash": row.digest}
    if row.anchor_id is None:
        return out | {"status": "pending"}
    anchor = db.get(EpcisAnchor, row.anchor_id)
    out |= {"status": "anchored", "tx": anchor.tx_hash, "block": anchor.block_number}
    out["anchoredAt"] = anchor.anchored_at.replace(tzinfo=anchor.anchored_at.tzinfo or UTC).isoformat()
    if anchor.kind == "chain":
        return out | {
            "method": "batchChain",
            "batchId": anchor.batch_id,
            "index": anchor.chain_index,
            "head": anchor.root,
            "recorder": anchor.submitter,
        }
    tree = anchor_tree(db, anchor)
    return out | {
        "method": "merkle",
        "leaf": "0x" + tree.levels[0][row.leaf_index].hex(),
        "leafIndex": row.leaf_index,
        "path": ["0x" + p.hex() for p in tree.proof(row.leaf_index)],
        "root": anchor.root,
        "leafCount": anchor.leaf_count,
        "recorder": row.recorder,  # as this service saw it (a Merkle leaf does not name its recorder)
    }
