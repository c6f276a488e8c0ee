"""What the resolver domain mounts: the link registry's routes; the GS1 front is in the stack."""

from __future__ import annotations

from ..core.domain import Domain, PathPolicy
from . import gs1_front, links

DOMAIN = Domain(
    "resolver",
    (links.router,),
    # writes to a Digital Link are answered 405 by the front: their bodies are never read
    (PathPolicy(pattern=gs1_front.DIGITAL_LINK, reads_body=False),),
)
