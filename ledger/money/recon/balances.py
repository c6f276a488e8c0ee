"""Balances, not only rows: at a run's cut-off block, what each contract that holds money holds by
the chain's own account, against what the indexed events say it should hold; and the token's
supply against what was minted and burned.

- GuaranteeVault: deposits in; withdrawals and claims paid out;
- OrderSettlement: escrows in (each order's amount); payouts pulled out (refunds and settlements
  only move money inside the contract, into what it owes);
- SettlementToken: total supply = minted - burned.

Each statement shows every gross movement and the difference; a difference is money that moved
without an event of ours behind it, the highest-priority break.
"""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import Engine, select

from ledger.chain.deploy import Deployment
from ledger.money.orders.terms import unpack_amount
from ledger.store.models import ChainEvent

ZERO = "0x" + "00" * 20

#: contract => {event: (direction, label, amount of its args)}
FLOWS: dict[str, dict[str, tuple[str, str, Any]]] = {
    "GuaranteeVault": {
        "Deposited": ("in", "deposits", lambda a: int(a["amount"])),
        "Withdrawn": ("out", "withdrawals", lambda a: int(a["amount"])),
        "Claimed": ("out", "claims paid", lambda a: int(a["amount"])),
    },
    "OrderSettlement": {
        "OrderEscrowed": ("in", "escrows", lambda a: unpack_amount(int(a["terms"]))),
        "PayoutWithdrawn": ("out", "payouts pulled", lambda a: int(a["amount"])),
    },
}


def _sums(engine: Engine, contract: str, events: dict[str, Any], up_to: int) -> dict[str, dict[str, int]]:
    out: dict[str, dict[str, int]] = {"in": {}, "out": {}}
    for _, (direction, label, _) in events.items():
        out[direction].setdefault(label, 0)
    q = select(ChainEvent.event, ChainEvent.args).where(
        ChainEvent.contract == contract, ChainEvent.event.in_(list(events)), ChainEvent.block_number <= up_to
    )
    with engine.connect() as conn:
        for event, args in conn.execute(q):
            direction, label, amount = events[event]
            out[direction][label] += amount(json.loads(args))
    return out


def statements(engine: Engine, dep: Deployment, cut_off: int) -> list[dict[str, Any]]:
    """One statement per money-holding contract, and one for the token's supply, at `cut_off`."""
    token = dep.contract("SettlementToken")
    out = []
    for name, events in FLOWS.items():
        address = dep.contract(name).address
        flows = _sums(engine, name, events, cut_off)
        expected = sum(flows["in"].values()) - sum(flows["out"].values())
        actual = int(token.functions.balanceOf(address).call(block_identifier=cut_off))
        out.append(_statement(name, address, flows, expected, actual))
    minted = burned = 0
    q = select(ChainEvent.args).where(
        ChainEvent.contract == "SettlementToken", ChainEvent.event == "Transfer", ChainEvent.block_number <= cut_off
    )
    with engine.connect() as conn:
        for (args,) in conn.execute(q):
            a = json.loads(args)
            minted += int(a["value"]) if a["from"] == ZERO else 0
            burned += int(a["value"]) if a["to"] == ZERO else 0
    supply = int(token.functions.totalSupply().call(block_identifier=cut_off))
    flows = {"in": {"minted": minted}, "out": {"burned": burned}}
    out.append(_statement("SettlementToken supply", token.address, flows, minted - burned, supply))
    return out


def _statement(name: str, address: str, flows: dict[str, dict[str, int]], expected: int, actual: int) -> dict:
    return {
        "contract": name,
        "address": address,
        "asset": "fen",
        "in": flows["in"],
        "out": flows["out"],
        "expected_fen": expected,
        "actual_fen": actual,
        "difference_fen": actual - expected,
        "explained": actual == expected,
    }
