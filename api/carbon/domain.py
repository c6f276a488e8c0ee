"""What the carbon domain mounts: PACT v3 under `/pact` (its own OAuth client credentials and
tokens, so the guard's bearer check does not apply there; the default body cap does) and the
members' side under `/v1/carbon`."""

from __future__ import annotations

from ..core.domain import Domain, PathPolicy
from . import install

#: PACT's callers carry PACT's own tokens (`pact_auth`), so its bodies are read before ours are
#: looked for: small caps, as for any anonymous body (a token request is a short form; an event a
#: CloudEvent naming a few products), never the 1 MiB default
POLICIES = (
    PathPolicy(exact=("/pact/3/events",), body_limit=64 << 10),
    PathPolicy(prefixes=("/pact/",), public_body=True, body_limit=16 << 10),
)
DOMAIN = Domain("carbon", (), POLICIES, install=install)
