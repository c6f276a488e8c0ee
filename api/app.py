"""Application factory: routers by audience, errors as JSON with fitting status codes, every write
audited, every response with a request id."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from ledger import __version__

from . import audit, auth, devices, errors, log_redaction
from .dl_resolver import ResolverFront
from .edge import Edge
from .epcis_binding import EpcisHeaders
from .routers import (
    code_keys,
    codes,
    compliance,
    console,
    deposits,
    epcis,
    epcis_capture,
    epcis_queries,
    epcis_rest,
    epcis_sockets,
    explorer,
    governance,
    order_steps,
    orders,
    payouts,
    product_links,
    products,
    reconciliation,
    recorders,
    resolver,
    scan_stats,
    system,
    token,
    transactions,
)
from .segments import EncodedSlashes
from .self_signing import SignModeFromHeader
from .services import Services
from .settings import Settings


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
    log_redaction.install()  # no token in a logged query string (?access_token= on WebSockets)
    errors.install(app)
    # scans skip routing and FastAPI's request handling (added first: inside the request-id middleware)
    app.add_middleware(resolver.ScanFastPath, services=lambda: app.state.services)
    # every GS1 Digital Link URI: CORS, HEAD/OPTIONS, linksets, link types, 400 for malformed ones
    app.add_middleware(ResolverFront, services=lambda: app.state.services)
    # writes by members who sign for themselves stop at their transaction (X-Ledger-Sign: self)
    app.add_middleware(SignModeFromHeader)
    transactions.install(app)
    # body limits, credentials before bodies, security headers on every answer (scans included);
    # inside the audit middleware, so what it refuses is audited too
    app.add_middleware(Edge, services=lambda: app.state.services)
    audit.install(app)
    # GS1 headers on every /epcis/ answer (refusals included), 406 for what we cannot speak
    app.add_middleware(EpcisHeaders, services=lambda: app.state.services)
    app.include_router(resolver.router)
    app.include_router(console.router)
    app.include_router(system.router)
    app.include_router(auth.router)
    app.include_router(products.router)
    app.include_router(product_links.router)
    app.include_router(recorders.router)
    app.include_router(deposits.router)
    app.include_router(order_steps.router)
    app.include_router(orders.router)
    app.include_router(payouts.router)
    app.include_router(token.router)
    app.include_router(codes.router)
    app.include_router(scan_stats.router)
    app.include_router(code_keys.router)
    app.include_router(epcis.router)
    app.include_router(epcis_capture.router)
    app.include_router(epcis_queries.router)
    app.include_router(epcis_sockets.router)
    app.include_router(epcis_rest.router)
    app.include_router(governance.router)
    app.include_router(transactions.router)
    app.include_router(audit.router)
    app.include_router(explorer.router)
    app.include_router(reconciliation.router)
    app.include_router(compliance.router)
    app.include_router(devices.router)
    # outermost: a GS1 value's encoded `/` must not split its path segment before anything routes
    app.add_middleware(EncodedSlashes)
    # no redirect to the path with(out) a trailing slash: Starlette builds its Location from Host
    app.router.redirect_slashes = False
    return app


app = create_app()
