"""What a consumer learns from scanning a code: the verdict and the facts behind it.

Verdicts, in the order they are decided:
- `forged`: the signature is missing, from an unknown key, or does not match the code;
- `unknown`: a well-signed code that was never issued here;
- `recalled`: the batch was recalled on chain;
- `suspicious`: scanned more often, or from more networks, than one real item would be;
- `genuine`.

Facts come from the database (the indexed chain events, the issued codes) and the chain (the
merchant's deposit); the Merkle proof lets anyone check the code against the anchored root.
Nothing else leaks: no other codes, no member keys, no order data. Every scan is recorded.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import json
from datetime import timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session as DbSession

from ledger import codes, digital_link, money
from ledger.epcis.identifiers import web_escape
from ledger.merkle import MerkleTree, TreeCache
from ledger.models import Batch, ChainEvent, Code, CodeIssue, EpcisAnchor, EpcisEpc, EpcisEvent, Product, Scan

from .auth import as_utc, utcnow
from .services import Services

SUSPICIOUS_SCANS = 20  # a real item is scanned a handful of times
SUSPICIOUS_NETWORKS = 4  # ... from one or two places, not four within a day


TREES = TreeCache()  # code issues' trees


def issue_tree(db: DbSession, issue: CodeIssue) -> MerkleTree:
    """The Merkle tree of a code issue, rebuilt from its codes on first use."""

    def leaves() -> list[bytes]:
        uris = db.scalars(select(Code.uri).where(Code.issue_id == issue.id).order_by(Code.leaf_index)).all()
        return [codes.code_leaf(digital_link.parse(u)) for u in uris]

    return TREES.get(issue.root, leaves)


_KEYS: dict[str, Any] = {}  # key id => Ed25519 public key; keys never change once published


def _keys(db: DbSession, kid: str | None) -> dict[str, Any]:
    """The public key the code names, if this service ever issued with it (read once, then cached)."""
    if kid and kid not in _KEYS:
        pk = db.scalar(select(CodeIssue.public_key).where(CodeIssue.kid == kid).limit(1))
        if pk is not None:
            _KEYS[kid] = codes.public_key_from_b64(pk)
    return {kid: _KEYS[kid]} if kid in _KEYS else {}


def _client_hashes(svc: Services, host: str) -> tuple[str, str]:
    salt = svc.settings.siwe_domain.encode()  # stable per deployment; no raw address is stored
    try:
        ip = ipaddress.ip_address(host)
        net = ipaddress.ip_network(f"{host}/{24 if ip.version == 4 else 48}", strict=False)
    except ValueError:
        net = host
    h = lambda v: hmac.new(salt, str(v).encode(), hashlib.sha256).hexdigest()[:16]  # noqa: E731
    return h(host), h(net)


def resolve(svc: Services, db: DbSession, uri: str, client_host: str) -> dict[str, Any]:
    link = digital_link.parse(uri)
    code = db.scalar(select(Code).where(Code.gtin == link.gtin, Code.lot == link.lot, Code.serial == link.serial))
    issue = db.get(CodeIssue, code.issue_id) if code else None
    signed, signature_reason = codes.verify_signature(uri, _keys(db, link.params.get("k")))
    now = utcnow()
    history = {"count": 0, "first_at": None, "last_at": None}
    result: dict[str, Any] = {
        "code": {"gtin": link.gtin, "lot": link.lot, "serial": link.serial},
        "signature": {"ok": signed, "reason": signature_reason},
    }
    networks: set[str] = set()
    if code is not None:
        n, first, last = db.execute(
            select(func.count(), func.min(Scan.at), func.max(Scan.at)).where(Scan.code_id == code.id)
        ).one()
        times = [as_utc(t) for t in (first, last) if t is not None]
        pending = svc.scans.pending_for(code.id)  # recorded, not yet written
        times += [p["at"] for p in pending]
        history = {
            "count": n + len(pending),
            "first_at": min(times).isoformat() if times else None,
            "last_at": max(times).isoformat() if times else None,
        }
        day_ago = now - timedelta(days=1)
        networks = set(
            db.scalars(select(func.distinct(Scan.network)).where(Scan.code_id == code.id, Scan.at >= day_ago))
        ) | {p["network"] for p in pending if p["at"] >= day_ago}
    result["scans_before"] = history

    if not signed:
        verdict, reason = "forged", signature_reason
    elif code is None or issue is None:
        verdict, reason = "unknown", "this code was never issued"
    else:
        verdict, reason = "genuine", "issued by the batch's merchant and anchored on chain"
        result.update(_facts(svc, db, link, code, issue))
        if result["batch"]["recalled"]:
            verdict, reason = "recalled", result["batch"]["recall_reason"] or "batch recalled"
        elif history["count"] >= SUSPICIOUS_SCANS or len(networks) >= SUSPICIOUS_NETWORKS:
            verdict = "suspicious"
            reason = f"scanned {history['count']} times before, from {len(networks)} networks in the last day"
    client, network = _client_hashes(svc, client_host)
    svc.scans.record(
        {
            "gtin": link.gtin,
            "lot": link.lot,
            "serial": link.serial,
            "code_id": code.id if code else None,
            "at": now,
            "client": client,
            "network": network,
            "verdict": verdict,
        }
    )
    result.update({"verdict": verdict, "reason": reason})
    return result


def _batch_facts(db: DbSession, gtin: str, lot: str) -> dict[str, Any]:
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
    about = select(EpcisEpc.event_id).where(EpcisEpc.gtin == gtin, EpcisEpc.lot == lot)
    return {
        "product_name": product.name if product else None,
        "batch_id": batch_id,
        "timeline": timeline,
        "recall_reason": recall_reason,
        "supply_chain": _epcis_rows(db, about),
    }


def _facts(svc: Services, db: DbSession, link: digital_link.ItemLink, code: Code, issue: CodeIssue) -> dict[str, Any]:
    shared = svc.scan_cache.get(("batch", link.gtin, link.lot), lambda: _batch_facts(db, link.gtin, link.lot))
    batch_id, recall_reason, timeline = shared["batch_id"], shared["recall_reason"], shared["timeline"]
    tree = issue_tree(db, issue)
    item = f"https://id.gs1.org/01/{link.gtin}/21/{web_escape(link.serial)}"
    own = _epcis_rows(db, select(EpcisEpc.event_id).where(EpcisEpc.uri == item))
    seen = {e["hash_id"] for e in shared["supply_chain"]}
    supply_chain = sorted(
        shared["supply_chain"] + [e for e in own if e["hash_id"] not in seen], key=lambda e: e["event_time"]
    )
    dep = svc.chain.deployment()
    vault = dep.contract("GuaranteeVault").address
    deposit = svc.scan_cache.get(("deposit", vault, issue.merchant), lambda: money.deposit_account(dep, issue.merchant))
    return {
        "product": {"gtin": link.gtin, "name": shared["product_name"]},
        "batch": {
            "lot": link.lot,
            "batch_id": batch_id,
            "recalled": recall_reason is not None,
            "recall_reason": recall_reason,
        },
        "merchant": {
            "address": issue.merchant,
            "deposit": {k: deposit[k] for k in ("balance_fen", "frozen_fen", "required_fen")},
        },
        "timeline": timeline,
        "supply_chain": supply_chain,
        "proof": {
            "root": issue.root,
            "leaf_index": code.leaf_index,
            "leaf": "0x" + codes.code_leaf(link).hex(),
            "path": ["0x" + p.hex() for p in tree.proof(code.leaf_index)],
            "anchor_tx": issue.anchor_tx,
            "block_number": issue.block_number,
            "kid": issue.kid,
        },
    }


def _short(uri: str | None, prefix: str) -> str | None:
    return uri.removeprefix(prefix) if uri else None


def _epcis_rows(db: DbSession, about, limit: int = 50) -> list[dict[str, Any]]:
    """EPCIS events whose ids `about` selects, oldest first, each with who recorded it and where
    its hash is anchored (the full Merkle path: /v1/epcis/proofs/<event hash>)."""
    rows = db.execute(
        select(EpcisEvent, EpcisAnchor)
        .outerjoin(EpcisAnchor, EpcisAnchor.id == EpcisEvent.anchor_id)
        .where(EpcisEvent.id.in_(about))
        .order_by(EpcisEvent.event_time, EpcisEvent.id)
        .limit(limit)
    ).all()
    out = []
    for ev, anchor in rows:
        out.append(
            {
                "type": ev.event_type,
                "event_time": as_utc(ev.event_time).isoformat(),
                "biz_step": _short(ev.biz_step, "https://ref.gs1.org/cbv/BizStep-"),
                "disposition": _short(ev.disposition, "https://ref.gs1.org/cbv/Disp-"),
                "read_point": ev.read_point,
                "recorder": ev.recorder,
                "hash_id": ev.hash_id,
                "anchor": None
                if anchor is None
                else {
                    "root": anchor.root,
                    "leaf_index": ev.leaf_index,
                    "tx_hash": anchor.tx_hash,
                    "block_number": anchor.block_number,
                    "proof_url": f"/v1/epcis/proofs/{ev.digest[2:]}",
                },
            }
        )
    return out
