"""What the chain domain mounts: governance and the explorer."""

from __future__ import annotations

from ..core.domain import Domain
from . import explorer, governance

DOMAIN = Domain("chain", (governance.router, explorer.router))
