"""`ledger verify-events <file>`: check EPCIS events against the chain, trusting no database.

The events are hashed here (CBV 2.0 hash IDs, from the file as the auditor holds it); only the
Merkle path of each is taken from the service (the chain cannot hand it out). Then, on the chain
node: the root is anchored (`Provenance.anchorOf`), the path leads from the event to the root
(`Provenance.verifyEvent`), and the anchoring transaction is the one the service names.

An event recorded on its own into a batch's hash chain is checked from the transaction the
service names: it succeeded, is in the canonical chain at the block named, and emitted
`EventRecorded` for exactly this event hash, batch and index; the recorder is the one it names.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from web3.exceptions import ContractLogicError

from ledger.chain.deploy import Deployment
from ledger.trace.epcis.capture import item_parts, named_identifiers
from ledger.trace.epcis.hashid import document_digests, document_events
from ledger.trace.verify import Check, said


def verify_events(doc: dict, dep: Deployment, fetch_proof: Callable[[str], dict[str, Any]]) -> list[Check]:
    events = document_events(doc)
    return [
        check_event(dep, f"event {i} (ni:///sha-256;{digest[:12]}...)", events[i], digest, fetch_proof(digest))
        for i, digest in enumerate(document_digests(doc))
    ]


def check_event(dep: Deployment, name: str, event: dict, digest: str, proof: dict[str, Any]) -> Check:
    """One event (its hash `digest`, 64 hex digits) against the chain, from the proof the service
    gives: its recorder may record about what it names, and the proof holds on chain."""
    prov = dep.contract("Provenance")
    if proof.get("status") != "anchored":
        return said(name, False, "not_anchored", status=proof.get("status"))
    gtin = _unauthorised(prov, event, proof.get("recorder"))
    if gtin:
        return said(name, False, "unauthorised", recorder=proof["recorder"], gtin=gtin)
    if proof.get("method") == "batchChain":
        return _check_chain_entry(name, dep, digest, proof)
    root = bytes.fromhex(proof["root"][2:])
    try:
        submitter, timestamp, count = prov.functions.anchorOf(root).call()
    except ContractLogicError:  # UnknownRoot
        timestamp = 0
    if timestamp == 0:
        return said(name, False, "root_not_on_chain", root=proof["root"])
    path = [bytes.fromhex(p[2:]) for p in proof["path"]]
    if not prov.functions.verifyEvent(root, bytes.fromhex(digest), path).call():
        return said(name, False, "path_wrong", root=proof["root"])
    receipt = dep.w3.eth.get_transaction_receipt(proof["tx"])
    logs = prov.events.RootAnchored().process_receipt(receipt)
    if not any(log["args"]["root"] == root for log in logs):
        return said(name, False, "tx_not_root", tx=proof["tx"], root=proof["root"])
    at = {"index": proof["leafIndex"], "count": count, "root": proof["root"][:18], "block": receipt["blockNumber"]}
    return said(name, True, "event_anchored", by=submitter, **at)


def _unauthorised(prov: Any, event: dict, recorder: str | None) -> str | None:
    """The registered product the event names that the recorder may not record about, if any: the
    product's merchant decides on chain (`Provenance.mayRecord`, as of now)."""
    if not recorder:
        return None
    gtins = dict.fromkeys(g for g in (item_parts(uri)[0] for uri in named_identifiers(event)) if g)
    for gtin in gtins:  # each product once: an event names thousands of items of a few products
        registered = prov.functions.productOwner(int(gtin)).call() != ZERO
        if registered and not prov.functions.mayRecord(int(gtin), recorder).call():
            return gtin
    return None


ZERO = "0x" + "00" * 20


def _check_chain_entry(name: str, dep: Deployment, digest: str, proof: dict[str, Any]) -> Check:
    prov = dep.contract("Provenance")
    receipt = dep.w3.eth.get_transaction_receipt(proof["tx"])
    if receipt["status"] != 1:
        return said(name, False, "tx_failed", tx=proof["tx"])
    canonical = dep.w3.eth.get_block(receipt["blockNumber"])["hash"]
    if canonical != receipt["blockHash"] or receipt["blockNumber"] != proof["block"]:
        return said(name, False, "tx_not_canonical", tx=proof["tx"], block=proof["block"])
    batch = bytes.fromhex(proof["batchId"][2:])
    for log in prov.events.EventRecorded().process_receipt(receipt):
        a = log["args"]
        if a["batchId"] == batch and a["eventHash"] == bytes.fromhex(digest) and a["index"] == proof["index"]:
            if a["recorder"] != proof["recorder"]:
                return said(name, False, "recorder_differs", actual=a["recorder"], said=proof["recorder"])
            entry = {"index": a["index"], "batch": proof["batchId"][:18], "block": receipt["blockNumber"]}
            return said(name, True, "chain_entry", recorder=a["recorder"], **entry)
    return said(name, False, "no_entry", tx=proof["tx"], batch=proof["batchId"])
