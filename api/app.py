"""Application factory: the domains' routers and path policies, the middleware stack above them
(`api.middleware.stack`), errors as JSON with fitting status codes (or a domain's own format),
every write audited, every response with a request id."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from ledger import __version__

from .access import audit
from .access.domain import DOMAIN as ACCESS
from .carbon.domain import DOMAIN as CARBON
from .chain.domain import DOMAIN as CHAIN
from .console.domain import DOMAIN as CONSOLE
from .core import errors, log_redaction
from .core.domain import Policies
from .core.services import Services
from .core.settings import Settings
from .devices.domain import DOMAIN as DEVICES
from .epcis.domain import DOMAIN as EPCIS
from .middleware import stack
from .money.domain import DOMAIN as MONEY
from .purchases.domain import DOMAIN as PURCHASES
from .resolver.domain import DOMAIN as RESOLVER
from .scan.domain import DOMAIN as SCAN
from .system.domain import DOMAIN as SYSTEM
from .trace.domain import DOMAIN as TRACE

#: in the order their routers are included
DOMAINS = (SCAN, CONSOLE, SYSTEM, ACCESS, TRACE, RESOLVER, MONEY, EPCIS, CHAIN, CARBON, PURCHASES, DEVICES)


@asynccontextmanager
async def _lifespan(app: FastAPI) -> AsyncIterator[None]:
    stop = app.state.services.start_background()
    try:
        yield
    finally:
        app.state.services.stop_background(stop)
        audit.flush(app)  # refused anonymous writes still being counted


def create_app(settings: Settings | None = None) -> FastAPI:
    app = FastAPI(
        lifespan=_lifespan,
        title="traceledger",
        version=__version__,
        description="Blockchain-backed traceability and settlement ledger for social e-commerce.",
    )
    app.state.services = Services(settings or Settings())
    app.state.policies = Policies()
    log_redaction.install()  # no token in a logged query string (?access_token= on WebSockets)
    errors.install(app)
    for domain in DOMAINS:
        app.state.policies.add(domain.policies)
        for router in domain.routers:
            app.include_router(router)
        if domain.install is not None:
            domain.install(app)
    stack.install(app)
    # no redirect to the path with(out) a trailing slash: Starlette builds its Location from Host
    app.router.redirect_slashes = False
    return app


app = create_app()
