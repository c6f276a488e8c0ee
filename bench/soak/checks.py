"""After the load: let the stack finish what it acknowledged, then compare each outcome with the
chain and the tables. Every failed check is a line in `problems`; figures go in `figures`.

- captures: each acknowledged event stored once and anchored; every root on chain by the anchoring
  member has its row (no anchor sent twice or left unrecorded), and every anchor row its root;
- code issues: each acknowledged issue stored whole (its codes) and its root on chain; every
  codes root on chain has its issue (none sent and forgotten);
- scans: per code, acknowledged <= counted <= tried;
- orders: each acknowledged order in the table and escrowed on chain exactly once; no escrow on
  chain without its row; deliveries acknowledged are delivered; all settle;
- deposits: each acknowledged deposit on chain exactly once, unanswered ones at most once, refused
  ones never; the vault holds the sum;
- the settlement contract holds exactly what it still owes; reconciliation is all matched.
"""

from __future__ import annotations

import time
from collections import Counter
from typing import Any

import httpx
from sqlalchemy import func, select

from ledger.money.recon.inputs import chain_records, orders_from_db
from ledger.money.recon.reconcile import reconcile
from ledger.store.db import make_engine
from ledger.store.models import Code, CodeIssue, EpcisAnchor, EpcisEvent, IndexerCheckpoint, Order, ScanStat

from .load import Journal
from .stack import Stack


def _logs(stack: Stack, contract: str, event: str) -> list[Any]:
    c = stack.dep.contract(contract)
    return list(getattr(c.events, event)().get_logs(from_block=stack.dep.manifest.get("deployed_at_block", 0)))


def _wait(what: str, ready, timeout: float = 120) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not ready():
        if time.monotonic() > deadline:
            raise RuntimeError(f"gave up waiting for {what} after {timeout:.0f} s")
        time.sleep(0.5)


def drain(stack: Stack, journal: Journal, headers: dict[str, dict[str, str]]) -> None:
    """Anchor what is pending, settle every acknowledged order, let the indexer reach the head."""
    engine = make_engine(stack.db_url)
    with engine.connect() as c:
        pending = lambda: c.execute(select(func.count()).where(EpcisEvent.anchor_id.is_(None))).scalar() == 0  # noqa: E731
        _wait("events to be anchored", lambda: pending() or c.rollback())
        # a code issue whose anchoring answer was lost is completed or undone by the catch-up
        unsettled = select(func.count()).where(CodeIssue.anchor_tx.is_(None))
        _wait("code issues to be completed or undone", lambda: c.execute(unsettled).scalar() == 0 or c.rollback())
    ids = [oid for o in journal.outcomes if o.kind == "order" and o.outcome == "ack" for oid in o.detail["orders"]]
    time.sleep(3)  # the return window (2 s) of the last deliveries
    with httpx.Client(base_url=stack.base, timeout=60) as client:
        for n in range(0, len(ids), 100):
            r = client.post("/v1/orders/settle", json={"order_ids": ids[n : n + 100]}, headers=headers["platform"])
            if r.status_code != 200:
                raise RuntimeError(f"settle: {r.status_code} {r.text[:300]}")
    target = stack.w3.eth.block_number + 2  # the settlements' blocks, confirmed

    def indexed() -> bool:
        with engine.connect() as c:
            return (c.execute(select(func.min(IndexerCheckpoint.block_number))).scalar() or 0) >= target

    _wait("the indexer to index the settlements", indexed)
    engine.dispose()


