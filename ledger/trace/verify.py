"""`ledger verify <uri>`: check a scanned code against the chain node directly.

The only thing taken from the resolver is the Merkle path of the code (which the chain cannot
hand out); everything it is checked against is read from the chain: that the root is anchored,
by the product's merchant, with which public key, that the signature is by that key, that the
code is a leaf of the root, and whether the batch was recalled. No database is trusted.

A short code (`?t=<tag>`, `ledger.trace.short_codes`) carries only 80 bits of its signature: the
resolver hands out the whole signature to whoever shows the tag, and it is checked here as a long
code's is, after checking that the printed tag is its first 80 bits.
"""

from __future__ import annotations

import hmac
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs

from ledger.chain.deploy import Deployment
from ledger.trace import codes, digital_link, short_codes


@dataclass
class Check:
    name: str
    ok: bool
    detail: str


def verify_code(
    dep: Deployment, uri: str, fetch_proof: Callable[[digital_link.ItemLink], dict[str, Any]]
) -> list[Check]:
    checks: list[Check] = []

    def check(name: str, ok: bool, detail: str) -> bool:
        checks.append(Check(name, ok, detail))
        return ok

    try:
        link = digital_link.parse(uri)
    except digital_link.DigitalLinkError as exc:
        check("GS1 Digital Link", False, str(exc))
        return checks
    check("GS1 Digital Link", True, f"GTIN {link.gtin}, lot {link.lot}, serial {link.serial}")
    prov = dep.contract("Provenance")
    try:
        proof = fetch_proof(link)
    except Exception as exc:  # noqa: BLE001 - any failure to get a proof is a failed check
        check("Merkle path from the resolver", False, str(exc).splitlines()[0] if str(exc) else type(exc).__name__)
        return checks
    root = bytes.fromhex(proof["root"][2:])
    try:
        submitter, _, count = prov.functions.anchorOf(root).call()
    except Exception:  # noqa: BLE001 - UnknownRoot reverts
        check("root anchored on chain", False, f"root {proof['root']} was never anchored")
        return checks
    check("root anchored on chain", True, f"{proof['root']} over {count} codes, by {submitter}")
    owner = prov.functions.productOwner(int(link.gtin)).call()
    check(
        "anchored by the product's merchant",
        owner == submitter,
        f"product owner {owner}" + ("" if owner == submitter else f", but anchored by {submitter}"),
    )
    logs = prov.events.RootAnchored().get_logs(
        from_block=int(dep.manifest["deployed_at_block"]), argument_filters={"root": root}
    )
    anchor_uri = logs[0]["args"]["uri"] if logs else ""
    # the last `?`: anchors written before lots were percent-encoded in them may hold one in the lot
    params = parse_qs(anchor_uri.rpartition("?")[2]) if "?" in anchor_uri else {}
    kid, pk = params.get("k", [""])[0], params.get("pk", [""])[0]
    if not check("signing key published with the root", bool(kid and pk), f"key {kid}" if kid else anchor_uri):
        return checks
    signed = _signed_uri(link, proof, check) if short_codes.is_short(link) else uri
    if signed is None:
        return checks
    ok, reason = codes.verify_signature(signed, {kid: codes.public_key_from_b64(pk)})
    check("signature", ok, reason)
    digest = codes.key_hash(codes.public_key_from_b64(pk))
    revoked_at = prov.functions.codeKeyRevokedAt(digest).call()
    if revoked_at:
        why = [log["args"]["reason"] for log in dep.logs(prov.events.CodeKeyRevoked, keyHash=digest)]
        when = datetime.fromtimestamp(revoked_at, UTC).isoformat()
        check("signing key not revoked", False, f"key {kid} revoked on chain at {when}: {why[0] if why else '?'}")
    else:
        check("signing key not revoked", True, f"key {kid}")
    path = [bytes.fromhex(p[2:]) for p in proof["path"]]
    member = prov.functions.verifyEvent(root, codes.code_leaf(link), path).call()
    check("code is in the anchored set", member, f"leaf {proof['leaf_index']} of {count}")
    batch_id = prov.functions.batchId(int(link.gtin), link.lot).call()
    _, events, head, recalled = prov.functions.batch(batch_id).call()
    check(
        "batch not recalled",
        not recalled,
        f"{events} events chained, head 0x{bytes(head).hex()}" + (" - RECALLED" if recalled else ""),
    )
    return checks


def _signed_uri(
    link: digital_link.ItemLink, proof: dict[str, Any], check: Callable[[str, bool, str], bool]
) -> str | None:
    """The long signed URI of a short code, from the signature the resolver gave (trusted for
    nothing: the tag must be its first bits, and the signature is then checked under the chain's key)."""
    sig, kid = str(proof.get("s", "")), str(proof.get("k", ""))
    try:
        ok = bool(sig) and hmac.compare_digest(short_codes.tag_of(sig), link.params["t"])
    except (ValueError, TypeError):
        ok = False
    if not check("short code's tag is of its signature", ok, "tag matches" if ok else "no signature with this tag"):
        return None
    return f"/{link.key_path}?k={kid}&s={sig}"
