"""What the system domain mounts: liveness, health, deployment information."""

from __future__ import annotations

from ..core.domain import Domain
from . import routes

DOMAIN = Domain("system", (routes.router,))
