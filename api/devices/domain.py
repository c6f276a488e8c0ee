"""What the devices domain mounts: members' devices (register, list, revoke, readings)."""

from __future__ import annotations

from ..core.domain import Domain
from .router import router

DOMAIN = Domain("devices", (router,))
