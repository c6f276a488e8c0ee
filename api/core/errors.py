"""One error shape for every failure: `{"error": code, "detail": message}` with a fitting status.

Validation errors (422) name each field: `{"error": "invalid_input", "detail": [{"field", "reason"}]}`.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.routing import iter_route_contexts
from requests.exceptions import RequestException
from sqlalchemy.exc import IntegrityError, InterfaceError, InvalidatePoolError
from sqlalchemy.exc import OperationalError as DatabaseUnavailable
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match
from web3.exceptions import Web3RPCError

from ledger.chain.client import TransactionFailed, without_credentials
from ledger.chain.submission import TransactionRejected, node_reason
from ledger.errors import (
    Conflict,
    Forbidden,
    InvalidInput,
    LedgerError,
    ManifestMismatch,
    ManifestMissing,
    NodeUnavailable,
    NotFound,
)
from ledger.trace.epcis.binding.event_pages import QueryTooLarge
from ledger.trace.epcis.binding.simple_query import QueryParameterError

from .domain import policies
from .segments import SLASH


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
    """A 404 naming `what` as the client wrote it: an encoded `/` inside a path segment is routed as
    a private-use character (`segments.SLASH`), which leaked into the message (outside probe)."""
    return ApiError(404, "not_found", f"{what.replace(SLASH, '%2F')} not found")


def invalid(field: str, reason: str) -> ApiError:
    return ApiError(422, "invalid_input", [{"field": field, "reason": reason}])


#: contract custom errors => HTTP status
_REVERT_STATUS = {
    "MissingRole": 403,
    "NotProductOwner": 404,
    "PrefixHeldByOther": 403,  # a GTIN or a device's GIAI under another member's GS1 company prefix
    "UnknownProduct": 404,
    "UnknownBatch": 404,
    "UnknownOrder": 404,
    "InvalidGtin": 422,
    "InvalidLot": 422,
    "ZeroAmount": 422,
    "RateAboveCap": 422,
    "ReferralAboveTerms": 422,  # a referral rate above what the order's merchant agreed to
    "ReferrerNotAllowed": 422,  # a referrer who is the order's merchant, its payer or another level's
    "NotAParty": 422,  # the settlement contract named as a party
    "TooManyLevels": 422,
    "NotAMerchant": 422,
    "UnknownCase": 404,
    "NotTheCarrier": 403,
    "NotAllowed": 403,
    "NotAnArbiter": 403,
    "PartyToCase": 403,
    "PartyToOrder": 403,
    "OpenerAlone": 403,
    "BadQuorum": 422,
    "NotACarrier": 422,
    "PayerNotCaller": 422,
    "TooFewSignatures": 422,
    "SignersNotAscending": 422,
    "RefundTooLarge": 422,
    "AmountTooLarge": 422,
    "WrongStatus": 409,
    "WindowClosed": 409,
    "HasCarrier": 409,
    "TermsMismatch": 409,
    "SlotInUse": 409,
    "PeriodTooLong": 422,
    "NotARecorder": 422,
    "ECDSAInvalidSignature": 422,
    "ECDSAInvalidSignatureS": 422,
    "ECDSAInvalidSignatureLength": 422,
    "NotAuthorisedRecorder": 403,
}


_HTTP_CODES = {400: "bad_request", 404: "not_found", 405: "method_not_allowed", 413: "payload_too_large"}


def _body(code: str, detail: Any) -> dict[str, Any]:
    return {"error": code, "detail": detail}


def error_answer(exc: Exception) -> tuple[int, dict[str, Any], dict[str, str] | None] | None:
    """Status, body and headers for an error we know how to answer; None for any other (a 500)."""
    if isinstance(exc, ApiError):
        return exc.status, _body(exc.code, exc.detail), exc.headers
    if isinstance(exc, StarletteHTTPException):  # raised by the framework itself: 404, 405, ...
        code = _HTTP_CODES.get(exc.status_code, f"http_{exc.status_code}")
        return exc.status_code, _body(code, exc.detail), dict(exc.headers or {}) or None
    if isinstance(exc, RequestValidationError):
        problems = [{"field": ".".join(str(p) for p in e["loc"]), "reason": e["msg"]} for e in exc.errors()]
        return 422, _body("invalid_input", problems), None
    if isinstance(exc, DatabaseUnavailable | InterfaceError | InvalidatePoolError):
        # the database is restarting, unreachable or out of space: nothing was committed; retry
        reason = str(getattr(exc, "orig", None) or exc).splitlines()[0][:200]
        return 503, _body("database_unavailable", reason), {"Retry-After": "1"}
    if isinstance(exc, IntegrityError) and _duplicate(exc):  # checked, then inserted by two at once
        return 409, _body("conflict", "another request wrote the same record at the same moment; read it again"), None
    if isinstance(exc, RequestException):  # the chain node did not answer a read in time
        return 503, _body("NodeUnavailable", without_credentials(str(exc).splitlines()[0])[:200]), {"Retry-After": "2"}
    if isinstance(exc, Web3RPCError):  # the node refused a question of ours (its key cannot pay, ...): not the caller's
        return 503, _body("node_refused", f"the chain node refused: {node_reason(exc)}"), {"Retry-After": "5"}
    if isinstance(exc, TransactionRejected):  # the node refused it before it ran (a nonce clash, ...)
        return 409, _body("transaction_rejected", str(exc)), None
    if isinstance(exc, TransactionFailed):
        return _REVERT_STATUS.get(exc.error or "", 409), _body(exc.error or "reverted", str(exc)), None
    if isinstance(exc, QueryParameterError):
        return 400, _body("query_parameter", str(exc)), None
    if isinstance(exc, QueryTooLarge):
        return 413, _body("query_too_large", str(exc)), None
    if isinstance(exc, LedgerError):
        if isinstance(exc, NodeUnavailable | ManifestMissing | ManifestMismatch):
            status, code = 503, type(exc).__name__
        elif isinstance(exc, Conflict):
            status, code = 409, exc.code
        elif isinstance(exc, NotFound):
            status, code = 404, "not_found"
        elif isinstance(exc, Forbidden):
            status, code = 403, "forbidden"
        elif isinstance(exc, InvalidInput):
            status, code = 422, "invalid_input"
        else:
            status, code = 400, type(exc).__name__
        return status, _body(code, without_credentials(str(exc)) if status == 503 else str(exc)), None
    return None


def _duplicate(exc: IntegrityError) -> bool:
    """A unique key taken (SQLite's message, PostgreSQL's SQLSTATE 23505): two requests raced to write
    one record. Any other integrity error is our fault and stays a 500."""
    orig = exc.orig
    return (
        "UNIQUE constraint failed" in str(orig) or getattr(orig, "sqlstate", getattr(orig, "pgcode", None)) == "23505"
    )


def _audit_detail(exc: Exception, body: dict[str, Any]) -> str:
    if isinstance(exc, RequestValidationError):
        return "; ".join(f"{p['field']}: {p['reason']}" for p in body["detail"])
    return str(exc.detail) if isinstance(exc, ApiError) else str(exc)


def _allowed(request: Request) -> str:
    """Every method some route serves on the request's path (RFC 9110 15.5.6: a 405's Allow lists the
    resource's methods; Starlette's names those of the first route the path matched, outside probe)."""
    methods: set[str] = set()
    for route in iter_route_contexts(request.app.router.routes):  # (included routers' routes, with their prefixes)
        matches = getattr(route, "matches", None) if route.methods else None
        if matches is not None and matches(request.scope)[0] != Match.NONE:
            methods |= route.methods
    if policies(request.scope).get(request.url.path, "answers_options"):
        methods.add("OPTIONS")
    return ", ".join(sorted(methods))


def install(app: FastAPI) -> None:
    async def _answer(request: Request, exc: Exception) -> JSONResponse:
        known = error_answer(exc)
        if known is None:  # an integrity error other than a duplicate: ours, a logged 500
            raise exc
        status, body, headers = known
        if status == 405 and isinstance(exc, StarletteHTTPException):  # the router's Allow names one route's
            headers = {**(headers or {}), "Allow": _allowed(request)}
        request.state.audit_detail = _audit_detail(exc, body)
        render = policies(request.scope).get(request.url.path, "render_error")
        if render is not None:  # a domain's own error format (the EPCIS binding: RFC 7807 problems)
            status, body, kind = render(status, body["error"], body["detail"], request.scope)
            return JSONResponse(body, status, headers=headers, media_type=kind)
        return JSONResponse(status_code=status, content=body, headers=headers)

    unavailable = (DatabaseUnavailable, InterfaceError, InvalidatePoolError, RequestException, Web3RPCError)
    for known in (
        ApiError,
        RequestValidationError,
        TransactionFailed,
        LedgerError,
        StarletteHTTPException,
        IntegrityError,
        *unavailable,
    ):
        app.add_exception_handler(known, _answer)
