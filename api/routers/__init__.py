"""The console's router (`console`), until it moves to its own domain package `api/console/`.
May import `ledger` and the shared `api` modules.

Its imports still name the modules by their places before `api/` was split per domain; the
aliases below keep them working until that move rewrites them (then this file goes).
"""

import sys

from ..access import auth
from ..core import (
    errors,
    segments,  # noqa: F401  registers the `{name:gs1}` path convertor the console might use
    services,
)

for _old, _new in (("auth", auth), ("errors", errors), ("services", services)):
    sys.modules.setdefault(f"api.{_old}", _new)
