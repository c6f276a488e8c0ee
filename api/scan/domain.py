"""What the scan domain mounts: the documented scan route (the fast path is in the stack), the
Merkle proof of a code, scan statistics. Its page sets its own CSP (`routes.PAGE_CSP`)."""

from __future__ import annotations

from ..core.domain import Domain
from . import routes, stats

DOMAIN = Domain("scan", (routes.router, stats.router))
