"""One error shape for every failure: `{"error": code, "detail": message}` with a fitting status.

Validation errors (422) name each field: `{"error": "invalid_input", "detail": [{"field", "reason"}]}`.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from ledger.chain import TransactionFailed
from ledger.errors import Conflict, LedgerError, ManifestMismatch, ManifestMissing, NodeUnavailable, NotFound


class ApiError(Exception):
    def __init__(self, status: int, code: str, detail: Any, headers: dict[str, str] | None = None):
        super().__init__(detail)
        self.status, self.code, self.detail, self.headers = status, code, detail, headers


def unauthorized(reason: str) -> ApiError:
    return ApiError(
        401, "unauthorized", reason, {"WWW-Authenticate": f'Bearer error="invalid_token", error_description="{reason}"'}
    )


def forbidden(reason: str) -> ApiError:
    return ApiError(403, "forbidden", reason)


def not_found(what: str) -> ApiError:
    return ApiError(404, "not_found", f"{what} not found")


def invalid(field: str, reason: str) -> ApiError:
    return ApiError(422, "invalid_input", [{"field": field, "reason": reason}])


#: contract custom errors => HTTP status
_REVERT_STATUS = {
    "MissingRole": 403,
    "NotProductOwner": 404,
    "UnknownProduct": 404,
    "UnknownBatch": 404,
    "UnknownOrder": 404,
    "InvalidGtin": 422,
    "InvalidLot": 422,
    "ZeroAmount": 422,
    "RateAboveCap": 422,
    "TooManyLevels": 422,
    "NotAMerchant": 422,
    "UnknownCase": 404,
}


def _body(code: str, detail: Any) -> dict[str, Any]:
    return {"error": code, "detail": detail}


def install(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    async def _api_error(request: Request, exc: ApiError) -> JSONResponse:
        request.state.audit_detail = str(exc.detail)
        return JSONResponse(status_code=exc.status, content=_body(exc.code, exc.detail), headers=exc.headers)

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        problems = [{"field": ".".join(str(p) for p in e["loc"]), "reason": e["msg"]} for e in exc.errors()]
        request.state.audit_detail = "; ".join(f"{p['field']}: {p['reason']}" for p in problems)
        return JSONResponse(status_code=422, content=_body("invalid_input", problems))

    @app.exception_handler(TransactionFailed)
    async def _reverted(request: Request, exc: TransactionFailed) -> JSONResponse:
        status = _REVERT_STATUS.get(exc.error or "", 409)
        request.state.audit_detail = str(exc)
        return JSONResponse(status_code=status, content=_body(exc.error or "reverted", str(exc)))

    @app.exception_handler(LedgerError)
    async def _ledger_error(request: Request, exc: LedgerError) -> JSONResponse:
        if isinstance(exc, NodeUnavailable | ManifestMissing | ManifestMismatch):
            status, code = 503, type(exc).__name__
        elif isinstance(exc, Conflict):
            status, code = 409, "conflict"
        elif isinstance(exc, NotFound):
            status, code = 404, "not_found"
        else:
            status, code = 400, type(exc).__name__
        request.state.audit_detail = str(exc)
        return JSONResponse(status_code=status, content=_body(code, str(exc)))
