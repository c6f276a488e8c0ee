"""A shopper reports a suspected counterfeit from the scan page (a plain HTML form: the page runs no
script) or as JSON; the product's merchant, the regulator (inspectors), auditors and operators read
the reports, newest first, paged back by the last id shown.

Anonymous and public, so bounded: the body is capped by the domain's path policy (8 KiB), every field
has a length and a character set, the sender's address is rate-limited like every public endpoint,
a code takes at most `PER_CODE_PER_DAY` reports a day and a client (as the rate limit counts one: an
IPv4 address or an IPv6 /64) sends at most `PER_CLIENT_PER_DAY` (then 429 with Retry-After: codes
need not exist, counterfeits carry made-up ones, so the per-code count alone let one address store
reports without end by varying the serial); a product nobody registered here is reported too (a
counterfeit may carry a made-up GTIN: inspectors and auditors read those; the scan page offers the
form on every forged code); a bad field is a 422 naming it (an HTML page in the
form's language for a form, JSON otherwise); nothing is half-written.

The client is stored only as a keyed hash of its rate-limit identity (as scans store theirs), the
same in every process, so the daily count holds across the API's processes."""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import json
import math
import re
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, quote

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse
from markupsafe import escape
from sqlalchemy import func, select
from sqlalchemy.orm import Session as DbSession
from starlette.concurrency import run_in_threadpool

from ledger.access.roles import Role
from ledger.clock import as_utc, utcnow
from ledger.i18n import catalog
from ledger.store.models import Product
from ledger.store.report_tables import CounterfeitReport

from ..access.auth import READ_ALL, Member, require
from ..core.errors import ApiError
from ..core.limits import client_key
from ..core.services import get_db, rate_limited, services
from .routes import PAGE_CSP, PAGE_STYLE

router = APIRouter(tags=["public"])
PATH = "/v1/scan/reports"
PER_CODE_PER_DAY = 20
PER_CLIENT_PER_DAY = 20  # a module constant: ledger/config.py is at the 300-line limit
_FIELDS = {  # name => (pattern, required)
    "gtin": (re.compile(r"\d{14}"), True),
    "lot": (re.compile(r"[!-~]{1,20}"), True),
    "serial": (re.compile(r"[!-~]{1,20}"), True),
    # no lone UTF-16 surrogates (JSON's "\ud800" alone): no character, and a 500 when stored (outside probe)
    "message": (re.compile(r"[^\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff]{1,1000}", re.S), True),
    "contact": (re.compile(r"[^\x00-\x1f\ud800-\udfff]{0,100}"), False),
    "place": (re.compile(r"[^\x00-\x1f\ud800-\udfff]{0,100}"), False),
    "lang": (re.compile(r"zh|en"), False),
    "code_query": (re.compile(r"[A-Za-z0-9_.~%=&-]{0,600}"), False),  # the scan page's query, for the way back
}


def _fields(raw: bytes, content_type: str) -> tuple[dict[str, str], bool]:
    """The report's fields and whether it came from the page's form; a 422 for anything else."""
    form = content_type.startswith("application/x-www-form-urlencoded")
    try:
        if form:
            parsed = parse_qs(raw.decode("utf-8"), keep_blank_values=True, max_num_fields=20)
            data: Any = {k: v[0] for k, v in parsed.items()}
        else:
            data = json.loads(raw)
    except (UnicodeDecodeError, ValueError, RecursionError):  # RecursionError: JSON nested thousands deep
        raise ApiError(422, "invalid_input", [{"field": "body", "reason": "not a form or a JSON object"}]) from None
    if not isinstance(data, dict):
        raise ApiError(422, "invalid_input", [{"field": "body", "reason": "not a JSON object"}])
    out, problems = {}, []
    for name, (pattern, required) in _FIELDS.items():
        value = data.get(name, "")
        value = value.strip() if isinstance(value, str) else None
        if value == "" and not required:
            continue
        if not value or not pattern.fullmatch(value):
            problems.append({"field": name, "reason": "missing" if value == "" else "not valid"})
        else:
            out[name] = value
    if problems:
        raise ApiError(422, "invalid_input", problems)
    return out, form


@router.post(PATH, status_code=201, dependencies=[Depends(rate_limited)], summary="Report a suspected counterfeit")
async def report(request: Request, db: DbSession = Depends(get_db)) -> Any:
    raw = await request.body()
    return await run_in_threadpool(_report, request, db, raw)  # the database's work off the event loop


def _report(request: Request, db: DbSession, raw: bytes) -> Any:
    lang = "en" if re.search(rb'lang=en|"lang":\s*"en"', raw[:8192]) else "zh"  # for an error page, before parsing
    locks = services(request).locks
    # the day's counts read and the report written as one step: 100 reports at once from one
    # client stored 21 against its 20 a day (outside probe)
    with locks.exclusive("scan-reports") if locks is not None else contextlib.nullcontext():
        return _counted(request, db, raw, lang)


