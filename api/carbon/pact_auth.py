"""`POST /pact/auth/token`: OAuth 2 client credentials (RFC 6749 §4.4), one client per member
(registered with `POST /v1/carbon/clients`); credentials in HTTP Basic or the form. Tokens are
random, kept as SHA-256, valid an hour. `pact_client` is the bearer check of every PACT action."""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from datetime import timedelta
from urllib.parse import parse_qs, unquote

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse
from sqlalchemy import delete
from sqlalchemy.orm import Session as DbSession

from ledger.clock import as_utc, utcnow
from ledger.store.carbon_tables import CarbonClient, CarbonToken

from ..core.services import get_db, rate_limited
from .pact_errors import PactError, https_only

router = APIRouter(prefix="/pact", tags=["carbon (PACT v3)"])
TOKEN_S = 3600


def digest(secret: str) -> str:
    return "0x" + hashlib.sha256(secret.encode()).hexdigest()


def _oauth_error(status: int, error: str, description: str) -> JSONResponse:
    headers = {"WWW-Authenticate": 'Basic realm="pact"'} if status == 401 else {}
    headers["Cache-Control"] = "no-store"
    return JSONResponse({"error": error, "error_description": description}, status, headers=headers)


def _credentials(request: Request, form: dict[str, list[str]]) -> tuple[str, str] | None:
    scheme, _, value = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() == "basic":
        try:
            user, sep, password = base64.b64decode(value.strip(), validate=True).decode().partition(":")
        except (ValueError, UnicodeDecodeError):
            return None
        return (unquote(user), unquote(password)) if sep else None
    if "client_id" in form and "client_secret" in form:
        return form["client_id"][0], form["client_secret"][0]
    return None


@router.post("/auth/token", summary="PACT: an access token for a member's client (OAuth 2 client credentials)")
async def token(
    request: Request,
    _: None = Depends(https_only),
    __: None = Depends(rate_limited),  # anonymous callers: the public budget per client
    db: DbSession = Depends(get_db),
) -> JSONResponse:
    if not request.headers.get("content-type", "").startswith("application/x-www-form-urlencoded"):
        return _oauth_error(400, "invalid_request", "send application/x-www-form-urlencoded")
    form = parse_qs((await request.body()).decode("latin-1"), keep_blank_values=True)
    if len(form.get("grant_type", [])) != 1:  # RFC 6749 §5.2 (missing parameter), §3.2 (never twice)
        return _oauth_error(400, "invalid_request", "send grant_type=client_credentials, once")
    if form["grant_type"] != ["client_credentials"]:
        return _oauth_error(400, "unsupported_grant_type", "only grant_type=client_credentials is supported")
    creds = _credentials(request, form)
    client = db.get(CarbonClient, creds[0][:64]) if creds else None
    if client is None or not hmac.compare_digest(client.secret_hash, digest(creds[1])):  # type: ignore[index]
        return _oauth_error(401, "invalid_client", "client authentication failed")
    value = "pact_" + secrets.token_urlsafe(32)
    db.execute(delete(CarbonToken).where(CarbonToken.client_id == client.client_id, CarbonToken.expires_at < utcnow()))
    db.add(
        CarbonToken(
            token_hash=digest(value), client_id=client.client_id, expires_at=utcnow() + timedelta(seconds=TOKEN_S)
        )
    )
    db.commit()
    body = {"access_token": value, "token_type": "Bearer", "expires_in": TOKEN_S}
    return JSONResponse(body, headers={"Cache-Control": "no-store"})


def pact_client(request: Request, _: None = Depends(https_only), db: DbSession = Depends(get_db)) -> str:
    """The client id behind the request's bearer token, else PACT's error."""
    scheme, _, value = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not value.strip():  # PACT's AccessDenied is a 403 (its error table, and its
        # example of a request without credentials), not OAuth's 401 (outside conformance probe)
        raise PactError(403, "send 'Authorization: Bearer <token from /pact/auth/token>'")
    row = db.get(CarbonToken, digest(value.strip()))
    if row is None:
        raise PactError(400, "Invalid token provided")
    if as_utc(row.expires_at) <= utcnow():
        raise PactError(401, "the access token has expired", code="TokenExpired")
    return row.client_id
