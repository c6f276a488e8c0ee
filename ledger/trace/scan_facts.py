"""What the database holds about a batch and an item, as a scan shows it: the product, the batch's
on-chain timeline (indexed events), its recall, the EPCIS events about it with where each is
anchored, and the Merkle tree of a code issue. Reads only; the API caches what it reads.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any, Protocol

from sqlalchemy import func, select
from sqlalchemy.orm import Session as DbSession

from ledger.clock import as_utc
from ledger.store.models import (
    Batch,
    ChainEvent,
    Code,
    CodeIssue,
    EpcisAnchor,
    EpcisEpc,
    EpcisEvent,
    EpcisVocabulary,
    Product,
)  # fmt: skip
from ledger.store.purchase_tables import PurchaseReview

from . import codes, digital_link, short_codes
from .epcis import parties
from .epcis.capture import full_term
from .merkle import MerkleTree, TreeCache
from .recorders import authorised


class IssueKey(Protocol):
    id: int
    root: str


TREES = TreeCache()  # code issues' trees


def issue_tree(db: DbSession, issue: IssueKey) -> MerkleTree:
    """The Merkle tree of a code issue, rebuilt from its codes on first use."""

    def leaves() -> list[bytes]:
        uris = db.scalars(select(Code.uri).where(Code.issue_id == issue.id).order_by(Code.leaf_index)).all()
        return [codes.code_leaf(digital_link.parse(u)) for u in uris]

    return TREES.get(issue.root, leaves)


def code_proof(db: DbSession, gtin: str, lot: str, serial: str, tag: str | None = None) -> dict[str, Any] | None:
    """What `ledger verify` takes from us to check a code against the chain (its issue's root, its
    leaf and Merkle path, the anchoring transaction), trusting none of it; None for no such code.
    With a short code's `tag`, also its signature (`k`, `s`), given only to whoever shows the tag."""
    code = db.scalar(select(Code).where(Code.gtin == gtin, Code.lot == lot, Code.serial == serial))
    if code is None:
        return None
    issue = db.get(CodeIssue, code.issue_id)
    signed = {}
    if tag is not None:
        link = digital_link.parse(code.uri)
        shown = digital_link.ItemLink(link.gtin, link.lot, link.serial, "", {"t": tag})
        if short_codes.expand(shown, code.uri)[0] is None:
            return None
        signed = {"k": link.params["k"], "s": link.params["s"]}
    return signed | {
        "root": issue.root,
        "leaf_index": code.leaf_index,
        "path": ["0x" + p.hex() for p in issue_tree(db, issue).proof(code.leaf_index)],
        "anchor_tx": issue.anchor_tx,
        "block_number": issue.block_number,
    }


def batch_facts(db: DbSession, gtin: str, lot: str) -> dict[str, Any]:
    """What every code of a batch shares: product, batch, on-chain timeline, recall, and the
    EPCIS events about the batch as a whole."""
    product = db.get(Product, gtin)
    batch = db.scalar(select(Batch).where(Batch.gtin == gtin, Batch.lot == lot))
    batch_id = batch.batch_id if batch else None
    events = (
        db.execute(
            select(ChainEvent.event, ChainEvent.args, ChainEvent.tx_hash, ChainEvent.block_number, ChainEvent.final)
            .where(ChainEvent.contract == "Provenance", ChainEvent.key == batch_id)
            .order_by(ChainEvent.block_number, ChainEvent.log_index)
        ).all()
        if batch_id
        else []
    )
    timeline, recall_reason = [], None
    for event, args, tx, block, final in events:
        a = json.loads(args)
        entry = {"event": event, "tx_hash": tx, "block_number": block, "final": final}
        if event == "EventRecorded":
            entry.update(index=a["index"], event_hash=a["eventHash"], chain_head=a["head"], recorder=a["recorder"])
        elif event == "BatchRecalled":
            entry.update(recorder=a["by"], reason=a["reason"])
            recall_reason = a["reason"]
        elif event == "BatchRegistered":
            entry.update(lot=a["lot"])
        timeline.append(entry)
    name_epcis_entries(db, timeline)
    # the product's owner on chain: its registrant, unless the prefix holder took it back (through
    # the API or directly on chain: the indexed event, the latest if the prefix changed hands again)
    taken = db.scalar(
        select(ChainEvent.args)
        .where(
            ChainEvent.contract == "Provenance",
            ChainEvent.event == "ProductReclaimed",
            ChainEvent.key == str(int(gtin)),
        )
        .order_by(ChainEvent.block_number.desc(), ChainEvent.log_index.desc())
        .limit(1)
    )
    owner = json.loads(taken)["holder"] if taken else product.merchant if product else None
    about = select(EpcisEpc.event_id).where(EpcisEpc.gtin == gtin, EpcisEpc.lot == lot)
    return {
        "product_name": product.name if product else None,
        "product_owner": owner,
        "batch_id": batch_id,
        "timeline": timeline,
        "recall_reason": recall_reason,
        "supply_chain": epcis_rows(db, about, recorders=authorised(db, gtin)),
        "reviews": verified_reviews(db, gtin, lot),
    }


