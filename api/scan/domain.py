"""What the scan domain mounts: the documented scan route (the fast path is in the stack), the
Merkle proof of a code, an event's proof checked on chain as a page (`event_proof`), scan
statistics, shoppers' counterfeit reports (public, small bodies). Its pages set their own CSP
(`routes.PAGE_CSP`)."""

from __future__ import annotations

from ..core.domain import Domain, PathPolicy
from . import event_proof, reports, routes, stats

DOMAIN = Domain(
    "scan",
    (routes.router, event_proof.router, stats.router, reports.router),
    (PathPolicy(exact=(reports.PATH,), body_limit=8 << 10, public_body=True),),
)
