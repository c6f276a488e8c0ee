"""Reconciliation runs: auditors and operators read them (runs with their verdicts, balances and
breaks, a break's history, what was open at a moment; CSV and an HTML report in Chinese or
English); only auditors start one: the operator is the party audited, and a run resolves breaks.
One run at a time: a start while another runs is a 409. See `ledger.money.recon.runs`."""

from __future__ import annotations

import threading
from datetime import datetime
from typing import Literal

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import HTMLResponse, Response
from pydantic import BaseModel, Field
from sqlalchemy import select
from sqlalchemy.orm import Session as DbSession

from ledger.access.roles import Role
from ledger.clock import to_utc
from ledger.money.recon import pages as report_pages
from ledger.money.recon import report as recon_report
from ledger.money.recon import runs as recon_runs
from ledger.money.recon import signoff as recon_signoff
from ledger.money.recon.inputs import chain_records, orders_from_db
from ledger.money.recon.reconcile import reconcile
from ledger.store.models import ReconBreak, ReconRun

from ..access.auth import Member, require
from ..access.deps import deployment_of
from ..core.errors import ApiError, not_found
from ..core.services import get_db, services

router = APIRouter(prefix="/v1/audit/reconciliation", tags=["reconciliation"])
READERS = require(Role.AUDITOR, Role.OPERATOR)
RunId = Path(ge=1, le=2**31)
_RUNNING = threading.Lock()


class RunIn(BaseModel):
    cut_off_block: int | None = Field(None, ge=0, le=2**63 - 1, description="default: as far as the indexer has read")


def _run(db: DbSession, run_id: int) -> ReconRun:
    r = db.get(ReconRun, run_id)
    if r is None:
        raise not_found(f"reconciliation run {run_id}")
    return r


@router.post(
    "/runs", status_code=201, summary="Reconcile the orders table against the chain up to a cut-off block (auditors)"
)
def start_run(
    body: RunIn, request: Request, member: Member = Depends(require(Role.AUDITOR)), db: DbSession = Depends(get_db)
) -> dict:
    confirmations = services(request).settings.indexer_confirmations
    if not _RUNNING.acquire(blocking=False):  # across workers, the run's unique place in the chain decides
        raise ApiError(409, "conflict", "a reconciliation run is in progress; start the next when it has finished")
    try:
        r = recon_runs.run(
            services(request).engine, deployment_of(request), cut_off=body.cut_off_block, confirmations=confirmations
        )
    finally:
        _RUNNING.release()
    request.state.audit_detail = f"reconciliation run {r.id}: {r.verdict} at block {r.cut_off_block}"
    return recon_report.run_out(db, _run(db, r.id))


@router.get("/runs", summary="Runs, newest first")
def list_runs(
    limit: int = Query(50, ge=1, le=500), member: Member = Depends(READERS), db: DbSession = Depends(get_db)
) -> list[dict]:
    return [recon_report.run_out(db, r) for r in db.scalars(select(ReconRun).order_by(ReconRun.id.desc()).limit(limit))]


@router.get("/runs/{run_id}", summary="One run: verdict, reasons, balances, totals, pending")
def get_run(run_id: int = RunId, member: Member = Depends(READERS), db: DbSession = Depends(get_db)) -> dict:
    return recon_report.run_out(db, _run(db, run_id))


class SignOffIn(BaseModel):
    note: str = Field("", max_length=500, description="what the auditor says of the run, signed with it")
    signature: str = Field(pattern=r"^0x[0-9a-fA-F]{130}$", description="the auditor's EIP-712 signature, 65 bytes hex")


@router.get("/runs/{run_id}/signoff", summary="What an auditor signs (EIP-712) to sign a run off, with its own key")
def signoff_to_sign(
    request: Request,
    run_id: int = RunId,
    note: str = Query("", max_length=500),
    member: Member = Depends(require(Role.AUDITOR)),
    db: DbSession = Depends(get_db),
) -> dict:
    run = recon_signoff.signable(_run(db, run_id))  # an incomplete run: 409
    return recon_signoff.typed_data(run, deployment_of(request).w3.eth.chain_id, note)


