"""What the devices domain mounts: members' devices (register, list, revoke, readings) and
cold-chain alarms."""

from __future__ import annotations

from ..core.domain import Domain
from .alarms import router as alarms
from .router import router

DOMAIN = Domain("devices", (alarms, router))
