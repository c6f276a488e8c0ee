"""Who is calling: members sign in with their chain address (EIP-4361) for a short-lived session
token, or use a long-lived API key; either way the roles are read from the Membership contract on
every request, so a member removed or re-roled on chain loses access at once.

Tokens travel as `Authorization: Bearer <token>`: session tokens start `tls_`, API keys `tlk_`.
Only SHA-256 hashes of either are stored.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TypeVar

from fastapi import APIRouter, Depends, Path, Request, Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, Field
from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session as DbSession

from ledger.access import siwe
from ledger.access.roles import Role, role_names
from ledger.clock import as_utc, to_utc, utcnow
from ledger.store.models import ApiKey, AuthNonce, Session

from ..core.errors import forbidden, not_found, unauthorized
from ..core.fields import PlainText
from ..core.services import get_db, rate_limited, services

T = TypeVar("T")

SESSION_PREFIX = "tls_"
API_KEY_PREFIX = "tlk_"
#: expired nonces deleted per nonce issued, at most: more than one, so a backlog drains
NONCE_SWEEP = 100
#: a session expired this long ago is deleted with its nonce as members sign in (up to NONCE_SWEEP
#: a sign-in); until then its token is answered "session expired", after it "invalid session token"
SESSION_KEPT_EXPIRED = timedelta(days=1)
_bearer = HTTPBearer(auto_error=False, description="a session token (tls_...) or an API key (tlk_...)")


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True)
class Member:
    address: str
    roles: Role
    auth: str  # "session" or "api_key"

    def has(self, roles: Role) -> bool:
        return bool(self.roles & roles)


def token_holder(db: DbSession, token: str, touch: bool = True) -> tuple[str, str]:
    """(address, "session" or "api_key") for a valid bearer token; 401 saying why not (unknown,
    expired, revoked). Also run before a request body is read (`api.edge`). An API key's last use
    is recorded unless `touch` is false (an open WebSocket's checks read, never write)."""
    now = utcnow()
    if token.startswith(SESSION_PREFIX):
        s = db.scalar(select(Session).where(Session.token_hash == token_hash(token)))
        if s is None:
            raise unauthorized("invalid session token")
        if as_utc(s.expires_at) <= now:
            raise unauthorized(f"session expired at {as_utc(s.expires_at).isoformat()}; sign in again")
        return s.address, "session"
    if token.startswith(API_KEY_PREFIX):
        key = db.scalar(select(ApiKey).where(ApiKey.key_hash == token_hash(token)))
        if key is None:
            raise unauthorized("invalid API key")
        if key.revoked_at is not None:
            raise unauthorized("API key has been revoked")
        if touch:
            key.last_used_at = now
            db.commit()
        return key.address, "api_key"
    raise unauthorized("unrecognised token: expected a session token (tls_...) or an API key (tlk_...)")


def authenticate(
    request: Request, creds: HTTPAuthorizationCredentials | None = Depends(_bearer), db: DbSession = Depends(get_db)
) -> Member:
    """The calling member, or 401 saying why not (missing, unknown, expired, revoked)."""
    if creds is None:
        raise unauthorized("missing credentials: send 'Authorization: Bearer <session token or API key>'")
    address, kind = token_holder(db, creds.credentials)
    request.state.actor, request.state.auth = address, kind
    roles = services(request).chain.roles_of(address)
    if roles == 0:
        raise forbidden(f"{address} is not a member of the consortium (removed on chain?)")
    return Member(address, Role(roles), kind)


#: roles that read every member's records (others read their own)
READ_ALL = Role.AUDITOR | Role.OPERATOR


def may_see(member: Member, row: object | None, owners: tuple[str, ...] = ("merchant",)) -> bool:
    """The member reads all, or is one of the row's `owners`."""
    return row is not None and (member.has(READ_ALL) or member.address in (getattr(row, a) for a in owners))


def visible(member: Member, row: T | None, what: str, owners: tuple[str, ...] = ("merchant",)) -> T:
    """`row` if the member `may_see` it; otherwise 404, as if it did not exist (nobody learns more)."""
    if row is None or not may_see(member, row, owners):
        raise not_found(what)
    return row


def require(*roles: Role) -> Callable[..., Member]:
    """Dependency: the caller must hold at least one of `roles` on chain, else 403."""
    wanted = Role(0)
    for r in roles:
        wanted |= r

    def dependency(member: Member = Depends(authenticate)) -> Member:
        if not member.has(wanted):
            held = ", ".join(role_names(member.roles)) or "none"
            raise forbidden(f"requires role {' or '.join(role_names(wanted))}; {member.address} holds {held}")
        return member

    return dependency


router = APIRouter(prefix="/v1", tags=["auth"])


class NonceOut(BaseModel):
    nonce: str
    expires_at: datetime
    domain: str
    chain_id: int


class LoginIn(BaseModel):
    message: str = Field(max_length=4000, description="EIP-4361 message naming this service's domain and chain")
    signature: str = Field(pattern=r"^0x[0-9a-fA-F]{130}$", description="personal_sign signature, 65 bytes hex")


class LoginOut(BaseModel):
    token: str
    token_type: str = "Bearer"
    expires_at: datetime
    address: str
    roles: list[str]


class MeOut(BaseModel):
    address: str
    roles: list[str]
    auth: str


class ApiKeyIn(BaseModel):
    name: PlainText = Field(min_length=1, max_length=100)


class ApiKeyOut(BaseModel):
    id: int
    name: str
    prefix: str
    created_at: datetime
    last_used_at: datetime | None = None
    revoked_at: datetime | None = None


class ApiKeyCreated(ApiKeyOut):
    key: str = Field(description="shown once; only its hash is stored")


@router.get(
    "/auth/nonce",
    response_model=NonceOut,
    dependencies=[Depends(rate_limited)],
    summary="A fresh nonce for an EIP-4361 sign-in message",
)
def issue_nonce(request: Request, db: DbSession = Depends(get_db)) -> NonceOut:
    """Anyone may ask, so each issue also deletes up to `NONCE_SWEEP` expired nonces never used
    (a used one stays: its session names it): the table holds about what the rate limits let be
    issued within a nonce's lifetime, not every nonce ever asked for."""
    svc = services(request)
    now = utcnow()
    stale = select(AuthNonce.nonce).where(AuthNonce.used_at.is_(None), AuthNonce.expires_at <= now)
    db.execute(delete(AuthNonce).where(AuthNonce.nonce.in_(stale.limit(NONCE_SWEEP))))
    nonce = secrets.token_hex(16)
    expires = now + timedelta(seconds=svc.settings.nonce_ttl_s)
    db.add(AuthNonce(nonce=nonce, created_at=now, expires_at=expires))
    db.commit()
    chain_id = svc.chain.deployment().manifest["chain_id"]
    return NonceOut(nonce=nonce, expires_at=expires, domain=svc.settings.siwe_domain, chain_id=chain_id)


@router.post(
    "/auth/login",
    response_model=LoginOut,
    dependencies=[Depends(rate_limited)],
    summary="Exchange a signed EIP-4361 message for a short-lived session token",
)
def login(body: LoginIn, request: Request, db: DbSession = Depends(get_db)) -> LoginOut:
    svc = services(request)
    chain_id = svc.chain.deployment().manifest["chain_id"]
    try:
        msg = siwe.verify(body.message, body.signature, domain=svc.settings.siwe_domain, chain_id=chain_id)
    except siwe.SiweError as exc:
        raise unauthorized(f"sign-in refused: {exc}") from None
    roles = svc.chain.roles_of(msg.address)
    if roles == 0:  # anonymous still: a key anyone makes names no actor, or each refusal was a row of its own
        raise forbidden(f"{msg.address} is not a member of the consortium")
    request.state.actor = msg.address
    now = utcnow()
    consumed = db.execute(
        update(AuthNonce)
        .where(AuthNonce.nonce == msg.nonce, AuthNonce.used_at.is_(None), AuthNonce.expires_at > now)
        .values(used_at=now)
    ).rowcount
    if consumed != 1:
        db.rollback()
        raise unauthorized("sign-in refused: nonce unknown, expired or already used; ask for a new one")
    _sweep_sessions(db, now)
    token = SESSION_PREFIX + secrets.token_urlsafe(32)
    expires = min(now + timedelta(seconds=svc.settings.session_ttl_s), to_utc(msg.expiration_time))
    db.add(
        Session(token_hash=token_hash(token), address=msg.address, nonce=msg.nonce, created_at=now, expires_at=expires)
    )
    db.commit()  # nonce consumed and session created together, or neither
    request.state.auth = "session"
    return LoginOut(token=token, expires_at=expires, address=msg.address, roles=role_names(roles))


def _sweep_sessions(db: DbSession, now: datetime) -> None:
    """Sessions expired `SESSION_KEPT_EXPIRED` ago, up to `NONCE_SWEEP`, with the nonces they used: each
    sign-in was two rows for ever. A deleted nonce is unknown, so a message naming it is refused as
    a used one was."""
    old = list(
        db.scalars(select(Session.nonce).where(Session.expires_at <= now - SESSION_KEPT_EXPIRED).limit(NONCE_SWEEP))
    )
    if old:
        db.execute(delete(Session).where(Session.nonce.in_(old)))
        db.execute(delete(AuthNonce).where(AuthNonce.nonce.in_(old)))


@router.get("/me", response_model=MeOut, summary="The calling member, its roles as the chain says now")
def me(member: Member = Depends(authenticate)) -> MeOut:
    return MeOut(address=member.address, roles=role_names(member.roles), auth=member.auth)


def _session_member(member: Member = Depends(authenticate)) -> Member:
    if member.auth != "session":
        raise forbidden("API keys are managed from a signed-in session, not with an API key")
    return member


def _key_out(k: ApiKey) -> dict:
    return {
        "id": k.id,
        "name": k.name,
        "prefix": k.prefix,
        "created_at": as_utc(k.created_at),
        "last_used_at": k.last_used_at and as_utc(k.last_used_at),
        "revoked_at": k.revoked_at and as_utc(k.revoked_at),
    }


@router.post(
    "/auth/api-keys",
    response_model=ApiKeyCreated,
    status_code=201,
    summary="Create a long-lived API key for the calling member (shown once)",
)
def create_api_key(body: ApiKeyIn, member: Member = Depends(_session_member), db: DbSession = Depends(get_db)) -> dict:
    key = API_KEY_PREFIX + secrets.token_urlsafe(32)
    row = ApiKey(address=member.address, name=body.name, prefix=key[:12], key_hash=token_hash(key), created_at=utcnow())
    db.add(row)
    db.commit()
    return {**_key_out(row), "key": key}


@router.get("/auth/api-keys", response_model=list[ApiKeyOut], summary="The calling member's API keys")
def list_api_keys(member: Member = Depends(authenticate), db: DbSession = Depends(get_db)) -> list[dict]:
    rows = db.scalars(select(ApiKey).where(ApiKey.address == member.address).order_by(ApiKey.id))
    return [_key_out(k) for k in rows]


@router.delete("/auth/api-keys/{key_id}", status_code=204, summary="Revoke one of the calling member's API keys")
def revoke_api_key(
    key_id: int = Path(ge=1, le=2**63 - 1),  # SQLite's largest integer: beyond it the query raised (a 500)
    member: Member = Depends(_session_member),
    db: DbSession = Depends(get_db),
) -> Response:
    row = db.get(ApiKey, key_id)
    if row is None or row.address != member.address:
        raise not_found(f"API key {key_id}")
    if row.revoked_at is None:
        row.revoked_at = utcnow()
        db.commit()
    return Response(status_code=204)