@router.post("/runs/{run_id}/signoff", status_code=201, summary="Sign a run off (auditors; once per run)")
def sign_off(
    body: SignOffIn,
    request: Request,
    run_id: int = RunId,
    member: Member = Depends(require(Role.AUDITOR)),
    db: DbSession = Depends(get_db),
) -> dict:
    """The signature must be the signed-in auditor's own (403 otherwise); a signed or incomplete run is a 409."""
    run = _run(db, run_id)
    chain_id = deployment_of(request).w3.eth.chain_id
    recon_signoff.sign_off(db, run, chain_id, member.address, body.note, body.signature)
    request.state.audit_detail = f"reconciliation run {run_id} signed off by {member.address}"
    return recon_report.run_out(db, run)


@router.get("/runs/{run_id}/breaks", summary="The breaks a run saw or resolved, filtered")
def run_breaks(
    run_id: int = RunId,
    cls: str | None = Query(None, alias="class", max_length=40),
    priority: int | None = Query(None, ge=1, le=4),
    status: Literal["new", "persisting", "resolved"] | None = None,
    format: Literal["json", "csv"] = "json",
    member: Member = Depends(READERS),
    db: DbSession = Depends(get_db),
) -> object:
    rows = recon_report.breaks_of_run(db, _run(db, run_id).id, cls, priority, status)
    if format == "csv":
        return Response(recon_report.breaks_csv(rows), media_type="text/csv")
    return [recon_report.break_out(b) for b in rows]


@router.get("/runs/{run_id}/report", response_class=HTMLResponse, summary="The run as an HTML report")
def run_report(
    run_id: int = RunId,
    lang: Literal["en", "zh"] = "en",
    member: Member = Depends(READERS),
    db: DbSession = Depends(get_db),
) -> HTMLResponse:
    return HTMLResponse(report_pages.run_page(db, _run(db, run_id), lang))


@router.get("/breaks", summary="Breaks open at a moment (default: now), with their status today")
def breaks_open_at(
    open_at: datetime | None = Query(None, description="ISO 8601 with a zone"),
    member: Member = Depends(READERS),
    db: DbSession = Depends(get_db),
) -> list[dict]:
    at = to_utc(open_at) if open_at else None
    rows = recon_report.open_at(db, at) if at else db.scalars(select(ReconBreak).where(ReconBreak.status != "resolved"))
    return [recon_report.break_out(b) for b in rows]


@router.get("/breaks/{break_id}", summary="One break and its history, run by run")
def get_break(
    break_id: str = Path(pattern=r"^[0-9a-f]{24}$"), member: Member = Depends(READERS), db: DbSession = Depends(get_db)
) -> dict:
    b = db.get(ReconBreak, break_id)
    if b is None:
        raise not_found(f"break {break_id}")
    return {**recon_report.break_out(b), "history": recon_report.history(db, break_id)}


@router.get(
    "",
    summary="Orders matched against on-chain settlement (auditors, platform)",
    responses={200: {"content": {"application/json": {}, "text/csv": {}, "text/html": {}}}},
)
def orders_against_chain(
    request: Request,
    format: str = Query("json", pattern=r"^(json|csv|html)$"),
    lang: Literal["en", "zh"] = "en",
    _: Member = Depends(require(Role.AUDITOR, Role.OPERATOR)),
) -> Response:
    """Every order and every on-chain escrow classified (matched, missing on chain, unknown on chain,
    amount/merchant/status mismatch, duplicate, pending), with totals in fen per class and per
    merchant. Reads the orders table and the indexed chain events (`ledger index`)."""
    engine = services(request).engine
    report = reconcile(orders_from_db(engine), chain_records(engine))
    if format == "csv":
        return Response(
            report.to_csv(),
            media_type="text/csv",
            headers={"Content-Disposition": "attachment; filename=reconciliation.csv"},
        )
    if format == "html":
        return HTMLResponse(report_pages.orders_page(report, lang))
    return Response(report.to_json(), media_type="application/json")
