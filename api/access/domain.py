"""What the access domain mounts: sign-in and sign-out, self-signed transactions, the audit log."""

from __future__ import annotations

from ..core.domain import Domain, PathPolicy
from . import audit, auth, signout, transactions

DOMAIN = Domain(
    "access",
    (auth.router, signout.router, transactions.router, audit.router),
    # sign-in is the one public write: its small body is read before there are credentials to check
    (PathPolicy(exact=("/v1/auth/login",), body_limit=16 << 10, public_body=True),),
    install=transactions.install,
)