def check(stack: Stack, journal: Journal) -> tuple[list[str], dict[str, Any]]:
    problems: list[str] = []
    figures: dict[str, Any] = {}
    engine = make_engine(stack.db_url)
    by_kind: dict[str, Counter] = {}
    for o in journal.outcomes:
        by_kind.setdefault(o.kind, Counter())[o.outcome] += 1
    figures["outcomes"] = {k: dict(v) for k, v in sorted(by_kind.items())}
    lost: Counter = Counter()
    dup: Counter = Counter()
    with engine.connect() as db:
        # captures and their anchors
        stored = Counter(db.execute(select(EpcisEvent.hash_id, EpcisEvent.anchor_id)).all())
        hashes = Counter(h for h, _ in stored)
        unanchored = {h for (h, a) in stored if a is None}
        for o in journal.outcomes:
            if o.kind == "capture" and o.outcome == "ack":
                for h in o.detail["events"]:
                    lost["events"] += hashes[h] == 0
                    dup["events"] += max(0, hashes[h] - 1)
                    if h in unanchored:
                        problems.append(f"event {h} acknowledged but never anchored")
        rows = {r for (r,) in db.execute(select(EpcisAnchor.root))}
        anchorer = stack.members["platform"].address
        on_chain = Counter("0x" + bytes(e["args"]["root"]).hex() for e in _logs(stack, "Provenance", "RootAnchored")
                           if e["args"]["submitter"] == anchorer)  # fmt: skip
        for root in set(on_chain) - rows:
            problems.append(f"EPCIS root {root} anchored on chain with no row: sent, then forgotten")
        for root in rows - set(on_chain):
            problems.append(f"EPCIS anchor row {root} whose root is not on chain")
        # code issues
        issues = {r: (i, n) for i, r, n in db.execute(select(CodeIssue.id, CodeIssue.root, CodeIssue.count))}
        code_counts = Counter(i for (i,) in db.execute(select(Code.issue_id)))
        merchant = stack.members["merchant_a"].address
        code_roots = {"0x" + bytes(e["args"]["root"]).hex() for e in _logs(stack, "Provenance", "RootAnchored")
                      if e["args"]["submitter"] == merchant}  # fmt: skip
        for o in journal.outcomes:
            if o.kind == "codes" and o.outcome == "ack":
                lost["code issues"] += o.detail["root"] not in issues
        for root, (issue_id, n) in issues.items():
            if code_counts[issue_id] != n:
                problems.append(f"code issue {issue_id} holds {code_counts[issue_id]} of its {n} codes")
            if root not in code_roots:
                problems.append(f"code issue {issue_id} has no root on chain")
        for root in code_roots - set(issues):
            problems.append(f"codes root {root} on chain with no issue: sent, then forgotten")
        # scans
        counted = Counter()
        for serial, n in db.execute(
            select(Code.serial, func.sum(ScanStat.count))
            .join(ScanStat, ScanStat.code_id == Code.id)
            .group_by(Code.serial)
        ):
            counted[serial] = int(n)
        for serial, tried in journal.scans_tried.items():
            acked = journal.scans_acked.get(serial, 0)
            if counted[serial] < acked:
                lost["scans"] += acked - counted[serial]
            if counted[serial] > tried:
                dup["scans"] += counted[serial] - tried
        figures["scans"] = {
            "tried": sum(journal.scans_tried.values()),
            "acknowledged": sum(journal.scans_acked.values()),
            "counted": sum(counted.values()),
        }
        # orders
        table = {
            oid: (key, status) for oid, key, status in db.execute(select(Order.order_id, Order.order_key, Order.status))
        }
        escrows = Counter(
            "0x" + bytes(e["args"]["key"]).hex() for e in _logs(stack, "OrderSettlement", "OrderEscrowed")
        )
        for o in journal.outcomes:
            if o.kind == "order" and o.outcome == "ack":
                for oid in o.detail["orders"]:
                    if oid not in table:
                        lost["orders"] += 1
                        continue
                    key, status = table[oid]
                    lost["orders"] += escrows[key] == 0
                    dup["orders"] += max(0, escrows[key] - 1)
                    if status != "settled":
                        problems.append(f"order {oid} is {status} after settlement")
        for key in set(escrows) - {k for k, _ in table.values()}:
            problems.append(f"escrow {key} on chain with no order row: half-written")
        # deposits
        made = Counter(int(e["args"]["amount"]) for e in _logs(stack, "GuaranteeVault", "Deposited"))
        for o in journal.outcomes:
            if o.kind == "deposit":
                n = made[o.detail["amount"]]
                if o.outcome == "ack":
                    lost["deposits"] += n == 0
                    dup["deposits"] += max(0, n - 1)
                elif n > (1 if o.outcome == "unknown" else 0):
                    problems.append(f"deposit {o.detail['amount']} ({o.outcome}) on chain {n} times")
    token = stack.dep.contract("SettlementToken")
    vault = stack.dep.contract("GuaranteeVault")
    held = token.functions.balanceOf(vault.address).call()
    if held != sum(a * n for a, n in made.items()):
        problems.append(f"the vault holds {held} fen; deposits on chain sum to {sum(a * n for a, n in made.items())}")
    settlement = stack.dep.contract("OrderSettlement")
    payees = {a for e in _logs(stack, "OrderSettlement", "EscrowBatch") for a in e["args"]["accounts"]}
    payees.add(settlement.functions.treasury().call())
    owed = sum(settlement.functions.owed(a).call() for a in payees)
    holds = token.functions.balanceOf(settlement.address).call()
    figures["settlement_holds_fen"], figures["settlement_owes_fen"] = holds, owed
    if holds != owed:
        problems.append(f"the settlement contract holds {holds} fen and owes {owed} with every order settled")
    report = reconcile(orders_from_db(engine), chain_records(engine))
    unmatched = {c: t["count"] for c, t in report.totals.items() if c != "matched" and t["count"]}
    figures["reconciliation"] = unmatched or "reconciled"
    if unmatched:
        problems.append(f"reconciliation: {unmatched}")
    figures["acknowledged_writes_lost"], figures["duplicates"] = sum(lost.values()), sum(dup.values())
    if +lost or +dup:
        problems.append(f"acknowledged writes lost: {dict(+lost)}; duplicated: {dict(+dup)}")
    engine.dispose()
    return problems, figures
