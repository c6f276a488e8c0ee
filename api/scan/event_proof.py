"""The page behind the scan page's "on-chain proof" link: one supply-chain event, checked against
the chain while the shopper waits, in words (Chinese or English), with the proof as data beside it.

`GET /scan/events/{event hash}` (public, rate limited): the record as stored hashed again (its CBV
2.0 hash ID), then what `ledger verify-events` checks, read from the chain node and not from this
service's database (`ledger.trace.epcis.verify.check_event`): its recorder may record about the
product, and its Merkle path leads to a root the chain says was anchored by the transaction named,
or its entry is in its batch's hash chain. A shopper who trusts no platform runs the same command
against a node of their own; the JSON (`/v1/epcis/proofs/{event hash}`) is what it reads.
"""

from __future__ import annotations

import re

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import HTMLResponse
from markupsafe import Markup
from sqlalchemy import select
from sqlalchemy.orm import Session as DbSession
from web3.exceptions import Web3Exception

from ledger.clock import utcnow
from ledger.errors import LedgerError
from ledger.i18n import beijing, catalog
from ledger.store.models import EpcisEvent
from ledger.trace import scan_facts
from ledger.trace.epcis import proofs
from ledger.trace.epcis.hashid import UnhashableEvent, document_digests, hash_id_of
from ledger.trace.epcis.query import as_captured, query_document
from ledger.trace.epcis.verify import check_event

from ..console import scan_page as pages
from ..core.errors import invalid, not_found
from ..core.services import get_db, rate_limited, services
from ..core.small_page import small_page
from .routes import PAGE_CSP, PAGE_STYLE

router = APIRouter(tags=["public"])
TEMPLATE = pages.ENV.get_template("event_proof.html")
PATH = "/scan/events/{event_hash}"  # (ledger.trace.scan_facts.anchor_of links each event here)
HASH = re.compile(r"[0-9a-f]{64}")


@router.get(
    PATH,
    summary="Public page: one supply-chain event checked against the chain now, in words",
    response_class=HTMLResponse,
    dependencies=[Depends(rate_limited)],
)
def event_proof_page(
    request: Request,
    event_hash: str = Path(max_length=200, description="the 64 lowercase hex digits of the event's hash ID"),
    lang: str | None = Query(None, max_length=20, description="zh or en"),
    db: DbSession = Depends(get_db),
) -> HTMLResponse:
    browser = "text/html" in request.headers.get("accept", "")
    if lang not in (None, "zh", "en"):
        if not browser:
            raise invalid("query.lang", "zh or en")
        lang = None  # a person's browser gets the page in the language it asks for
    language = pages.language(lang, request.headers.get("accept-language"))
    if not HASH.fullmatch(event_hash):  # a link cut short or mistyped: to a person, a page that says so
        if browser:
            return _missing(language)
        raise invalid("path.event_hash", "the 64 lowercase hex digits of the event's hash ID")
    row = db.scalar(select(EpcisEvent).where(EpcisEvent.hash_id == hash_id_of(event_hash)))
    if row is None:  # a browser gets a page in its language, not the API's JSON (phone trial)
        if browser:
            return _missing(language)
        raise not_found(f"event {event_hash}")
    checks = [_record_check(row, event_hash)]
    try:
        proof = proofs.proof_of(db, row)
    except ValueError:  # the stored leaves no longer make the anchored root: the database was changed
        proof = {"hashId": row.hash_id, "status": "broken"}
        checks.append({"ok": False, "key": "tree_broken", "args": {}})
    if checks[-1]["ok"]:
        try:
            c = check_event(services(request).chain.deployment(), "chain", as_captured(row), event_hash, proof)
            checks.append({"ok": c.ok, "key": c.key, "args": c.args})
        except (Web3Exception, LedgerError, OSError, ValueError) as exc:  # the node down, a revert: not a pass
            checks.append({"ok": False, "key": "node_error", "args": {"why": type(exc).__name__}})
    html = render(db, row, proof, checks, language, event_hash)
    return HTMLResponse(html, headers={"Content-Security-Policy": PAGE_CSP.decode(), "Cache-Control": "no-store"})


def _missing(lang: str) -> HTMLResponse:
    t = catalog("scan", lang)
    body = Markup('<p id="not-found">{}</p>').format(t["ep_not_found"])
    return small_page(lang, t["ep_title"], body, PAGE_CSP.decode(), Markup("<style>{}</style>").format(PAGE_STYLE))


def _record_check(row: EpcisEvent, event_hash: str) -> dict:
    """The stored record, as the query interface hands it out, hashes to the hash ID on chain."""
    try:
        (digest,) = document_digests(query_document([row], utcnow()))
    except (UnhashableEvent, ValueError):
        digest = None
    return {"ok": digest == event_hash, "key": "record_hashes" if digest == event_hash else "record_differs",
            "args": {"hash": event_hash[:16]}}  # fmt: skip


def render(db: DbSession, row: EpcisEvent, proof: dict, checks: list[dict], lang: str, event_hash: str) -> str:
    t, details = catalog("scan", lang), catalog("console", lang)
    (ev,) = scan_facts.epcis_rows(db, [row.id])
    step = ev["biz_step"] or ev["type"]
    said = []
    for c in checks:
        text = t.get("ep_" + c["key"]) or details.get("detail:" + c["key"], c["key"])
        args = dict(c["args"])
        if "status" in args:  # the proof's state in words, not its code ("尚未锚定（pending）"; phone trial)
            args["status"] = t.get(f"ep_status:{args['status']}", args["status"])
        if args.get("index", "").isdigit():  # counted from 1, as a person counts (and as the data below)
            args["index"] = str(int(args["index"]) + 1)
        said.append({"ok": c["ok"], "key": c["key"], "text": text.format_map(args)})
    failed = {c["key"] for c in checks if not c["ok"]}
    if failed - {"not_anchored", "node_error"}:
        state = "fails"
    else:
        state = "unchecked" if failed == {"node_error"} else "pending" if failed else "holds"
    return TEMPLATE.render(
        t=t,
        lang=lang,
        style=Markup(pages.STYLE),  # noqa: S704 (a constant, hashed in the CSP)
        switch="?lang=" + ("en" if lang == "zh" else "zh"),
        state=state,
        colour={"holds": "genuine", "pending": "unknown", "unchecked": "unknown", "fails": "forged"}[state],
        event=ev | {"label": pages.step_label(step, t), "when": beijing(ev["event_time"], lang)},
        proof=proof,
        means=proof.get("method") or ("pending" if proof["status"] == "pending" else "broken"),
        checks=said,
        json_url=f"/v1/epcis/proofs/{event_hash}",
    )
