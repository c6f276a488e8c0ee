"""What the purchases domain mounts: shoppers' proofs (docs/zk.md). A shopper has no account: a
review, a claim or a dispute is a public write whose small body (a proof) is read before there are
credentials, since there are none to check; the proof is what authorises it."""

from __future__ import annotations

import re

from ..core.domain import Domain, PathPolicy
from .router import router  # with the shopper pages (api.purchases includes them)

PUBLIC = ("/v1/purchases/reviews", "/v1/purchases/claims", "/v1/purchases/disputes")
#: sending an upheld dispute's award to the address it named: anyone may ask, it pays nobody else
PAYMENT = re.compile(r"/v1/purchases/disputes/[0-9]{1,19}/payment")
DOMAIN = Domain(
    "purchases",
    (router,),
    (PathPolicy(exact=PUBLIC, pattern=PAYMENT, body_limit=16 << 10, public_body=True),),
)
