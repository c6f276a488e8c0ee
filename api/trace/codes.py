"""Serialized QR codes for a batch: issue (signed GS1 Digital Link URIs, their Merkle root
anchored on chain), then render any code as PNG or SVG, an issue as a PDF label sheet or CSV.

Only the batch's merchant issues and renders its codes (anyone else: 404); auditors may list.
Issuing 100,000 codes renders nothing: images are drawn when asked for.
"""

from __future__ import annotations

import re
from datetime import datetime
from urllib.parse import quote

from fastapi import APIRouter, Depends, Path, Query, Request, Response
from pydantic import BaseModel, Field, StrictBool, StrictInt
from sqlalchemy import insert, select
from sqlalchemy.orm import Session as DbSession

from ledger.access.roles import Role
from ledger.chain.client import TransactionFailed
from ledger.clock import as_utc, utcnow
from ledger.store.models import Batch, Code, CodeIssue
from ledger.trace import code_anchors, codes, short_codes

from ..access.auth import READ_ALL, Member, require, visible
from ..core import segments  # noqa: F401  registers the `{name:gs1}` path convertor its routes use
from ..core.errors import ApiError, invalid, not_found
from ..core.self_signing import MODE
from ..core.services import get_db, services
from .products import LOT_PATTERN, visible_product

router = APIRouter(prefix="/v1", tags=["codes"])
MAX_CODES = 100_000
MAX_LABELS = 480  # ~25 ms a label: one part renders in about ten seconds at most
GTIN_PATH = Path(pattern=r"^\d{14}$")
LOT_PATH = Path(pattern=LOT_PATTERN)


class IssueIn(BaseModel):
    count: StrictInt = Field(ge=1, le=MAX_CODES)
    short: StrictBool = Field(False, description="print short codes: QR version 5, not 9 (docs/codes-and-scans.md)")


class IssueOut(BaseModel):
    issue_id: int
    gtin: str
    lot: str
    count: int
    root: str
    kid: str
    public_key: str
    short: bool
    anchor_tx: str | None = Field(description="null while the root's transaction is not yet mined")
    block_number: int | None
    created_at: datetime
    csv_url: str
    labels_url: str
    sample: list[str] = []


def _issue_out(i: CodeIssue, sample: list[str] | None = None) -> dict:
    return {
        "issue_id": i.id,
        "gtin": i.gtin,
        "lot": i.lot,
        "count": i.count,
        "root": i.root,
        "kid": i.kid,
        "public_key": i.public_key,
        "short": bool(i.short),
        "anchor_tx": i.anchor_tx,
        "block_number": i.block_number,
        "created_at": as_utc(i.created_at),
        "csv_url": f"/v1/code-issues/{i.id}/codes.csv",
        "labels_url": f"/v1/code-issues/{i.id}/labels.pdf",
        "sample": sample or [],
    }


def _own_batch(db: DbSession, member: Member, gtin: str, lot: str) -> Batch:
    product = visible_product(db, member, gtin)
    batch = db.scalar(select(Batch).where(Batch.gtin == gtin, Batch.lot == lot))
    if batch is None or product.merchant != member.address:
        raise not_found(f"batch {gtin}/{lot}")
    return batch


def _visible_issue(db: DbSession, member: Member, issue_id: int) -> CodeIssue:
    return visible(member, db.get(CodeIssue, issue_id), f"code issue {issue_id}")


