"""Ageing of money held, at a run's cut-off (its block's time is "now"), from the indexed events:

- `escrow_overdue`: an order neither settled nor wholly refunded past the time it could be settled
  (its return window's end once delivered, else the settlement timeout); disputed orders are
  listed as `escrow_disputed` with the time since the dispute;
- `withdrawal_not_taken`: a merchant's withdrawal request past its unlock time, neither taken nor
  cancelled (past its window as well it has lapsed, and stays listed until asked again or cancelled);
- `deposit_frozen`: a complaint case still freezing deposit;
- `payout_unpulled`: fen the settlement contract owes an account (`owed` at the cut-off), with the
  time since it last pulled (or since it was first paid into, if never).

Each item has its age and a state against its limit: `ok`, `warning` (past 80% of the limit), or
`over`. Limits: escrows are due at their own time (a day's warning before); the others are
`AgeingLimits` (withdrawals 30 days, freezes 30 days, payouts 90 days; `LEDGER_AGEING_WITHDRAWAL_DAYS`,
`LEDGER_AGEING_FREEZE_DAYS`, `LEDGER_AGEING_PAYOUT_DAYS`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Engine, select

from ledger.chain.deploy import Deployment
from ledger.config import env
from ledger.store.models import ChainEvent

DAY = 86_400


def _days(name: str) -> int:
    return getattr(env(), f"ageing_{name}_days") * DAY


@dataclass(frozen=True)
class AgeingLimits:
    withdrawal_s: int = field(default_factory=lambda: _days("withdrawal"))
    freeze_s: int = field(default_factory=lambda: _days("freeze"))
    payout_s: int = field(default_factory=lambda: _days("payout"))
    escrow_warning_s: int = DAY


def _state(age: int, limit: int) -> str:
    return "over" if age > limit else "warning" if age > 0.8 * limit else "ok"


def _events(engine: Engine, contract: str, names: list[str], cut: int) -> list[tuple]:
    q = (
        select(ChainEvent.event, ChainEvent.key, ChainEvent.args, ChainEvent.tx_hash, ChainEvent.block_number)
        .where(ChainEvent.contract == contract, ChainEvent.event.in_(names), ChainEvent.block_number <= cut)
        .order_by(ChainEvent.block_number, ChainEvent.log_index)
    )
    with engine.connect() as conn:
        return [(e, k, json.loads(a), tx, b) for e, k, a, tx, b in conn.execute(q)]


def ageing(engine: Engine, dep: Deployment, cut: int, limits: AgeingLimits | None = None) -> list[dict[str, Any]]:
    limits = limits or AgeingLimits()
    w3 = dep.w3
    times: dict[int, int] = {}

    def at(block: int) -> int:
        if block not in times:
            times[block] = int(w3.eth.get_block(block)["timestamp"])
        return times[block]

    now = at(cut)
    out: list[dict[str, Any]] = []
    # escrows
    settle_after: dict[str, int] = {}
    due: dict[str, int] = {}
    disputed: dict[str, int] = {}
    names = ["EscrowBatch", "OrderEscrowed", "OrderDelivered", "OrderDisputed", "OrderRuled", "OrderSettled",
             "OrderRefunded", "PayoutWithdrawn"]  # fmt: skip
    rows = _events(engine, "OrderSettlement", names, cut)
    pulled: dict[str, int] = {}
    first_paid: dict[str, int] = {}
    for event, key, args, tx, block in rows:
        if event == "EscrowBatch":
            settle_after[tx] = int(args["settleAfter"])
            for a in args["accounts"]:
                first_paid.setdefault(a, block)
        elif event == "OrderEscrowed":
            due[key] = settle_after.get(tx, now)
        elif event == "OrderDelivered":
            due[key] = int(args["windowEnds"])
        elif event == "OrderDisputed":
            disputed[key] = block
        elif (
            event == "OrderRuled"
            or event == "OrderSettled"
            or (event == "OrderRefunded" and int(args["remaining"]) == 0)
        ):
            due.pop(key, None)
            disputed.pop(key, None)
        elif event == "PayoutWithdrawn":
            pulled[args["account"]] = block
    for key, when in sorted(due.items()):
        if key in disputed:
            age = now - at(disputed[key])
            out.append({"kind": "escrow_disputed", "subject": key, "age_s": age, "state": "warning"})
        elif now > when - limits.escrow_warning_s:
            out.append({"kind": "escrow_overdue", "subject": key, "due_at": when, "age_s": max(0, now - when),
                        "state": "over" if now > when else "warning"})  # fmt: skip
    # withdrawals and freezes
    vault_rows = _events(engine, "GuaranteeVault", ["WithdrawalRequested", "WithdrawalCancelled", "Withdrawn",
                                                    "CaseOpened", "CaseReleased", "CasePaidOut"], cut)  # fmt: skip
    requests: dict[str, int] = {}
    cases: dict[str, tuple[int, str, int]] = {}
    for event, key, args, _, block in vault_rows:
        if event == "WithdrawalRequested":
            requests[args["merchant"]] = int(args["unlockAt"])
        elif event in ("WithdrawalCancelled", "Withdrawn"):
            requests.pop(args["merchant"], None)
        elif event == "CaseOpened":
            cases[key] = (block, args["merchant"], int(args["amount"]))
        else:
            cases.pop(key, None)
    for merchant, unlock in sorted(requests.items()):
        if unlock < now:
            age = now - unlock
            out.append({"kind": "withdrawal_not_taken", "subject": merchant, "age_s": age,
                        "state": _state(age, limits.withdrawal_s)})  # fmt: skip
    for case_id, (block, merchant, amount) in sorted(cases.items()):
        age = now - at(block)
        out.append({"kind": "deposit_frozen", "subject": f"case {case_id}", "merchant": merchant, "amount_fen": amount,
                    "age_s": age, "state": _state(age, limits.freeze_s)})  # fmt: skip
    # payouts owed and not pulled
    settlement = dep.contract("OrderSettlement")
    for account in sorted(first_paid):
        owed = int(settlement.functions.owed(account).call(block_identifier=cut))
        if owed:
            age = now - at(pulled.get(account, first_paid[account]))
            out.append({"kind": "payout_unpulled", "subject": account, "amount_fen": owed, "age_s": age,
                        "state": _state(age, limits.payout_s)})  # fmt: skip
    return out
