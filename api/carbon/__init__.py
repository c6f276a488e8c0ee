"""Carbon footprints over HTTP: the WBCSD PACT v3 API under `/pact` (`/pact/auth/token`,
`/pact/3/footprints`, `/pact/3/events`; HTTPS only, errors in PACT's `{code, message}` shape) and
the members' side under `/v1/carbon` (factor tables, PACT clients, partners whose requests are
answered and those requests, computing a batch's footprint, the public evidence `ledger
verify-footprint` checks). `install(app)` mounts both.

Imports `ledger.carbon` (computation, records, verification) and `ledger.store` (its tables)."""

from __future__ import annotations

from fastapi import APIRouter, FastAPI

from . import members, pact_auth, pact_events, pact_footprints, partners
from .pact_errors import PactError, answer

router = APIRouter()
router.include_router(pact_auth.router)
router.include_router(pact_footprints.router)
router.include_router(pact_events.router)
router.include_router(members.router)
router.include_router(partners.router)


def install(app: FastAPI) -> None:
    app.include_router(router)
    app.add_exception_handler(PactError, answer)  # type: ignore[arg-type]
