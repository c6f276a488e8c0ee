"""What the purchases domain mounts: shoppers' proofs (docs/zk.md). A shopper has no account: a
review or a claim is a public write whose small body (a proof) is read before there are
credentials, since there are none to check; the proof is what authorises it."""

from __future__ import annotations

from ..core.domain import Domain, PathPolicy
from .router import router  # with the shopper pages (api.purchases includes them)

PUBLIC = ("/v1/purchases/reviews", "/v1/purchases/claims")
DOMAIN = Domain("purchases", (router,), (PathPolicy(exact=PUBLIC, body_limit=16 << 10, public_body=True),))
