"""The ASGI stack above the domains' routes, as one ordered list: a request meets the layers from
the first to the last, an answer leaves through them in reverse. Each layer says why it sits where
it does; `install` adds them to the app (Starlette wraps the last added outermost, so they are
added from the last to the first). Starlette's own server-error middleware is outside all of
them: an unexpected error in any layer is still a logged 500.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from fastapi import FastAPI

from ..access import audit
from ..core.segments import EncodedSlashes
from ..core.self_signing import SignModeFromHeader
from ..epcis.binding.protocol import EpcisHeaders
from ..resolver.gs1_front import ResolverFront
from ..scan.routes import ScanFastPath
from .guard import RequestGuard


@dataclass(frozen=True)
class Layer:
    middleware: type
    why: str
    #: the layer is built with `services=` (a callable answering the app's context)
    takes_services: bool = False
    #: what the layer needs on the app before it runs
    prepare: Callable[[FastAPI], None] | None = None


#: outermost first
STACK: tuple[Layer, ...] = (
    Layer(EncodedSlashes, "a GS1 value's encoded `/` must not split its path segment before anything reads the path"),
    Layer(
        EpcisHeaders,
        "GS1 headers on every /epcis/ answer, the refusals of every inner layer included; 406 for what we cannot speak",
        takes_services=True,
    ),
    Layer(
        audit.RequestIdAndAudit,
        "every answer carries a request id and every write is audited, the guard's refusals included",
        prepare=audit.prepare,
    ),
    Layer(
        RequestGuard,
        "body limits, credentials before bodies, security headers on every answer (scans included); "
        "inside the audit layer, so what it refuses is audited",
        takes_services=True,
    ),
    Layer(SignModeFromHeader, "writes by members who sign for themselves stop at their transaction (X-Ledger-Sign)"),
    Layer(
        ResolverFront,
        "every GS1 Digital Link URI: CORS, HEAD/OPTIONS, linksets, link types, 400 for malformed ones; "
        "an item's code passes on to the scan",
        takes_services=True,
    ),
    Layer(
        ScanFastPath,
        "scans skip routing and FastAPI's request handling (a quarter of a scan's CPU, py-spy); innermost, so "
        "a scan keeps its request id, guard and headers",
        takes_services=True,
    ),
)


def install(app: FastAPI, stack: tuple[Layer, ...] = STACK) -> None:
    for layer in stack:
        if layer.prepare is not None:
            layer.prepare(app)
    for layer in reversed(stack):
        kwargs: dict[str, Any] = {"services": lambda: app.state.services} if layer.takes_services else {}
        app.add_middleware(layer.middleware, **kwargs)
