"""Idempotency keys for writes that move money: the same key and body return the first answer
(with `Idempotent-Replayed: true`); the same key with another body is a 409; a key whose first
request is still running is a 409 too. A request that fails releases its key, so it can be retried.

A request whose process died (killed, out of memory) cannot release its key: a claim older than
`lease_s()` (twice the write timeout and 10 s: longer than any request can run) is taken over by
the next request with that key. The write behind it must then find what the dead request did: an
order escrow does, through the slots its keys hold on chain.

A key belongs to its caller and to the method and route it was sent to (`scope`, e.g. `POST
/v1/orders`): the same key sent to another route is another key, answered afresh, never with the
first route's answer (`/v1/orders/batch`'s body replayed by `/v1/orders` was the bug). Stored as
the SHA-256 of scope and key (64 characters, within the 128 of the column and the header)."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC
from typing import Any

from fastapi import Request
from fastapi.responses import JSONResponse
from sqlalchemy import delete, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session as DbSession

from ledger.chain.client import tx_timeout
from ledger.clock import utcnow
from ledger.store.models import IdempotencyKey

from .errors import ApiError


def body_hash(body: Any) -> str:
    return hashlib.sha256(json.dumps(body, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def scope_of(request: Request) -> str:
    """The method and route template a key is sent to: `POST /v1/orders`."""
    route = request.scope.get("route")
    return f"{request.method} {getattr(route, 'path', request.url.path)}"


def _stored(scope: str, key: str) -> str:
    return hashlib.sha256(f"{scope}\n{key}".encode()).hexdigest()


def begin(db: DbSession, actor: str, key: str, request_hash: str, scope: str) -> JSONResponse | None:
    """Claim `key` (sent to `scope`) for this request, or return the stored answer to replay."""
    stored = _stored(scope, key)
    row = db.get(IdempotencyKey, (actor, stored))
    if row is None:
        db.add(IdempotencyKey(actor=actor, key=stored, request_hash=request_hash, created_at=utcnow()))
        try:
            db.commit()
            return None
        except IntegrityError:
            db.rollback()
            row = db.get(IdempotencyKey, (actor, stored))
            if row is None:  # pragma: no cover - released between the two statements
                raise ApiError(409, "idempotency_in_progress", "retry: this Idempotency-Key was just in use") from None
    if row.request_hash != request_hash:
        raise ApiError(
            409, "idempotency_conflict", f"Idempotency-Key {key!r} was already used with a different request body"
        )
    if row.status_code is None:
        if _take_over(db, row):
            return None
        raise ApiError(
            409,
            "idempotency_in_progress",
            f"a request with Idempotency-Key {key!r} is still in progress",
            headers={"Retry-After": "1"},
        )
    return JSONResponse(
        status_code=row.status_code, content=json.loads(row.response or "null"), headers={"Idempotent-Replayed": "true"}
    )


def lease_s() -> float:
    return 2 * tx_timeout() + 10


def _take_over(db: DbSession, row: IdempotencyKey) -> bool:
    """Claim a key whose request has held it longer than any request runs (its process died)."""
    claimed = row.created_at if row.created_at.tzinfo else row.created_at.replace(tzinfo=UTC)
    if (utcnow() - claimed).total_seconds() < lease_s():
        return False
    took = db.execute(
        update(IdempotencyKey)
        .where(
            IdempotencyKey.actor == row.actor,
            IdempotencyKey.key == row.key,
            IdempotencyKey.status_code.is_(None),
            IdempotencyKey.created_at == row.created_at,
        )
        .values(created_at=utcnow())
    )
    db.commit()
    return took.rowcount == 1


def record(db: DbSession, actor: str, key: str, status: int, content: Any, scope: str) -> None:
    """Store the answer (committed by the caller together with the write it answers)."""
    db.execute(
        update(IdempotencyKey)
        .where(IdempotencyKey.actor == actor, IdempotencyKey.key == _stored(scope, key))
        .values(status_code=status, response=json.dumps(content, default=str))
    )


def release(db: DbSession, actor: str, key: str, scope: str) -> None:
    db.rollback()
    db.execute(
        delete(IdempotencyKey).where(
            IdempotencyKey.actor == actor,
            IdempotencyKey.key == _stored(scope, key),
            IdempotencyKey.status_code.is_(None),
        )
    )
    db.commit()
