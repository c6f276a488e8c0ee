"""What a consumer learns from scanning a code: the facts behind the verdict, gathered here and
composed by `ledger.flows.scan_answer` (which decides the verdict and the merchant's deposit).

Facts come from the database (the indexed chain events, the issued codes) and the chain (the
merchant's deposit); the Merkle proof lets anyone check the code against the anchored root.
Nothing else leaks: no other codes, no member keys, no order data. Every scan is recorded.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import ipaddress
import time
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from typing import Any, NamedTuple

from sqlalchemy import select
from sqlalchemy.orm import Session as DbSession
from starlette.concurrency import run_in_threadpool

from ledger.clock import as_utc, utcnow
from ledger.errors import NodeUnavailable
from ledger.flows import scan_answer
from ledger.store.models import CodeIssue, EpcisEpc
from ledger.trace import codes, digital_link, scan_facts, short_codes
from ledger.trace.codes import SignatureCheck
from ledger.trace.epcis.identifiers import web_escape
from ledger.trace.epcis.parties import member_name
from ledger.trace.recorders import authorised

from ..core.services import Services

_KEYS: dict[str, Any] = {}  # key id => Ed25519 public key; keys never change once published
_DIGESTS: dict[str, str] = {}  # key id => its key's hash as the chain names it (py-spy: ~1.5 % of a scan)


def _load_key(db: DbSession, kid: str) -> None:
    pk = db.scalar(select(CodeIssue.public_key).where(CodeIssue.kid == kid).limit(1))
    if pk is not None:
        _KEYS[kid] = codes.public_key_from_b64(pk)


async def _keys(svc: Services, kid: str | None) -> dict[str, Any]:
    """The public key the code names, if this service ever issued with it (read once, then cached)."""
    if kid and kid not in _KEYS:
        await run_in_threadpool(_in_session(svc, lambda db: _load_key(db, kid)))
    return {kid: _KEYS[kid]} if kid in _KEYS else {}


async def _unless_revoked(svc: Services, sig: codes.SignatureCheck, kid: str) -> codes.SignatureCheck:
    """A good signature by a key revoked on chain (as indexed) no longer vouches for the code. A
    revocation the chain holds is in the past by the chain's own account: the block time is not
    compared with this machine's clock (which may be behind the chain's)."""
    digest = _DIGESTS.get(kid) or _DIGESTS.setdefault(kid, "0x" + codes.key_hash(_KEYS[kid]).hex())
    revoked = await svc.scan_cache.aget(
        ("revoked", digest), _in_session(svc, lambda db: scan_facts.key_revocation(db, digest))
    )
    if revoked is None:
        return sig
    args = {"kid": kid, "at": revoked["at"].isoformat(), "why": revoked["reason"]}
    return SignatureCheck(
        False, "revoked_key", args, f"signed with key {kid}, revoked on chain at {args['at']}: {args['why']}"
    )


@functools.lru_cache(maxsize=65_536)
def _signature_check(uri: str, kid: str | None, key_known: bool) -> codes.SignatureCheck:
    """Ed25519 verification is the dearest step of a scan; its answer for one URI under one key
    (a key id is the hash of its key) never changes, so codes scanned again are not verified again."""
    return codes.check_signature(uri, {kid: _KEYS[kid]} if key_known else {})


class IssueRef(NamedTuple):
    """What scans need of a code issue; an issue never changes once anchored."""

    id: int
    root: str
    merchant: str
    kid: str
    anchor_tx: str
    block_number: int


def _issue(db: DbSession, issue_id: int) -> IssueRef | None:
    row = db.get(CodeIssue, issue_id)  # not anchored (yet): its codes are not genuine
    ok = row is not None and row.anchor_tx is not None
    return IssueRef(row.id, row.root, row.merchant, row.kid, row.anchor_tx, row.block_number) if ok else None


class CodeRef(NamedTuple):
    id: int
    issue_id: int
    leaf_index: int


@functools.lru_cache(maxsize=4096)
def _client_hashes(deployment_salt: str, host: str) -> tuple[str, str]:
    salt = deployment_salt.encode()  # stable per deployment; no raw address is stored
    try:
        ip = ipaddress.ip_address(host)
        net = ipaddress.ip_network(f"{host}/{24 if ip.version == 4 else 48}", strict=False)
    except ValueError:
        net = host
    h = lambda v: hmac.new(salt, str(v).encode(), hashlib.sha256).hexdigest()[:16]  # noqa: E731
    return h(host), h(net)


def _scan_history(
    rows: Sequence[tuple], pending: list[dict[str, Any]], now: datetime
) -> tuple[dict[str, Any], set[str]]:
    """How often and when the code was scanned before (written and still pending), and the
    networks it was scanned from in the last day."""
    day_ago = now - timedelta(days=1)
    count, times, networks = 0, [], set()
    for *_, network, n, first, last in rows:
        if network is None:
            continue
        count += n
        times += [as_utc(first), as_utc(last)]
        if as_utc(last) >= day_ago:
            networks.add(network)
    for p in pending:  # recorded, not yet written
        count += 1
        times.append(p["at"])
        if p["at"] >= day_ago:
            networks.add(p["network"])
    history = {
        "count": count,
        "first_at": min(times).isoformat() if times else None,
        "last_at": max(times).isoformat() if times else None,
    }
    return history, networks


def review_token(svc: Services, client_host: str, gtin: str, lot: str, serial: str, ago: int = 0) -> str:
    """What the scan page's own links (its language switch) carry so that the same client looking
    again at the same code within 10-20 minutes is not counted as another scan (switching language
    twice once took a code 3 scans nearer 'suspicious'). Bound to the client's address and the
    time, so it cannot be printed into a copied code's QR for the shoppers who will scan it."""
    bucket = int(time.time() // REVIEW_S) - ago
    return _client_hashes(svc.settings.siwe_domain, f"{client_host}|{gtin}|{lot}|{serial}|{bucket}")[0][:12]


REVIEW_S = 600


async def resolve(svc: Services, uri: str, client_host: str, record: bool = True) -> dict[str, Any]:
    """The verdict and facts for a scanned URI; records the scan (unless not `record`: the same
    client looking again through the page's own links, `review_token`).

    Runs on the event loop: the one query every scan needs (the code and its scan history, an
    indexed lookup) is made here; whatever takes longer (a batch's facts, the issue's Merkle tree,
    the merchant's deposit from the chain) comes from caches loaded in worker threads."""
    link = digital_link.parse(uri)
    rows, pending = await _written_and_pending(svc, link)
    code = CodeRef(*rows[0][:3]) if rows else None
    issue = None
    if code is not None:
        issue = await svc.issues.aget(code.issue_id, _in_session(svc, lambda db: _issue(db, code.issue_id)))
    kid, failed = link.params.get("k"), None
    if short_codes.is_short(link):  # checked by the signed URI stored at issue (ledger.trace.short_codes)
        signed, failed = short_codes.expand(link, rows[0][3] if rows else None)
        uri, kid = (signed, digital_link.parse(signed).params.get("k")) if signed else (uri, None)
    sig = failed or _signature_check(uri, kid, bool(await _keys(svc, kid)))
    now = utcnow()
    if sig.ok:
        sig = await _unless_revoked(svc, sig, kid)
    result: dict[str, Any] = {
        "code": {"gtin": link.gtin, "lot": link.lot, "serial": link.serial},
        "signature": {"ok": sig.ok, "reason": sig.reason},
    }
    history, networks = (
        _scan_history(rows, pending, now) if code else ({"count": 0, "first_at": None, "last_at": None}, set())
    )
    result["scans_before"] = history

    if sig.ok and code is not None and issue is not None:
        result.update(await _facts(svc, link, code, issue))
    verdict, why = scan_answer.verdict(sig, result.get("batch"), history["count"], len(networks))
    client, network = _client_hashes(svc.settings.siwe_domain, client_host)
    await (svc.scans.durably if record else _not_recorded)(
        {
            "gtin": link.gtin,
            "lot": link.lot,
            "serial": link.serial,
            # only a scan whose signature checks is a scan of the code: 21 with any signature, from anyone
            # who knows its numbers, made a genuine code's next scan "suspicious" (an outside probe)
            "code_id": code.id if code and sig.ok else None,
            "at": now,
            "client": client,
            "network": network,
            "verdict": verdict,
        }
    )
    return scan_answer.finish(result, verdict, why)


async def _written_and_pending(svc: Services, link: Any) -> tuple[Sequence[tuple], list[dict[str, Any]]]:
    """The code with its written scan history, and its scans recorded but not yet written, read as
    of one moment: a batch committed in between would count twice (or not at all)."""
    while True:
        since = svc.scans.generation
        rows = svc.lookup.fetchall({"gtin": link.gtin, "lot": link.lot, "serial": link.serial})
        if not rows:
            return rows, []
        pending = svc.scans.pending_for(rows[0][0])
        if svc.scans.saw_whole(rows[0][0], since):
            return rows, pending
        # a batch with scans of this code was being committed: read again once it is. (Every read waited
        # for any batch, re-reading each millisecond: with the reads it needs, 22 % of a worker's samples, py-spy)
        await svc.scans.settled()


async def _not_recorded(scan: dict[str, Any]) -> None:
    return None


def _in_session(svc: Services, read: Callable[[DbSession], Any]) -> Callable[[], Any]:
    """A loader for a cache: `read` in a session of its own (it runs in a worker thread)."""

    def load() -> Any:
        with svc.sessions() as db:
            return read(db)

    return load


async def _facts(svc: Services, link: digital_link.ItemLink, code: CodeRef, issue: IssueRef) -> dict[str, Any]:
    cache, gtin, lot = svc.scan_cache, link.gtin, link.lot
    shared = await cache.aget(("batch", gtin, lot), _in_session(svc, lambda db: scan_facts.batch_facts(db, gtin, lot)))
    batch_id, recall_reason, timeline = shared["batch_id"], shared["recall_reason"], shared["timeline"]
    tree = scan_facts.TREES.peek(issue.root) or await run_in_threadpool(
        _in_session(svc, lambda db: scan_facts.issue_tree(db, issue))
    )
    own = []
    if await cache.aget(("item events", gtin), _in_session(svc, lambda db: scan_facts.has_item_events(db, gtin))):
        item = f"https://id.gs1.org/01/{gtin}/21/{web_escape(link.serial)}"
        about = select(EpcisEpc.event_id).where(EpcisEpc.uri == item)
        own = await run_in_threadpool(
            _in_session(svc, lambda db: scan_facts.epcis_rows(db, about, recorders=authorised(db, gtin)))
        )
    seen = {e["hash_id"] for e in shared["supply_chain"]}
    supply_chain = sorted(
        shared["supply_chain"] + [e for e in own if e["hash_id"] not in seen], key=lambda e: e["event_time"]
    )
    account, unavailable = None, None
    read = lambda: scan_answer.deposit_account(svc.chain.deployment, issue.merchant, svc.settings.rpc_url)  # noqa: E731
    try:
        account = await cache.aget(("deposit", issue.merchant), read)
    except NodeUnavailable as exc:
        unavailable = str(exc)
    named = await cache.aget(
        ("merchant name", issue.merchant), _in_session(svc, lambda db: member_name(db, issue.merchant))
    )
    return {
        "product": {"gtin": link.gtin, "name": shared["product_name"]},
        # the issuer still owns the product (a GS1 company prefix's holder may have taken it back)
        "batch": {"lot": link.lot, "batch_id": batch_id, "recalled": recall_reason is not None}
        | {"issuer_owns": shared["product_owner"] in (None, issue.merchant)}
        | {"recall_reason": recall_reason, "reviews": shared["reviews"]},
        "merchant": scan_answer.merchant_part(issue.merchant, account, unavailable) | {"registered": named},
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