def verified_reviews(db: DbSession, gtin: str, lot: str) -> dict[str, Any]:
    """Verified buyers' reviews of the batch (each proved by a delivered purchase, docs/zk.md)."""
    n, avg = db.execute(
        select(func.count(), func.avg(PurchaseReview.rating)).where(
            PurchaseReview.gtin == gtin, PurchaseReview.lot == lot
        )
    ).one()
    return {"count": int(n), "rating": round(float(avg), 1) if n else None}


def name_epcis_entries(db: DbSession, timeline: list[dict[str, Any]]) -> None:
    """Name the hash chain entries that are captured EPCIS events (recorded one by one) by their
    business step and hash ID, so the page can say what each on-chain record is."""
    hashes = {e["event_hash"].lower(): e for e in timeline if e["event"] == "EventRecorded"}
    if not hashes:
        return
    for digest, step, kind, hash_id in db.execute(
        select(EpcisEvent.digest, EpcisEvent.biz_step, EpcisEvent.event_type, EpcisEvent.hash_id).where(
            EpcisEvent.digest.in_(list(hashes))
        )
    ):
        hashes[digest]["epcis"] = {
            "type": kind,
            "biz_step": _short(step, "https://ref.gs1.org/cbv/BizStep-"),
            "hash_id": hash_id,
        }


def has_item_events(db: DbSession, gtin: str) -> bool:
    """Whether any EPCIS event names single items of this GTIN (most scans then need no item query)."""
    first = select(EpcisEpc.id).where(EpcisEpc.gtin == gtin, EpcisEpc.serial.is_not(None)).limit(1)
    return db.scalar(first) is not None


def _short(uri: str | None, prefix: str) -> str | None:
    return uri.removeprefix(prefix) if uri else None


def anchor_of(ev: EpcisEvent, anchor: EpcisAnchor | None) -> dict[str, Any] | None:
    if anchor is None:
        return None
    where = {
        "tx_hash": anchor.tx_hash,
        "block_number": anchor.block_number,
        "proof_url": f"/v1/epcis/proofs/{ev.digest[2:]}",
        "page_url": f"/scan/events/{ev.digest[2:]}",  # the same checked on chain, in words (api.scan.event_proof)
    }
    if anchor.kind == "chain":
        return {"method": "batch_chain", "batch_id": anchor.batch_id, "index": anchor.chain_index} | where
    return {"method": "merkle", "root": anchor.root, "leaf_index": ev.leaf_index} | where


