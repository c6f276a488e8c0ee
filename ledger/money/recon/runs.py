"""Reconciliation runs an auditor can sign off on: each run has a cut-off block, says whether it
can conclude, proves balances, and carries its breaks from run to run.

Verdict, in order:
- `incomplete`: the indexer has not reached the cut-off; a stored block hash (of a block holding
  our events, from `REORG_WINDOW` blocks before the previous run's cut-off) no longer matches the
  chain; the orders input is malformed.
  (A previous run's cut-off block that left the chain is noted, not blocking: this run reads the
  chain as it is now, and breaks that flipped say why.) Each reason is named, and nothing is concluded from absent data:
  no row is classified, no break opened or resolved.
- `breaks`: any row that is not matched or pending, or a balance the indexed events do not explain;
- `reconciled_with_pending`: everything agrees but some records are not final yet; each pending
  row says after which block it becomes a break if it still disagrees;
- `reconciled`.

Breaks have a stable id (sha-256 of the order key, or the contract's address, and the rule it
broke: `escrow_exists`, `order_exists`, `amount_agrees`, ...), a priority (P1 money moved with no
record behind it ... P4 cosmetic) and a lifecycle (`breaks`): `new` when first seen (or
seen again after being resolved, keeping its first-seen time), `persisting` while seen,
`resolved` once, by the first complete run that no longer sees it and whose cut-off is at or
after the highest cut-off the break was seen at (an earlier cut-off resolves nothing).
Money held too long is listed with its age (`ageing`). Runs are chained:
each names the previous run and the SHA-256 of its inputs (orders, the chain records up to the
cut-off, the cut-off block's hash); each previous run is named by one run only (a unique index:
runs started together cannot fork the chain, the later one is a `Conflict`). A cut-off must lie
between the block where the money contracts all exist and the head.
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterable
from typing import Any, TextIO

from sqlalchemy import Engine, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from web3 import Web3

from ledger.chain.deploy import Deployment
from ledger.clock import utcnow
from ledger.errors import Conflict, InvalidInput
from ledger.money.recon import breaks as recon_breaks
from ledger.money.recon.ageing import ageing
from ledger.money.recon.balances import statements
from ledger.money.recon.inputs import OrdersInputError, chain_sorted
from ledger.money.recon.reconcile import OrderRow
from ledger.money.recon.stream import drop_staged, orders_sorted, stage_csv, staged_sorted, stream
from ledger.store.models import ChainEvent, IndexerCheckpoint, Order, ReconRun

#: blocks below the previous run's cut-off whose stored hashes are checked again (deeper reorgs
#: than this would also show as the previous cut-off leaving the chain)
REORG_WINDOW = 64


def _hex(b: bytes) -> str:
    return "0x" + bytes(b).hex()


def indexed_to(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.scalar(select(func.min(IndexerCheckpoint.block_number))) or 0)


MONEY_CONTRACTS = ("SettlementToken", "GuaranteeVault", "OrderSettlement")


def _check_deployed_by(dep: Deployment, cut: int, head: int) -> None:
    """The contracts whose balances a run proves are deployed one after another: a cut-off before
    the last of them is a clear refusal naming the first block a run can use."""

    def complete(block: int) -> bool:
        return all(dep.w3.eth.get_code(dep.contract(n).address, block_identifier=block) for n in MONEY_CONTRACTS)

    if complete(cut):
        return
    lo, hi = cut + 1, head
    while lo < hi:
        mid = (lo + hi) // 2
        lo, hi = (lo, mid) if complete(mid) else (mid + 1, hi)
    raise InvalidInput(
        f"the cut-off block {cut} is before the deployment was complete: {', '.join(MONEY_CONTRACTS)} all exist "
        f"from block {lo}; choose a cut-off from there"
    )


def _stale_hashes(engine: Engine, w3: Web3, since: int, cut: int, prev: ReconRun | None) -> list[dict[str, str]]:
    """Blocks holding our indexed events since the previous run whose stored hash the chain no
    longer has, and the previous run's cut-off if it was orphaned."""
    out = []
    prev_hash = _hex(w3.eth.get_block(prev.cut_off_block)["hash"]) if prev and prev.cut_off_block <= cut else None
    if prev is not None and prev_hash not in (None, prev.cut_off_hash):
        detail = f"run {prev.id}'s cut-off block {prev.cut_off_block} ({prev.cut_off_hash}) left the chain"
        out.append({"reason": "previous_cut_off_orphaned", "detail": detail, "blocking": False})
    with engine.connect() as conn:
        stored = conn.execute(
            select(ChainEvent.block_number, ChainEvent.block_hash)
            .where(ChainEvent.block_number > since, ChainEvent.block_number <= cut)
            .distinct()
        ).all()
    for number, stored_hash in stored:
        chain_hash = _hex(w3.eth.get_block(number)["hash"])
        if chain_hash != stored_hash:
            detail = f"block {number}: indexed from {stored_hash}, the chain has {chain_hash}"
            out.append({"reason": "block_hash_mismatch", "detail": detail})
    return out


