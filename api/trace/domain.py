"""What the trace domain mounts: products, recorders, code issues, code keys."""

from __future__ import annotations

from ..core.domain import Domain
from . import code_issue_list, code_keys, codes, prefixes, products, recorders

DOMAIN = Domain(
    "trace",
    (products.router, prefixes.router, recorders.router, codes.router, code_issue_list.router, code_keys.router),
)