def epcis_rows(db: DbSession, about, limit: int = 50, recorders: set[str] | None = None) -> list[dict[str, Any]]:
    """EPCIS events whose ids `about` selects, oldest first, each with who recorded it and where
    its hash is anchored (the full Merkle path: /v1/epcis/proofs/<event hash>), and its source and
    destination party (owning, else possessing) by registered name and credit code. With `recorders`,
    only events those members recorded (a product's merchant and its authorised recorders)."""
    q = (
        select(EpcisEvent, EpcisAnchor)
        .outerjoin(EpcisAnchor, EpcisAnchor.id == EpcisEvent.anchor_id)
        .where(EpcisEvent.id.in_(about))
        .order_by(EpcisEvent.event_time, EpcisEvent.id)
        .limit(limit)
    )
    if recorders is not None:
        q = q.where(EpcisEvent.recorder.in_(sorted(recorders)))
    rows = db.execute(q).all()
    bodies = [json.loads(ev.body) for ev, _ in rows]
    sides = [{s: parties.party_of(b, s) for s in ("source", "destination")} for b in bodies]
    names = parties.names_of(db, (u for p in sides for u in p.values() if u))
    places = place_names(db, {(ev.recorder, ev.read_point) for ev, _ in rows if ev.read_point})
    out = []
    for (ev, anchor), side, body in zip(rows, sides, bodies, strict=True):
        out.append(
            {
                "type": ev.event_type,
                "event_time": as_utc(ev.event_time).isoformat(),
                "biz_step": _short(ev.biz_step, "https://ref.gs1.org/cbv/BizStep-"),
                "disposition": _short(ev.disposition, "https://ref.gs1.org/cbv/Disp-"),
                "read_point": ev.read_point,
                "read_point_name": places.get((ev.recorder, ev.read_point)),
                "recorder": ev.recorder,
                "hash_id": ev.hash_id,
                "anchor": anchor_of(ev, anchor),
                "error_declared": _declared(body),
            }
            | {s: (names.get(u) or _unregistered(u)) if u else None for s, u in side.items()}
        )
    return out


def _declared(event: dict) -> dict[str, Any] | None:
    """Its recorder's error declaration (EPCIS 7.4.1.2: ledger.trace.epcis.declarations): when and why."""
    d = event.get("errorDeclaration")
    if not isinstance(d, dict):
        return None
    reason = full_term("errorDeclaration/reason", d.get("reason"))  # incorrect_data, did_not_occur, a URI
    return {"at": d.get("declarationTime"), "reason": _short(reason, "https://ref.gs1.org/cbv/ER-")}


def place_names(db: DbSession, pairs: set[tuple[str, str]]) -> dict[tuple[str, str], str]:
    """(recorder, location URI) => the location's name as that recorder declared it in its master
    data (an attribute `...#name`, `...:name` or `name`): a place is named by whoever recorded the
    event there, never by another member's declaration."""
    if not pairs:
        return {}
    rows = db.scalars(
        select(EpcisVocabulary).where(
            EpcisVocabulary.uri.in_(sorted({u for _, u in pairs})),
            EpcisVocabulary.declarer.in_(sorted({r for r, _ in pairs})),
        )
    )
    out = {}
    for row in rows:
        attrs = json.loads(row.attributes)
        name = next((v for k, v in attrs.items() if k.rsplit("#", 1)[-1].rsplit(":", 1)[-1] == "name"), None)
        if isinstance(name, str) and name.strip() and (row.declarer, row.uri) in pairs:
            out[(row.declarer, row.uri)] = name.strip()[:100]
    return out


def _unregistered(urn: str) -> dict[str, Any]:
    return {"urn": urn, "name": None, "credit_code": None}


def key_revocation(db: DbSession, key_hash: str) -> dict[str, Any] | None:
    """When and why the code-signing key with this SHA-256 was revoked on chain (indexed), if it was."""
    args = db.scalar(
        select(ChainEvent.args).where(
            ChainEvent.contract == "Provenance", ChainEvent.event == "CodeKeyRevoked", ChainEvent.key == key_hash
        )
    )
    if args is None:
        return None
    a = json.loads(args)
    return {"at": datetime.fromtimestamp(int(a["at"]), UTC), "reason": a["reason"]}
