"""PACT's error shape (`{"code": ..., "message": ...}`, Technical Specifications 3.0 "Error") and
its one transport rule: every PACT action is refused over plain HTTP (the scheme as the server sees
it: serve behind TLS, or behind a proxy whose `X-Forwarded-Proto` uvicorn trusts)."""

from __future__ import annotations

from fastapi import Request
from fastapi.responses import JSONResponse

CODES = {
    400: "BadRequest",
    401: "TokenExpired",
    403: "AccessDenied",
    404: "NotFound",
    429: "TooManyRequests",
    500: "InternalError",
    501: "NotImplemented",
}


class PactError(Exception):
    def __init__(self, status: int, message: str, code: str | None = None, headers: dict[str, str] | None = None):
        super().__init__(message)
        self.status, self.message, self.code, self.headers = status, message, code or CODES[status], headers


async def answer(request: Request, exc: PactError) -> JSONResponse:
    return JSONResponse({"code": exc.code, "message": exc.message}, exc.status, headers=exc.headers)


def https_only(request: Request) -> None:
    if request.url.scheme != "https":
        raise PactError(403, "the PACT API is served over HTTPS only; nothing is answered over plain HTTP")