@router.post(
    "/batches/{gtin}/{lot:gs1}/codes",
    response_model=IssueOut,
    status_code=201,
    summary="Issue serialized, signed codes for a batch and anchor their commitment on chain",
)
def issue_codes(
    body: IssueIn,
    request: Request,
    gtin: str = GTIN_PATH,
    lot: str = LOT_PATH,
    member: Member = Depends(require(Role.MERCHANT)),
    db: DbSession = Depends(get_db),
) -> dict:
    _own_batch(db, member, gtin, lot)
    svc = services(request)
    if body.count > svc.settings.max_codes_per_issue:
        raise invalid("body.count", f"at most {svc.settings.max_codes_per_issue} codes per issue here")
    prov = svc.chain.deployment().contract("Provenance")
    signed = _issue_being_signed(db, prov, member, gtin, lot)
    if signed is not None:  # the member signed this issue's anchor: the codes drawn then, not new ones
        row, anchor_uri = signed
        uris = [u for _, u in _rows(db, row, 0, 3)]
    else:
        _within_pending_caps(db, svc.settings, member.address, body.count)
        iss = codes.issue(svc.code_signer, svc.settings.resolver_url, gtin, lot, body.count)
        row = CodeIssue(
            gtin=gtin,
            lot=lot,
            merchant=member.address,
            count=len(iss.serials),
            root="0x" + iss.tree().root.hex(),
            kid=iss.kid,
            public_key=iss.public_key,
            short=body.short,
            created_at=utcnow(),
        )
        db.add(row)
        db.flush()
        db.execute(
            insert(Code),
            [
                {"issue_id": row.id, "gtin": gtin, "lot": lot, "serial": s, "leaf_index": n, "uri": u}
                for n, (s, u) in enumerate(zip(iss.serials, iss.uris, strict=True))
            ],
        )
        db.commit()  # written ahead: a lost answer is completed or undone from the chain (code_anchors)
        try:  # again with this issue counted: requests made together cannot all pass the check before
            _within_pending_caps(db, svc.settings, member.address, 0)
        except ApiError:
            code_anchors.undo(db, row.id)
            raise
        anchor_uri, uris = iss.anchor_uri(), [short_codes.printed(u, row.short) for u in iss.uris[:3]]
    try:
        receipt = svc.signers.sender_for(member.address).transact(
            prov.functions.anchor(bytes.fromhex(row.root[2:]), row.count, anchor_uri)
        )
    except (TransactionFailed, ApiError):  # refused: nothing is kept (a Prepared anchor, which the member
        # signs itself, passes on: the issue waits for the signature, see code_anchors.catch_up)
        code_anchors.undo(db, row.id)
        raise
    row.anchor_tx = "0x" + bytes(receipt["transactionHash"]).hex()
    row.block_number = receipt["blockNumber"]
    db.commit()
    request.state.audit_detail = f"{row.count} codes for {gtin}/{lot}, root {row.root} tx {row.anchor_tx}"
    return _issue_out(row, uris)


def _within_pending_caps(db: DbSession, settings, merchant: str, more: int) -> None:
    issues, held, wait = code_anchors.pending(db, merchant)
    if issues + (1 if more else 0) > settings.max_pending_issues or held + more > settings.max_pending_codes:
        raise ApiError(
            429,
            "too_many_pending_issues",
            f"{issues} code issues ({held} codes) are waiting for their anchor; at most {settings.max_pending_issues} "
            f"issues and {settings.max_pending_codes} codes may wait: sign or let them lapse (PREPARED_TTL_S)",
            {"Retry-After": str(int(wait) + 1)},
        )


def _issue_being_signed(db: DbSession, prov, member: Member, gtin: str, lot: str) -> tuple[CodeIssue, str] | None:
    """When a member submits the anchor it signed for an issue (X-Ledger-Sign: self), the request
    runs again: the issue is the one drawn when the transaction was prepared, found by the root in
    that transaction, with the anchor URI it carries. None for any other request."""
    mode = MODE.get()
    if mode is None or mode.kind != "submit" or mode.sent:
        return None
    try:
        fn, args = prov.decode_function_input(mode.prepared["data"])
    except ValueError:
        return None
    if fn.fn_name != "anchor":
        return None
    row = db.scalar(
        select(CodeIssue).where(
            CodeIssue.root == "0x" + bytes(args["root"]).hex(), CodeIssue.merchant == member.address,
            CodeIssue.gtin == gtin, CodeIssue.lot == lot, CodeIssue.anchor_tx.is_(None),
        )
    )  # fmt: skip
    return (row, args["uri"]) if row is not None else None


@router.get("/code-issues/{issue_id}", response_model=IssueOut, summary="One code issue")
def get_issue(
    issue_id: int = Path(ge=1, le=2**31),
    member: Member = Depends(require(Role.MERCHANT, *READ_ALL)),
    db: DbSession = Depends(get_db),
) -> dict:
    return _issue_out(_visible_issue(db, member, issue_id))


