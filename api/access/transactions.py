"""`POST /v1/transactions/{id}`: submit the transaction a write prepared for a member who signs for
itself (see `api.self_signing`), and get that write's own answer."""

from __future__ import annotations

import json
import secrets
from datetime import timedelta
from typing import Any

from eth_utils import keccak
from fastapi import APIRouter, Depends, FastAPI, Path, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, Field
from sqlalchemy import delete, update
from sqlalchemy.exc import IntegrityError

from ledger.clock import as_utc, utcnow
from ledger.store.models import PREPARED_TTL_S, PreparedTransaction, SentTransaction

from ..core.errors import ApiError, invalid, not_found
from ..core.self_signing import HEADER, MODE, Prepared, SignMode, check_sent, check_signed, encode, request_record
from ..core.services import services
from .auth import Member, authenticate

router = APIRouter(prefix="/v1", tags=["signing"])
PREPARED_TTL = timedelta(seconds=PREPARED_TTL_S)


class SignedIn(BaseModel):
    raw_transaction: str | None = Field(
        None, pattern=r"^0x[0-9a-fA-F]{2,65536}$", description="the signed transaction, hex"
    )
    tx_hash: str | None = Field(
        None,
        pattern=r"^0x[0-9a-fA-F]{64}$",
        description="or: the hash of the prepared transaction as the member's wallet sent it itself "
        "(EIP-1193 `eth_sendTransaction`); each hash answers for one prepared transaction",
    )


async def _prepared_answer(request: Request, exc: Prepared) -> JSONResponse:
    """A write stopped at its transaction: keep it, and give it to the member to sign."""
    mode, member = MODE.get(), getattr(request.state, "actor", None)
    assert mode is not None and member is not None
    record = request_record(request.scope, mode) if mode.kind == "prepare" else mode.prepared["request"]
    pid = secrets.token_hex(16)
    with services(request).sessions() as db:
        db.add(
            PreparedTransaction(id=pid, member=member, request=encode(record), tx=encode(exc.tx), created_at=utcnow())
        )
        db.commit()
    request.state.audit_detail = f"prepared {pid}: {exc.summary}"
    return JSONResponse(
        status_code=202,
        content={
            "prepared_id": pid,
            "transaction": exc.tx,
            "does": exc.summary,
            "call": _named(request, exc.call),
            "submit": f"/v1/transactions/{pid}",
        },
    )


def _named(request: Request, call: dict[str, Any]) -> dict[str, Any]:
    """The call with the name of its contract in the deployment manifest (`GET /v1/contracts`)."""
    contracts = services(request).chain.deployment().manifest["contracts"]
    to = str(call.get("to", "")).lower()
    return {"contract": next((n for n, c in contracts.items() if c["address"].lower() == to), None)} | call


def install(app: FastAPI) -> None:
    app.add_exception_handler(Prepared, _prepared_answer)  # type: ignore[arg-type]


@router.post(
    "/transactions/{prepared_id}",
    summary="Submit the signed transaction a write prepared; answers as that write does",
    responses={202: {"description": "the write needs another transaction: sign this one next"}},
)
async def submit(
    body: SignedIn,
    request: Request,
    prepared_id: str = Path(pattern=r"^[0-9a-f]{32}$"),
    member: Member = Depends(authenticate),
) -> Response:
    with services(request).sessions() as db:
        row = db.get(PreparedTransaction, prepared_id)
        if row is None or row.member != member.address:
            raise not_found(f"prepared transaction {prepared_id}")
        if row.submitted_at is not None:
            raise ApiError(409, "already_submitted", f"prepared transaction {prepared_id} was already submitted")
        if as_utc(row.created_at) + PREPARED_TTL < utcnow():
            raise ApiError(410, "expired", f"prepared transaction {prepared_id} expired; prepare it again")
        tx, original = json.loads(row.tx), json.loads(row.request)
        if (body.raw_transaction is None) == (body.tx_hash is None):
            raise invalid("body", "give raw_transaction (signed here) or tx_hash (sent by your wallet), not both")
        raw, sent, values = b"", None, {"submitted_at": utcnow()}
        if body.tx_hash is not None:
            sent = body.tx_hash.lower()
            problem = check_sent(services(request).chain.deployment().w3, sent, tx, member.address)
            values["sent_tx"] = sent
            if problem:
                raise invalid("body.tx_hash", problem)
        else:
            raw, problem = check_signed(body.raw_transaction, tx, member.address)
            if problem:
                raise invalid("body.raw_transaction", problem)
        claimed = sent or "0x" + keccak(raw).hex()  # a hash answers for one write, whoever sent it
        try:
            taken = db.execute(
                update(PreparedTransaction)
                .where(PreparedTransaction.id == prepared_id, PreparedTransaction.submitted_at.is_(None))
                .values(**values)
            )
            if taken.rowcount != 1:
                db.rollback()
                raise ApiError(409, "already_submitted", f"prepared transaction {prepared_id} was already submitted")
            db.add(SentTransaction(tx_hash=claimed, sent_by="wallet" if sent else "raw", at=utcnow()))
            db.commit()
        except IntegrityError:  # the hash already answered for another write
            raise ApiError(409, "already_submitted", f"transaction {claimed} already answered for a write") from None
    mode = SignMode("submit", raw=raw, prepared=tx | {"request": original})
    mode.sent_hash = bytes.fromhex(sent[2:]) if sent else None
    answer = await _run_again(request, original, mode)
    if answer.status_code == 409 and b'"transaction_rejected"' in answer.body:
        _reopen(request, prepared_id, claimed)  # the node refused it before it ran: sign it again
    return answer


def _reopen(request: Request, prepared_id: str, claimed: str) -> None:
    """A signed transaction the node refused (a fee below the base fee, too little gas to start)
    never ran and never took its nonce: the prepared write takes another signature, instead of
    being spent on it (the member had to prepare the write again)."""
    with services(request).sessions() as db:
        db.execute(
            update(PreparedTransaction)
            .where(PreparedTransaction.id == prepared_id)
            .values(submitted_at=None, sent_tx=None)
        )
        db.execute(delete(SentTransaction).where(SentTransaction.tx_hash == claimed))
        db.commit()


async def _run_again(request: Request, original: dict[str, Any], mode: SignMode) -> Response:
    """The original write, run through the whole application with the member's signed transaction."""
    body = original["body"].encode()
    headers = [(k, v) for k, v in request.scope["headers"] if k not in (HEADER, b"content-length")]
    headers.append((b"content-length", str(len(body)).encode()))
    raw_path = original["path"].encode("latin-1")
    from urllib.parse import unquote

    scope = dict(
        request.scope,
        method=original["method"],
        path=unquote(original["path"]),
        raw_path=raw_path,
        query_string=original["query"].encode("latin-1"),
        headers=headers,
    )
    scope.pop("route", None)
    scope.pop("endpoint", None)
    scope["path_params"] = {}
    answer: dict[str, Any] = {"status": 500, "headers": [], "body": b""}
    delivered = False

    async def receive() -> dict[str, Any]:
        nonlocal delivered
        if delivered:
            return {"type": "http.disconnect"}
        delivered = True
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            answer["status"], answer["headers"] = message["status"], message.get("headers", [])
        elif message["type"] == "http.response.body":
            answer["body"] += message.get("body", b"")

    token = MODE.set(mode)
    try:
        await request.app(scope, receive, send)
    finally:
        MODE.reset(token)
    kept = {k.decode("latin-1"): v.decode("latin-1") for k, v in answer["headers"] if k.lower() == b"content-type"}
    return Response(answer["body"], status_code=answer["status"], headers=kept)
