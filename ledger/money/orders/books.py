"""The platform's books behind its on-chain orders: the secret its order keys are derived with, the
settlement slots its open orders hold, and an order row read back as the terms the contract keeps.

- The secret is `LEDGER_ORDER_KEY_SECRET` (hex) or, by default, a random 32 bytes kept sealed
  (`ledger.access.sealed`) in `<data dir>/secrets/order-key` (mode 0600), made on first use.
  Losing it loses nothing on chain: stored orders keep their salts; only new keys could no
  longer be derived the same way.
- Slots are taken with a conditional update (`holder IS NULL`), so two writers never share one;
  a slot is freed when its order is settled or refunded, and reused by a later escrow once the
  transaction that freed it is final. (Reused at once, a reorg could put the escrow into the chain
  before the settlement that emptied its slot, sent by another key or skipped there: the
  escrow, already answered, reverted with `SlotInUse`, seen in `make bench` on the consortium.)
  A slot the chain reports in use (`SlotInUse`: other books on the same account) is marked foreign
  for good.
"""

from __future__ import annotations

import json
import secrets

from sqlalchemy import case, func, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session as DbSession

from ledger.access.sealed import unseal, write_sealed
from ledger.config import env
from ledger.errors import Conflict
from ledger.money.orders.terms import OrderTerms
from ledger.paths import data_dir
from ledger.store.models import Order, SettlementSlot

_SECRET: dict[str, tuple[int, bytes]] = {}


def order_secret() -> bytes:
    given = env().order_key_secret
    if given:
        return bytes.fromhex(given.removeprefix("0x"))
    path = data_dir() / "secrets" / "order-key"
    if not path.exists():
        write_sealed(path, secrets.token_bytes(32).hex().encode())
    mtime = path.stat().st_mtime_ns
    cached = _SECRET.get(str(path))
    if cached is None or cached[0] != mtime:  # opening it costs a key derivation: once per file
        cached = _SECRET[str(path)] = (mtime, bytes.fromhex(unseal(path.read_bytes()).decode().strip()))
    return cached[1]


def take_slots(db: DbSession, holders: list[str], floor: int = 1, final: int | None = None) -> list[int]:
    """A free slot for each holder (an order key), reusing freed ones first (only those freed in
    block `final` or before, when given: the newest final block), new ones numbered from at least
    `floor` (the chain's high-water mark for the payer, so a second set of books on the same account
    does not start over); committed at once so concurrent writers see them taken."""
    got = _slots_held(db, holders)  # a retry after an unknown outcome lands in the slots it took then
    wanted = [h for h in holders if h not in got]
    reusable = SettlementSlot.holder.is_(None)
    if final is not None:
        reusable &= SettlementSlot.freed_block.is_(None) | (SettlementSlot.freed_block <= final)
    free = list(
        db.scalars(select(SettlementSlot.slot).where(reusable).order_by(SettlementSlot.slot).limit(len(wanted)))
    )
    if free and wanted:  # one conditional update; a slot another writer took meanwhile keeps its holder
        chosen = dict(zip(free, wanted, strict=False))
        try:
            with db.begin_nested():
                db.execute(
                    update(SettlementSlot)
                    .where(SettlementSlot.slot.in_(list(chosen)), SettlementSlot.holder.is_(None))
                    .values(holder=case(chosen, value=SettlementSlot.slot))
                )
        except IntegrityError:  # a key another request took meanwhile: the same order, escrowed at once
            _refuse_taken(db, wanted)
        got.update(_slots_held(db, wanted))
    pending = [h for h in holders if h not in got]
    for _ in range(SLOT_ATTEMPTS):
        if not pending:
            break
        start = max((db.scalar(select(func.max(SettlementSlot.slot))) or 0) + 1, floor)
        rows = [{"slot": start + i, "holder": h} for i, h in enumerate(pending)]
        try:
            with db.begin_nested():
                db.execute(insert(SettlementSlot), rows)
        except IntegrityError:  # another writer took some of those numbers, or one of these keys
            _refuse_taken(db, pending)
            continue  # only numbers: try again above them
        got.update({r["holder"]: r["slot"] for r in rows})
        pending = []
    if pending:
        db.rollback()
        raise Conflict(f"no free settlement slot after {SLOT_ATTEMPTS} attempts: writers racing; try again")
    db.commit()
    return [got[h] for h in holders]


#: rounds of taking new slot numbers above those other writers took meanwhile, then a 409
SLOT_ATTEMPTS = 20


def _refuse_taken(db: DbSession, holders: list[str]) -> None:
    """A 409 if another request holds one of these order keys (the same order, escrowed at once: the
    insert of its key failed for ever, in a loop holding the database's write lock)."""
    if taken := _slots_held(db, holders):
        db.rollback()
        raise Conflict(f"order key {next(iter(taken))} is being escrowed by another request")


def _slots_held(db: DbSession, holders: list[str]) -> dict[str, int]:
    """The slots these order keys hold now, by key."""
    got: dict[str, int] = {}
    for i in range(0, len(holders), 500):
        chunk = holders[i : i + 500]
        got.update(
            {
                h: n
                for n, h in db.execute(
                    select(SettlementSlot.slot, SettlementSlot.holder).where(SettlementSlot.holder.in_(chunk))
                )
            }
        )
    return got


def mark_foreign(db: DbSession, slot: int) -> None:
    """The chain says `slot` is in use by an order these books do not hold: never hand it out."""
    took = db.execute(update(SettlementSlot).where(SettlementSlot.slot == slot).values(holder=f"foreign:{slot}"))
    if took.rowcount == 0:
        db.add(SettlementSlot(slot=slot, holder=f"foreign:{slot}"))
    db.commit()


def free_slots(db: DbSession, holders: list[str], block: int | None) -> None:
    """Free the slots of these order keys (settled, refunded, or never escrowed) by the transaction
    mined in `block` (None: none was, reusable at once); the caller commits."""
    if holders:
        gone = SettlementSlot.holder.in_(holders)
        db.execute(update(SettlementSlot).where(gone).values(holder=None, freed_block=block))


def referrals(o: Order) -> list[tuple[str, int]]:
    return [(a, int(b)) for a, b in json.loads(o.referrers)]


def terms_of(o: Order) -> OrderTerms:
    """The terms the contract holds for a stored order."""
    if o.slot is None:
        raise ValueError(f"order {o.order_id} predates settlement slots")
    refs = referrals(o)
    return OrderTerms(
        key=bytes.fromhex(o.order_key[2:]),
        amount=o.amount_fen,
        merchant=o.merchant,
        payer=o.payer,
        slot=o.slot,
        referrers=tuple(a for a, _ in refs),
        referral_bps=tuple(b for _, b in refs),
        platform_fee_bps=o.platform_fee_bps,
        carrier=o.carrier,
    )
