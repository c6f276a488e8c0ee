"""Application factory: routers by audience, errors as JSON with fitting status codes."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from ledger import __version__
from ledger.errors import LedgerError, ManifestMismatch, ManifestMissing, NodeUnavailable

from .routers import system
from .settings import Settings


def create_app(settings: Settings | None = None) -> FastAPI:
    app = FastAPI(
        title="traceledger",
        version=__version__,
        description="Blockchain-backed traceability and settlement ledger for social e-commerce.",
    )
    app.state.settings = settings or Settings()
    app.include_router(system.router)

    @app.exception_handler(LedgerError)
    async def _ledger_error(_: Request, exc: LedgerError) -> JSONResponse:
        status = 503 if isinstance(exc, (NodeUnavailable, ManifestMissing, ManifestMismatch)) else 400
        body: dict[str, Any] = {"error": type(exc).__name__, "detail": str(exc)}
        return JSONResponse(status_code=status, content=body)

    return app


app = create_app()
