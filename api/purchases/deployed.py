"""The chain's deployment with the purchase proofs in it, or a clear 409 when they are not there."""

from __future__ import annotations

from typing import Any

from fastapi import Request

from ..access.deps import deployment_of
from ..core.errors import ApiError


def proofs_deployment(request: Request) -> Any:
    dep = deployment_of(request)
    if "PurchaseProofs" not in dep.manifest["contracts"]:
        raise ApiError(409, "zk_not_deployed", "purchase proofs are not deployed on this chain: `ledger zk deploy`")
    return dep
