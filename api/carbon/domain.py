"""What the carbon domain mounts: PACT v3 under `/pact` (its own OAuth client credentials and
tokens, so the guard's bearer check does not apply there; the default body cap does) and the
members' side under `/v1/carbon`."""

from __future__ import annotations

from ..core.domain import Domain, PathPolicy
from . import install

DOMAIN = Domain("carbon", (), (PathPolicy(prefixes=("/pact/",), public_body=True),), install=install)
