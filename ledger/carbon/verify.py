"""`ledger verify-footprint <uri>`: recompute a published footprint from Merkle-proven inputs alone.

From the service it takes only the evidence (document, factor table, input events with their
proofs); each is checked against the chain: every event's digest recomputed from its body and
proven under a root anchored on chain (or its entry in its batch's hash chain), the factor table's
hash anchored by its publisher and signed by it, the footprint's root (over its hash, the table's
hash and the input digests) anchored. Then the footprint is computed again from those events and
that table, and every figure that differs from the document is named."""

from __future__ import annotations

from dataclasses import dataclass

from ledger.chain.deploy import Deployment
from ledger.trace.epcis.canonical import namespaces_of
from ledger.trace.epcis.hashid import event_digest

from . import factors
from .footprint import compute
from .pact import batch_of, stages_of
from .quantities import dec
from .records import footprint_hash, footprint_root, table_root


@dataclass
class Check:
    name: str
    ok: bool
    detail: str


def _anchored(prov, root: bytes) -> tuple[str, int] | None:
    try:
        submitter, _, count = prov.functions.anchorOf(root).call()
    except Exception:  # noqa: BLE001 - UnknownRoot reverts
        return None
    return submitter.lower(), count


def _event_on_chain(dep: Deployment, prov, digest: str, proof: dict) -> tuple[bool, str]:
    if proof.get("status") != "anchored":
        return False, "not anchored"
    if proof.get("method") == "batchChain":
        logs = dep.logs(prov.events.EventRecorded, batchId=bytes.fromhex(proof["batchId"][2:]))
        ok = any("0x" + bytes(log["args"]["eventHash"]).hex() == digest for log in logs)
        return ok, f"entry {proof.get('index')} of batch {proof['batchId'][:10]}…"
    root = bytes.fromhex(proof["root"][2:])
    if _anchored(prov, root) is None:
        return False, f"root {proof['root']} was never anchored"
    path = [bytes.fromhex(p[2:]) for p in proof["path"]]
    ok = prov.functions.verifyEvent(root, bytes.fromhex(digest[2:]), path).call()
    return ok, f"leaf {proof.get('leafIndex')} of root {proof['root'][:10]}…"


def verify_evidence(dep: Deployment, ev: dict) -> list[Check]:
    checks: list[Check] = []
    prov = dep.contract("Provenance")
    doc, table_doc = ev["document"], ev["factorTable"]["document"]
    fp_hash = footprint_hash(doc)
    checks.append(Check("footprint hash", fp_hash == ev["hash"], fp_hash))
    table = factors.parse(table_doc)
    checks.append(Check("factor table hash", table.hash == ev["factorTable"]["hash"], f"{table.version} {table.hash}"))
    signer = factors.signer_of(table_doc, ev["factorTable"]["signature"])
    checks.append(Check("factor table signed by its publisher", signer == table.publisher, signer))
    on_chain = _anchored(prov, table_root(table.hash))
    checks.append(
        Check(
            "factor table anchored by its publisher",
            bool(on_chain and on_chain[0] == table.publisher),
            f"by {on_chain[0]}" if on_chain else "its hash was never anchored",
        )
    )
    proven: list[tuple[str, dict]] = []
    bad = []
    for item in ev["events"]:
        body, ctx = item["body"], item.get("context")
        digest = "0x" + event_digest(body, namespaces_of(ctx) | namespaces_of(body.get("@context")))
        ok, where = (
            _event_on_chain(dep, prov, digest, item["proof"])
            if digest == item["proof"].get("eventHash")
            else (False, "body does not give its digest")
        )
        if ok:
            proven.append((item["proof"]["hashId"], body))
        else:
            bad.append(f"{digest[:12]}…: {where}")
    checks.append(
        Check(
            "input events proven on chain",
            not bad and bool(proven),
            f"{len(proven)} proven" + (f"; {len(bad)} not: " + "; ".join(bad[:5]) if bad else ""),
        )
    )
    digests = [h.removeprefix("ni:///sha-256;").split("?")[0] for h, _ in proven]
    root = footprint_root(fp_hash, table.hash, ["0x" + d for d in digests])
    anchored = _anchored(prov, root)
    checks.append(
        Check(
            "footprint anchored over its inputs",
            anchored is not None,
            f"root 0x{root.hex()}" + ("" if anchored else " was never anchored"),
        )
    )
    gtin, lot = _batch(doc)
    result = compute(proven, table, gtin, lot)
    diffs = _differences(doc, result.figures()) + [f"missing: {m}" for m in result.missing]
    checks.append(
        Check("recomputed from proven inputs", not diffs, "every figure matches" if not diffs else "; ".join(diffs))
    )
    return checks


def _batch(doc: dict) -> tuple[str, str]:
    return batch_of(doc["productIds"][0])


def _differences(doc: dict, fig: dict[str, str]) -> list[str]:
    pcf, stages = doc["pcf"], stages_of(doc)
    out = []
    for name, value in fig.items():
        shown = stages.get(name.split(".")[1]) if name.startswith("stage.") else pcf.get(name)
        same = (
            shown == value
            if name == "declaredUnitOfMeasurement" or shown is None
            else dec(shown, name) == dec(value, name)
        )
        if not same:
            out.append(f"{name}: document {shown}, recomputed {value}")
    return out
