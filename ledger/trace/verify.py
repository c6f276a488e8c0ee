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
from dataclasses import dataclass, field
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
    #: the detail's sentence in `DETAILS` and its values: the console says it in the reader's language
    key: str = "text"
    args: dict[str, str] = field(default_factory=dict)


#: every check's detail in English, as `ledger verify` and `ledger verify-events` print them; the
#: console's catalogs say each as `detail:<key>` (its Chinese page read them in English; phone trial)
DETAILS = {
    "text": "{text}",  # a reason from elsewhere (a malformed link, the resolver's refusal), as it came
    "link": "GTIN {gtin}, lot {lot}, serial {serial}",
    "never_anchored": "root {root} was never anchored",
    "anchored": "{root} over {count} codes, by {by}",
    "owner": "product owner {owner}",
    "owner_other": "product owner {owner}, but anchored by {by}",
    "key": "key {kid}",
    "sig_signed": "signed by key {kid}",
    "sig_malformed": "{detail}",
    "sig_unsigned": "the code carries no signature (parameters k and s)",
    "sig_unknown_key": "unknown signing key {kid}",
    "sig_bad_signature": "signature does not match the code",
    "revoked": "key {kid} revoked on chain at {at}: {why}",
    "leaf": "leaf {index} of {count}",
    "batch": "{events} events chained, head {head}",
    "batch_recalled": "{events} events chained, head {head} - RECALLED",
    "tag_ok": "tag matches",
    "tag_bad": "no signature with this tag",
    # ledger.trace.epcis.verify
    "not_anchored": "not anchored yet ({status})",
    "unauthorised": "recorded by {recorder}, whom product {gtin}'s merchant has not authorised to record about it",
    "root_not_on_chain": "root {root} was never anchored on chain",
    "path_wrong": "the path does not lead to root {root}",
    "tx_not_root": "transaction {tx} does not anchor root {root}",
    "event_anchored": "leaf {index} of {count} under root {root}..., anchored by {by} in block {block}",
    "tx_failed": "transaction {tx} failed on chain",
    "tx_not_canonical": "transaction {tx} is not in block {block} of the canonical chain",
    "recorder_differs": "recorded by {actual}, not {said} as the service says",
    "chain_entry": "entry {index} of batch {batch}...'s hash chain, recorded by {recorder} in block {block}",
    "no_entry": "transaction {tx} records no such entry into batch {batch}",
}


def said(name: str, ok: bool, key: str, **args: Any) -> Check:
    """A check whose detail is `DETAILS[key]` filled with `args`."""
    values = {k: str(v) for k, v in args.items()}
    return Check(name, ok, DETAILS[key].format(**values), key, values)


def verify_code(
    dep: Deployment, uri: str, fetch_proof: Callable[[digital_link.ItemLink], dict[str, Any]]
) -> list[Check]:
    checks: list[Check] = []

    def check(name: str, ok: bool, key: str, **args: Any) -> bool:
        checks.append(said(name, ok, key, **args))
        return ok

    try:
        link = digital_link.parse(uri)
    except digital_link.DigitalLinkError as exc:
        check("GS1 Digital Link", False, "text", text=exc)
        return checks
    check("GS1 Digital Link", True, "link", gtin=link.gtin, lot=link.lot, serial=link.serial)
    prov = dep.contract("Provenance")
    try:
        proof = fetch_proof(link)
    except Exception as exc:  # noqa: BLE001 - any failure to get a proof is a failed check
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        check("Merkle path from the resolver", False, "text", text=reason)
        return checks
    root = bytes.fromhex(proof["root"][2:])
    try:
        submitter, _, count = prov.functions.anchorOf(root).call()
    except Exception:  # noqa: BLE001 - UnknownRoot reverts
        check("root anchored on chain", False, "never_anchored", root=proof["root"])
        return checks
    check("root anchored on chain", True, "anchored", root=proof["root"], count=count, by=submitter)
    owner = prov.functions.productOwner(int(link.gtin)).call()
    mine = owner == submitter
    check("anchored by the product's merchant", mine, "owner" if mine else "owner_other", owner=owner, by=submitter)
    logs = prov.events.RootAnchored().get_logs(
        from_block=int(dep.manifest["deployed_at_block"]), argument_filters={"root": root}
    )
    anchor_uri = logs[0]["args"]["uri"] if logs else ""
    # the last `?`: anchors written before lots were percent-encoded in them may hold one in the lot
    params = parse_qs(anchor_uri.rpartition("?")[2]) if "?" in anchor_uri else {}
    kid, pk = params.get("k", [""])[0], params.get("pk", [""])[0]
    published = {"kid": kid} if kid else {"text": anchor_uri}
    if not check("signing key published with the root", bool(kid and pk), "key" if kid else "text", **published):
        return checks
    signed = _signed_uri(link, proof, check) if short_codes.is_short(link) else uri
    if signed is None:
        return checks
    sig = codes.check_signature(signed, {kid: codes.public_key_from_b64(pk)})
    check("signature", sig.ok, f"sig_{sig.code}", **sig.args)
    digest = codes.key_hash(codes.public_key_from_b64(pk))
    revoked_at = prov.functions.codeKeyRevokedAt(digest).call()
    if revoked_at:
        why = [log["args"]["reason"] for log in dep.logs(prov.events.CodeKeyRevoked, keyHash=digest)]
        when = datetime.fromtimestamp(revoked_at, UTC).isoformat()
        check("signing key not revoked", False, "revoked", kid=kid, at=when, why=why[0] if why else "?")
    else:
        check("signing key not revoked", True, "key", kid=kid)
    path = [bytes.fromhex(p[2:]) for p in proof["path"]]
    member = prov.functions.verifyEvent(root, codes.code_leaf(link), path).call()
    check("code is in the anchored set", member, "leaf", index=proof["leaf_index"], count=count)
    batch_id = prov.functions.batchId(int(link.gtin), link.lot).call()
    _, events, head, recalled = prov.functions.batch(batch_id).call()
    chained = {"events": events, "head": "0x" + bytes(head).hex()}
    check("batch not recalled", not recalled, "batch_recalled" if recalled else "batch", **chained)
    return checks


def _signed_uri(link: digital_link.ItemLink, proof: dict[str, Any], check: Callable[..., bool]) -> str | None:
    """The long signed URI of a short code, from the signature the resolver gave (trusted for
    nothing: the tag must be its first bits, and the signature is then checked under the chain's key)."""
    sig, kid = str(proof.get("s", "")), str(proof.get("k", ""))
    try:
        ok = bool(sig) and hmac.compare_digest(short_codes.tag_of(sig), link.params["t"])
    except (ValueError, TypeError):
        ok = False
    if not check("short code's tag is of its signature", ok, "tag_ok" if ok else "tag_bad"):
        return None
    return f"/{link.key_path}?k={kid}&s={sig}"