def _counted(request: Request, db: DbSession, raw: bytes, lang: str) -> Any:
    try:
        f, form = _fields(raw, request.headers.get("content-type", ""))
        lang = f.get("lang") or lang
        since = utcnow() - timedelta(days=1)
        same = select(func.count()).where(
            CounterfeitReport.gtin == f["gtin"], CounterfeitReport.serial == f["serial"], CounterfeitReport.at >= since
        )
        if db.scalar(same) >= PER_CODE_PER_DAY:
            raise ApiError(429, "rate_limited", f"this code has {PER_CODE_PER_DAY} reports today; try tomorrow")
        client = _client_hash(services(request).settings.siwe_domain, request.client.host if request.client else "")
        _within_clients_day(db, client, since)
    except ApiError as exc:
        if "application/x-www-form-urlencoded" in request.headers.get("content-type", ""):
            fields = [p["field"] for p in exc.detail if isinstance(p, dict)] if isinstance(exc.detail, list) else []
            return _page(lang, exc.status, None, exc.headers, fields, _back(raw, lang, "#report"))
        raise
    row = CounterfeitReport(
        gtin=f["gtin"], lot=f["lot"], serial=f["serial"], message=f["message"], contact=f.get("contact", ""),
        place=f.get("place", ""), lang=lang, client=client, at=utcnow(),
    )  # fmt: skip
    db.add(row)
    db.commit()
    request.state.audit_detail = f"counterfeit report {row.id} on {f['gtin']}/{f['lot']}/{f['serial']}"
    if form:
        return _page(lang, 201, row.id, back=_back(raw, lang))
    return JSONResponse({"id": row.id, "received_at": as_utc(row.at).isoformat()}, status_code=201)


def _back(raw: bytes, lang: str, anchor: str = "") -> str | None:
    """The product page the form was sent from, when its code's fields are sound: a refused report
    offered only the browser's back button (phone trial), now a link back to the form."""
    with contextlib.suppress(UnicodeDecodeError, ValueError):
        got = {k: v[0].strip() for k, v in parse_qs(raw.decode("utf-8"), max_num_fields=20).items()}
        if all(_FIELDS[k][0].fullmatch(got.get(k, "")) for k in ("gtin", "lot", "serial")):
            lot, serial = (quote(got[k], safe="") for k in ("lot", "serial"))
            query = got.get("code_query", "")
            query = query + "&" if _FIELDS["code_query"][0].fullmatch(query) and query else ""
            return f"/01/{got['gtin']}/10/{lot}/21/{serial}?{query}lang={lang}{anchor}"
    return None


def _client_hash(deployment_salt: str, host: str) -> str:
    """The client as the public rate limit counts it, keyed-hashed: stable per deployment (the
    scan's `_client_hashes` key), so every process counts alike; no address is stored."""
    who = client_key(host or "unknown")
    return hmac.new(deployment_salt.encode(), who.encode(), hashlib.sha256).hexdigest()[:16]


def _within_clients_day(db: DbSession, client: str, since: datetime) -> None:
    """A 429 with Retry-After (until its oldest report of the day is a day old) once the client
    has sent `PER_CLIENT_PER_DAY` reports in the last day."""
    n, oldest = db.execute(
        select(func.count(), func.min(CounterfeitReport.at)).where(
            CounterfeitReport.client == client, CounterfeitReport.at >= since
        )
    ).one()
    if n >= PER_CLIENT_PER_DAY:
        retry = max(1, math.ceil((as_utc(oldest) - since).total_seconds()))
        detail = f"{PER_CLIENT_PER_DAY} reports from this address today; retry after {retry} s"
        raise ApiError(429, "rate_limited", detail, {"Retry-After": str(retry)})


#: a refused field as the form names it (the code's own fields are hidden: the product code)
_LABELS = {"message": "report_message", "place": "report_place", "contact": "report_contact"}


def _page(
    lang: str,
    status: int,
    report_id: int | None,
    headers: dict[str, str] | None = None,
    fields: list[str] = (),
    back: str | None = None,
) -> HTMLResponse:
    """What the shopper sees after sending the form: thanks with the report's number, or why not,
    naming the fields to check (a page that said only "check what you wrote" left them guessing)."""
    t = catalog("scan", lang)
    said = t["report_thanks"].format(id=report_id) if report_id else t.get(f"report_error_{status}", t["report_error"])
    named = dict.fromkeys(t[_LABELS[f]] if f in _LABELS else t["report_code_field"] for f in fields)
    if named:
        said += t["report_check"].format(fields=t["list_sep"].join(named))
    html = (
        f'<!doctype html><html lang="{"zh-CN" if lang == "zh" else "en"}"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{escape(t['report_title'])}</title><style>{PAGE_STYLE}</style></head><body><main>"
        f"<h1>{escape(t['report_title'])}</h1>"
        f'<p id="report-result" data-status="{status}">{escape(said)}</p>'
        + (f'<p><a id="report-back" href="{escape(back)}">{escape(t["report_back"])}</a></p>' if back else "")
        + f"<p>{escape(t['report_next'])}</p></main></body></html>"
    )  # styled as the scan page it came from (its policy: that one style block, no script)
    return HTMLResponse(
        html, status_code=status, headers={"Content-Security-Policy": PAGE_CSP.decode(), **(headers or {})}
    )


@router.get(PATH, summary="Reports of suspected counterfeits: a merchant its products', inspectors and readers all")
def list_reports(
    before_id: int | None = Query(None, ge=1, le=2**63 - 1, description="page back: the last id shown"),
    limit: int = Query(50, ge=1, le=200),
    member: Member = Depends(require(Role.MERCHANT, Role.INSPECTOR, *READ_ALL)),
    db: DbSession = Depends(get_db),
) -> list[dict]:
    q = select(CounterfeitReport)
    if before_id:
        q = q.where(CounterfeitReport.id < before_id)
    if not member.has(READ_ALL | Role.INSPECTOR):
        q = q.where(CounterfeitReport.gtin.in_(select(Product.gtin).where(Product.merchant == member.address)))
    rows = db.scalars(q.order_by(CounterfeitReport.id.desc()).limit(limit))
    return [
        {"id": r.id, "gtin": r.gtin, "lot": r.lot, "serial": r.serial, "message": r.message, "contact": r.contact,
         "place": r.place, "lang": r.lang, "at": as_utc(r.at).isoformat()}
        for r in rows
    ]  # fmt: skip
