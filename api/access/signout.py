"""Signing out: the calling session ends on the server, so its token answers no more (it answered
for its whole lifetime when only the page forgot it). The session is expired, not deleted: its
token is answered "session expired", and it goes with its nonce as sessions expired long ago do
(`auth._sweep_sessions`). An API key is revoked instead (`DELETE /v1/auth/api-keys/{id}`)."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Response
from fastapi.security import HTTPAuthorizationCredentials
from sqlalchemy import update
from sqlalchemy.orm import Session as DbSession

from ledger.clock import utcnow
from ledger.store.models import Session

from ..core.errors import forbidden
from ..core.services import get_db
from .auth import Member, _bearer, authenticate, token_hash

router = APIRouter(prefix="/v1", tags=["auth"])


@router.post("/auth/logout", status_code=204, summary="Sign out: end the calling session on the server")
def logout(
    creds: HTTPAuthorizationCredentials = Depends(_bearer),
    member: Member = Depends(authenticate),
    db: DbSession = Depends(get_db),
) -> Response:
    if member.auth != "session":
        raise forbidden("an API key is not signed out: revoke it (DELETE /v1/auth/api-keys/{id})")
    now = utcnow()
    db.execute(
        update(Session)
        .where(Session.token_hash == token_hash(creds.credentials), Session.expires_at > now)
        .values(expires_at=now)
    )
    db.commit()
    return Response(status_code=204)
