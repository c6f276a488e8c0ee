"""What the console domain mounts: the members' consoles (their pages set their own CSP)."""

from __future__ import annotations

from ..core.domain import Domain
from .router import router

DOMAIN = Domain("console", (router,))
