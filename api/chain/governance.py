"""Governance: the council, proposals with typed actions and their reasons, approvals.

Governors (members of the `Governance` council on chain) propose and approve; every member reads.
Everything shown is read back from the chain's events. An approval that would execute a proposal
is simulated first: if the call would fail, the answer is 409 naming the contract's error and
nothing is sent.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Path, Request
from pydantic import BaseModel, Field

from ledger.access.roles import Role
from ledger.chain import explorer, governance
from ledger.chain.governance import InvalidAction

from ..access.auth import Member, authenticate, require
from ..core.errors import ApiError, invalid, not_found
from ..core.services import services

router = APIRouter(prefix="/v1/governance", tags=["governance"])


class ProposalIn(BaseModel):
    action: dict[str, Any] = Field(
        description=f"`type` (one of {', '.join(governance.ACTIONS)}) and its fields",
        examples=[{"type": "admit_member", "address": "0x" + "11" * 20, "roles": ["merchant"]}],
    )
    reason: str = Field(min_length=1, max_length=500, description="why; recorded on chain with the proposal")


def _dep(request: Request):  # type: ignore[no-untyped-def]
    return services(request).chain.deployment()


def _with_outlook(dep, proposal: dict[str, Any], council: dict[str, Any]) -> dict[str, Any]:
    """An open proposal one approval from the threshold says whether that approval would succeed."""
    if proposal["status"] == "open" and len(proposal["approvals"]) == council["threshold"] - 1:
        waiting = [g for g in council["governors"] if g not in proposal["approvals"]]
        if waiting:
            proposal["last_approval"] = governance.simulate_approval(dep, proposal["id"], waiting[0])
    return proposal


@router.get("", summary="The council: governors, threshold, proposal count")
def get_council(request: Request, _: Member = Depends(authenticate)) -> dict[str, Any]:
    return governance.council(_dep(request))


@router.get("/members", summary="Members admitted and not removed, with their roles now, read from the chain")
def list_members(request: Request, _: Member = Depends(authenticate)) -> list[dict[str, Any]]:
    return explorer.members(_dep(request))


@router.get("/parameters", summary="Caps, minimums and timeouts in force, read from the contracts")
def get_parameters(request: Request, _: Member = Depends(authenticate)) -> dict[str, Any]:
    return explorer.parameters(_dep(request))


@router.get("/proposals", summary="Proposals, newest first, as the chain records them")
def list_proposals(request: Request, _: Member = Depends(authenticate)) -> list[dict[str, Any]]:
    dep = _dep(request)
    council = governance.council(dep)
    return [_with_outlook(dep, p, council) for p in governance.proposals(dep)]


def _one(dep, proposal_id: int) -> dict[str, Any]:
    found = governance.proposals(dep, proposal_id)
    if not found:
        raise not_found(f"proposal {proposal_id}")
    return _with_outlook(dep, found[0], governance.council(dep))


@router.get("/proposals/{proposal_id}", summary="One proposal")
def get_proposal(
    request: Request, proposal_id: int = Path(ge=1, le=2**63 - 1), _: Member = Depends(authenticate)
) -> dict[str, Any]:
    return _one(_dep(request), proposal_id)


@router.post("/proposals", status_code=201, summary="Propose an action (governors)")
def create_proposal(body: ProposalIn, request: Request, member: Member = Depends(require(Role.GOVERNOR))) -> dict:
    dep = _dep(request)
    try:
        governance.encode(dep, body.action)
    except InvalidAction as exc:
        raise invalid(f"body.{exc.field}", exc.reason) from None
    sender = services(request).signers.sender_for(member.address)
    proposal_id = governance.propose(dep, sender, body.action, body.reason)
    request.state.audit_detail = f"proposal {proposal_id}: {body.action.get('type')}"
    return _one(dep, proposal_id)


@router.post("/proposals/{proposal_id}/approvals", summary="Approve a proposal (governors)")
def approve_proposal(
    request: Request, proposal_id: int = Path(ge=1, le=2**63 - 1), member: Member = Depends(require(Role.GOVERNOR))
) -> dict:
    dep = _dep(request)
    current = _one(dep, proposal_id)
    outlook = governance.simulate_approval(dep, proposal_id, member.address)
    if not outlook["ok"]:
        raise ApiError(409, "would_fail", f"approving proposal {proposal_id} would fail: {outlook['error']}")
    governance.approve(dep, services(request).signers.sender_for(member.address), proposal_id)
    request.state.audit_detail = f"approved proposal {proposal_id} ({current['action']['type']})"
    return _one(dep, proposal_id)
