"""Earlier code issues, newest first: a merchant's own (auditors and operators read all), by batch,
so the console can print an issue's labels PDF and CSV again (the same codes, not a new issue)."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Query
from sqlalchemy import select
from sqlalchemy.orm import Session as DbSession

from ledger.access.roles import Role
from ledger.store.models import CodeIssue

from ..access.auth import READ_ALL, Member, require
from ..core.services import get_db
from .codes import IssueOut, _issue_out
from .products import LOT_PATTERN

router = APIRouter(prefix="/v1", tags=["codes"])


@router.get(
    "/code-issues",
    response_model=list[IssueOut],
    summary="Earlier code issues, newest first (a merchant's own), by batch; paged back with before_id",
)
def list_issues(
    gtin: str | None = Query(None, pattern=r"^\d{14}$"),
    lot: str | None = Query(None, pattern=LOT_PATTERN),
    before_id: int | None = Query(None, ge=1, le=2**31, description="page back: the last issue id shown"),
    limit: int = Query(50, ge=1, le=200),
    member: Member = Depends(require(Role.MERCHANT, *READ_ALL)),
    db: DbSession = Depends(get_db),
) -> list[dict]:
    q = select(CodeIssue)
    if not member.has(READ_ALL):
        q = q.where(CodeIssue.merchant == member.address)
    if gtin is not None:
        q = q.where(CodeIssue.gtin == gtin)
    if lot is not None:
        q = q.where(CodeIssue.lot == lot)
    if before_id is not None:
        q = q.where(CodeIssue.id < before_id)
    return [_issue_out(i) for i in db.scalars(q.order_by(CodeIssue.id.desc()).limit(limit))]