def _rows(db: DbSession, issue: CodeIssue, offset: int = 0, limit: int | None = None) -> list[tuple[str, str]]:
    """(serial, URI as printed) of the issue's codes in leaf order."""
    q = select(Code.serial, Code.uri).where(Code.issue_id == issue.id, Code.leaf_index >= offset)
    if limit is not None:
        q = q.where(Code.leaf_index < offset + limit)
    return [(s, short_codes.printed(u, issue.short)) for s, u in db.execute(q.order_by(Code.leaf_index))]


def _attachment(filename: str) -> str:
    """A Content-Disposition naming `filename` safely: a lot may hold `"`, `/`, `;` or `%`, which
    would break the header or the saved file's name; RFC 6266's filename* keeps the original."""
    plain = re.sub(r"[^A-Za-z0-9._-]", "_", filename)
    return f"attachment; filename=\"{plain}\"; filename*=UTF-8''{quote(filename, safe='')}"


@router.get(
    "/code-issues/{issue_id}/codes.csv",
    summary="The issue's codes as CSV for label printers",
    response_class=Response,
    responses={200: {"content": {"text/csv": {}}}},
)
def issue_csv(
    issue_id: int = Path(ge=1, le=2**31),
    member: Member = Depends(require(Role.MERCHANT, *READ_ALL)),
    db: DbSession = Depends(get_db),
) -> Response:
    i = _visible_issue(db, member, issue_id)
    return Response(
        codes.render_csv(_rows(db, i)),
        media_type="text/csv",
        headers={"Content-Disposition": _attachment(f"codes-{i.gtin}-{i.lot}-{i.id}.csv")},
    )


@router.get(
    "/code-issues/{issue_id}/labels.pdf",
    summary="A printable A4 label sheet (24 labels a page)",
    response_class=Response,
    responses={200: {"content": {"application/pdf": {}}}},
)
def issue_labels(
    issue_id: int = Path(ge=1, le=2**31),
    offset: int = Query(0, ge=0, le=MAX_CODES, description="first label, by position in the issue"),
    limit: int = Query(96, ge=1, le=MAX_LABELS, description="labels in this PDF, 24 a page"),
    member: Member = Depends(require(Role.MERCHANT)),
    db: DbSession = Depends(get_db),
) -> Response:
    """Large issues print in parts: `offset` and `limit` choose the labels (at most 480, 20 pages)."""
    i = _visible_issue(db, member, issue_id)
    rows = _rows(db, i, offset, limit)
    title = f"{i.gtin} / {i.lot} - issue {i.id}, labels {offset + 1}-{offset + len(rows)} of {i.count}"
    return Response(codes.render_label_sheet(rows, title), media_type="application/pdf")


def _own_code(db: DbSession, member: Member, gtin: str, lot: str, serial: str) -> Code:
    _own_batch(db, member, gtin, lot)
    c = db.scalar(select(Code).where(Code.gtin == gtin, Code.lot == lot, Code.serial == serial))
    if c is None:
        raise not_found(f"code {gtin}/{lot}/{serial}")
    return c


#: image format => (renderer, media type)
IMAGES = {"png": (codes.render_png, "image/png"), "svg": (codes.render_svg, "image/svg+xml")}


@router.get(
    "/batches/{gtin}/{lot:gs1}/codes/{serial}.{fmt}",
    summary="One code as a QR image: .png or .svg",
    response_class=Response,
    responses={200: {"content": {"image/png": {}, "image/svg+xml": {}}}},
)
def code_image(
    gtin: str = GTIN_PATH,
    lot: str = LOT_PATH,
    serial: str = Path(pattern=r"^[0-9A-Z]{1,20}$"),
    fmt: str = Path(pattern=r"^(png|svg)$"),
    member: Member = Depends(require(Role.MERCHANT)),
    db: DbSession = Depends(get_db),
) -> Response:
    render, media_type = IMAGES[fmt]
    code = _own_code(db, member, gtin, lot, serial)
    return Response(
        render(short_codes.printed(code.uri, db.get(CodeIssue, code.issue_id).short)), media_type=media_type
    )
