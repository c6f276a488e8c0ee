"""Health and deployment information: what any client needs to find and trust the contracts."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse

from ..core.services import rate_limited, services
from .health import health

router = APIRouter(tags=["system"])


@router.get("/livez", summary="Liveness only: the process answers (no dependency is checked)")
async def livez() -> dict[str, bool]:
    return {"ok": True}


@router.get(
    "/healthz",
    dependencies=[Depends(rate_limited)],  # it asks the node and the database: within the public budget
    summary="What users depend on: chain head age, contracts, database, anchorer and indexer lag",
)
def healthz(request: Request) -> JSONResponse:
    """200 when every check is within its threshold (api/system/health.py); 503 naming each failing
    check and why otherwise."""
    ok, checks = health(services(request))
    body = {"status": "ok" if ok else "degraded", "checks": checks}
    if not ok:
        body["reasons"] = [f"{name}: {c['error']}" for name, c in checks.items() if not c["ok"]]
    return JSONResponse(status_code=200 if ok else 503, content=body)


@router.get(
    "/v1/contracts",
    dependencies=[Depends(rate_limited)],
    summary="The deployment manifest: chain id, addresses and ABIs",
)
def contracts(request: Request) -> dict[str, Any]:
    """The deployment as recorded in the manifest and checked against the node."""
    m = services(request).chain.deployment().manifest
    return {
        "chain_id": m["chain_id"],
        "deployed_at_block": m["deployed_at_block"],
        "solc": m["solc"],
        "evm_version": m["evm_version"],
        "governance": m["governance"],
        "contracts": m["contracts"],
    }
