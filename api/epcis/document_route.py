"""Routes whose JSON bodies are whole EPCIS documents: parsed with the garbage collector paused
(`ledger.trace.epcis.reading`), as FastAPI documents a custom request class per route."""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import Request, Response
from fastapi.routing import APIRoute

from ledger.trace.epcis import reading


class DocumentRequest(Request):
    async def json(self) -> Any:
        if not hasattr(self, "_json"):
            self._json = reading.parse(await self.body())
        return self._json


class DocumentRoute(APIRoute):
    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def route(request: Request) -> Response:
            return await handler(DocumentRequest(request.scope, request.receive))

        return route
