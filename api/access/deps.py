"""What every domain's writes share: the acting member's signer and the deployment for a request."""

from __future__ import annotations

from fastapi import Request

from ..core.services import services
from .auth import Member


def sender_of(request: Request, member: Member):  # type: ignore[no-untyped-def]
    return services(request).signers.sender_for(member.address)


def deployment_of(request: Request):  # type: ignore[no-untyped-def]
    return services(request).chain.deployment()