def run(
    engine: Engine,
    dep: Deployment,
    *,
    orders_csv: str | TextIO | None = None,
    cut_off: int | None = None,
    confirmations: int = 6,
) -> ReconRun:
    """Reconcile up to `cut_off` (default: as far as the indexer has read), store the run and move
    its breaks along their lifecycle; return the stored run."""
    w3, now = dep.w3, utcnow()
    indexed, head = indexed_to(engine), w3.eth.block_number
    cut = indexed if cut_off is None else cut_off
    deployed = int(dep.manifest["deployed_at_block"])
    if not deployed <= cut <= head:
        raise InvalidInput(f"the cut-off block {cut} is not between the deployment ({deployed}) and the head ({head})")
    _check_deployed_by(dep, cut, head)
    cut_hash = _hex(w3.eth.get_block(cut)["hash"])
    source = "orders table" if orders_csv is None else "orders CSV"
    with Session(engine) as db:  # runs are chained per source: the orders table, or exports
        prev = db.scalars(
            select(ReconRun).where(ReconRun.source == source).order_by(ReconRun.id.desc()).limit(1)
        ).first()
    reasons = []
    if indexed < cut:
        detail = f"the indexer has read to block {indexed}; the cut-off is block {cut}"
        reasons.append({"reason": "indexer_behind", "detail": detail})
    since = prev.cut_off_block - REORG_WINDOW if prev is not None and prev.verdict != "incomplete" else -1
    reasons += _stale_hashes(engine, w3, since, min(cut, indexed), prev)
    orders: Iterable[OrderRow] = ()
    token = None
    if orders_csv is not None:
        try:  # staged in the database, which sorts it: a file of any size streams
            token = stage_csv(engine, io.StringIO(orders_csv) if isinstance(orders_csv, str) else orders_csv)
            orders = staged_sorted(engine, token)
        except OrdersInputError as exc:
            reasons.append({"reason": "input_malformed", "detail": str(exc)})
    else:
        orders = orders_sorted(engine)
    try:
        tally = stream(orders, chain_sorted(engine, up_to=min(cut, indexed)))
    finally:
        if token is not None:
            drop_staged(engine, token)
    tally.digest.update(cut_hash.encode())
    digest = tally.digest.hexdigest()
    blocking = [r for r in reasons if r.get("blocking", True)]
    totals: dict[str, Any] = {}
    balances: list[dict[str, Any]] = []
    pending: list[dict[str, Any]] = []
    found: list[dict[str, Any]] = []
    aged: list[dict[str, Any]] = []
    if not blocking:
        totals = tally.totals
        late, gone = _after_cut_off(engine, w3, tally.kept, cut, source)
        for r in tally.kept:
            if r["order_key"] in gone:
                r["detail"] = gone[r["order_key"]]
            if r["class"] == "pending" or r["order_key"] in late:
                block = late.get(r["order_key"]) or r.get("chain_block", 0) + confirmations
                pending.append({**r, "class": "pending", "becomes_break_after_block": block})
            else:
                found.append(recon_breaks.of_row(r))
        balances = statements(engine, dep, cut)
        aged = ageing(engine, dep, cut)
        found += [recon_breaks.of_balance(s) for s in balances if not s["explained"]]
    verdict = (
        "incomplete" if blocking else "breaks" if found else "reconciled_with_pending" if pending else "reconciled"
    )
    with Session(engine, expire_on_commit=False) as db:
        row = ReconRun(
            previous_id=prev.id if prev else None,
            cut_off_block=cut,
            cut_off_hash=cut_hash,
            inputs_sha256=digest,
            verdict=verdict,
            source=source,
            reasons=json.dumps(reasons),
            totals=json.dumps(totals),
            balances=json.dumps(balances),
            pending=json.dumps(pending, default=str),
            ageing=json.dumps(aged),
            created_at=now,
        )
        db.add(row)
        try:  # one run per previous run (a unique index): the chain of runs stays one line
            db.flush()
            if verdict != "incomplete":
                recon_breaks.move(db, row, found, now)
            db.commit()
        except IntegrityError:
            raise Conflict(
                f"another reconciliation run after run {prev.id if prev else None} was stored first; start again"
            ) from None
        return row


def _after_cut_off(engine: Engine, w3: Web3, rows: list[dict], cut: int, source: str) -> tuple[dict, dict]:
    """Of our orders missing on chain at the cut-off: those escrowed after it (key => block), and
    those whose escrow transaction the chain no longer has (key => why): its block was orphaned."""
    late: dict[str, int] = {}
    gone: dict[str, str] = {}
    missing = [r["order_id"] for r in rows if r["class"] == "missing_on_chain"]
    if source != "orders table" or not missing:
        return late, gone
    with Session(engine) as db:
        for o in db.scalars(select(Order).where(Order.order_id.in_(missing))):
            receipt = _receipt(w3, o.escrow_tx)
            if receipt is not None and receipt["blockNumber"] > cut:
                late[o.order_key] = receipt["blockNumber"]
            elif receipt is None and o.escrow_tx:
                gone[o.order_key] = (
                    f"its escrow transaction {o.escrow_tx} is no longer on the chain: the block that held it "
                    "was orphaned (a matched escrow flipped back)"
                )
    return late, gone


def _receipt(w3: Web3, tx: str | None) -> Any:
    if not tx:
        return None
    try:
        return w3.eth.get_transaction_receipt(tx)
    except Exception:  # noqa: BLE001 - not found: never mined, or its block left the chain
        return None
