"""Who may record events about a product: its merchant and the producers, carriers and inspectors
the merchant authorised on chain (`Provenance.setRecorder`, `mayRecord`). Capture asks the chain;
the scan page reads the indexed `RecorderSet` events, so a page never shows as part of a product's
history an event whose recorder the merchant did not (or no longer does) authorise."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable

from sqlalchemy import select
from sqlalchemy.orm import Session as DbSession

from ledger.chain.deploy import Deployment
from ledger.store.models import ChainEvent, Product


def may_record_on_chain(dep: Deployment, recorder: str) -> Callable[[str], bool]:
    """`gtin -> bool` for one recorder, asking the chain once per GTIN."""
    prov = dep.contract("Provenance")
    seen: dict[str, bool] = {}

    def check(gtin: str) -> bool:
        if gtin not in seen:
            seen[gtin] = bool(prov.functions.mayRecord(int(gtin), recorder).call())
        return seen[gtin]

    return check


def authorised(db: DbSession, gtin: str) -> set[str] | None:
    """The product's merchant and the recorders it authorised, as indexed; None for a product
    nobody registered here (then nobody's events are filtered)."""
    product = db.get(Product, gtin)
    if product is None:
        return None
    allowed = {product.merchant}
    for (args,) in db.execute(
        select(ChainEvent.args)
        .where(ChainEvent.contract == "Provenance", ChainEvent.event == "RecorderSet", ChainEvent.key == str(int(gtin)))
        .order_by(ChainEvent.block_number, ChainEvent.log_index)
    ):
        a = json.loads(args)
        (allowed.add if a["allowed"] else allowed.discard)(a["recorder"])
    allowed.add(product.merchant)  # the owner always records (`mayRecord`), whatever it set about itself
    return allowed


def current_recorders(dep: Deployment, gtin: str) -> list[str]:
    """The recorders a product's merchant has authorised, from the chain's `RecorderSet` logs."""
    state: dict[str, bool] = {}
    for log in dep.logs(dep.contract("Provenance").events.RecorderSet, gtin=int(gtin)):
        state[log["args"]["recorder"]] = bool(log["args"]["allowed"])
    return sorted(a for a, ok in state.items() if ok)


def refused(gtins: Iterable[str], owners: dict[str, str], may_record: Callable[[str], bool]) -> str | None:
    """The first registered GTIN among `gtins` the recorder may not record about, if any."""
    for g in gtins:
        if g in owners and not may_record(g):
            return g
    return None
