"""Health and deployment information: what any client needs to find and trust the contracts."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse

from ledger.chain.client import connect
from ledger.chain.deploy import attach
from ledger.store.db import ping

from ..services import rate_limited, services

router = APIRouter(tags=["system"])


@router.get("/livez", summary="Liveness only: the process answers (no dependency is checked)")
async def livez() -> dict[str, bool]:
    return {"ok": True}


@router.get(
    "/healthz",
    dependencies=[Depends(rate_limited)],  # it asks the node and the database: within the public budget
    summary="Liveness and dependencies: chain node, deployment, database",
)
def healthz(request: Request) -> JSONResponse:
    """200 when the node answers, the manifest's contracts are on that chain and the database
    answers; 503 naming each failing dependency otherwise."""
    svc = services(request)
    s = svc.settings
    checks: dict[str, Any] = {}
    try:
        w3 = connect(s.rpc_url, timeout=s.rpc_timeout_s)
        checks["chain"] = {"ok": True, "chain_id": w3.eth.chain_id, "block": w3.eth.block_number}
        try:
            attach(w3, s.manifest_path)
            checks["contracts"] = {"ok": True}
        except Exception as exc:  # noqa: BLE001 - any failure is reported, not raised
            checks["contracts"] = {"ok": False, "error": str(exc)}
    except Exception as exc:  # noqa: BLE001
        checks["chain"] = {"ok": False, "error": str(exc)}
    try:
        checks["database"] = {"ok": True, "dialect": ping(svc.engine)}
    except Exception as exc:  # noqa: BLE001
        checks["database"] = {"ok": False, "error": str(exc).splitlines()[0]}
    ok = all(c["ok"] for c in checks.values()) and "contracts" in checks
    body = {"status": "ok" if ok else "degraded", "checks": checks}
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
