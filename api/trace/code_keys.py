"""The code-signing key: rotated by the platform, revoked on chain (`Provenance.revokeCodeKey`).
After its revocation, every code signed with the key scans as `forged`, with the reason, and
`ledger verify` agrees from the chain alone.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Depends, Path, Request
from pydantic import BaseModel, Field
from sqlalchemy import select
from sqlalchemy.orm import Session as DbSession

from ledger.access.roles import Role
from ledger.store.models import CodeIssue
from ledger.trace import codes

from ..access.auth import READ_ALL, Member, require
from ..core.errors import ApiError, not_found
from ..core.services import get_db, services

router = APIRouter(prefix="/v1", tags=["codes"])


class RevokeIn(BaseModel):
    reason: str = Field(min_length=1, max_length=500)


def _known_keys(request: Request, db: DbSession) -> dict[str, str]:
    """kid => base64url public key of every key that signed codes here, and the current one."""
    signer = services(request).code_signer
    keys = {kid: pk for kid, pk in db.execute(select(CodeIssue.kid, CodeIssue.public_key).distinct())}
    keys[signer.kid] = codes.public_key_b64(signer.public)
    return keys


def _state(request: Request, kid: str, pk: str) -> dict[str, Any]:
    prov = services(request).chain.deployment().contract("Provenance")
    at = int(prov.functions.codeKeyRevokedAt(codes.key_hash(codes.public_key_from_b64(pk))).call())
    revoked = datetime.fromtimestamp(at, UTC).isoformat() if at else None
    return {"kid": kid, "public_key": pk, "current": kid == services(request).code_signer.kid, "revoked_at": revoked}


@router.get("/codes/keys", summary="The code-signing keys: current, retired, revoked")
def list_keys(
    request: Request, member: Member = Depends(require(*READ_ALL)), db: DbSession = Depends(get_db)
) -> list[dict]:
    return [_state(request, kid, pk) for kid, pk in sorted(_known_keys(request, db).items())]


@router.post("/codes/keys/rotate", summary="Make a new signing key current; the old one keeps verifying")
def rotate_key(
    request: Request, member: Member = Depends(require(Role.OPERATOR)), db: DbSession = Depends(get_db)
) -> dict:
    svc = services(request)
    new = svc.code_signer.rotate()
    old = new.replaced  # the key current when it ran (another worker may have rotated meanwhile)
    request.state.audit_detail = f"code key {old} retired, {new.kid} current"
    return _state(request, new.kid, codes.public_key_b64(new.public)) | {"retired": old}


@router.post("/codes/keys/{kid}/revoke", summary="Revoke a signing key on chain: its codes scan as forged from now")
def revoke_key(
    body: RevokeIn,
    request: Request,
    kid: str = Path(pattern=r"^[0-9a-f]{16}$"),
    member: Member = Depends(require(Role.OPERATOR)),
    db: DbSession = Depends(get_db),
) -> dict:
    pk = _known_keys(request, db).get(kid)
    if pk is None:
        raise not_found(f"signing key {kid}")
    svc = services(request)
    prov = svc.chain.deployment().contract("Provenance")
    digest = codes.key_hash(codes.public_key_from_b64(pk))
    if prov.functions.codeKeyRevokedAt(digest).call():
        raise ApiError(409, "conflict", f"signing key {kid} is already revoked")
    svc.signers.sender_for(member.address).transact(prov.functions.revokeCodeKey(digest, body.reason))
    if kid == svc.code_signer.kid:  # a revoked key signs nothing more
        svc.code_signer.rotate()
    request.state.audit_detail = f"code key {kid} revoked: {body.reason}"
    return _state(request, kid, pk) | {"reason": body.reason}
