"""Arbiters' co-signatures of a ruling on a case or on a disputed order, collected across their
browsers: each arbiter signs the ruling (EIP-712, `vault.case_ruling_typed_data`,
`settlement.ruling_typed_data`) with its own key in its page and leaves the signature here; the
ruling then lists what was collected, and whoever submits it sends them with its own. The signature
is checked to be the caller's own before it is kept (one per arbiter, ruling and case or order:
signing again replaces it); the contract still decides who may rule and how many must. Only open
cases and disputed orders collect signatures."""

from __future__ import annotations

from typing import Any

from eth_account import Account
from eth_account.messages import encode_typed_data
from eth_keys.exceptions import BadSignature
from sqlalchemy import select
from sqlalchemy.orm import Session

from ledger.chain.deploy import Deployment
from ledger.clock import as_utc, utcnow
from ledger.errors import Conflict, Forbidden, InvalidInput
from ledger.store.ruling_tables import OrderRulingCoSignature, RulingCoSignature

from . import vault


def collected(db: Session, case_id: int, pay_out: bool) -> list[dict[str, Any]]:
    rows = db.scalars(
        select(RulingCoSignature)
        .where(RulingCoSignature.case_id == case_id, RulingCoSignature.pay_out == pay_out)
        .order_by(RulingCoSignature.signed_at)
    )
    return _listed(rows)


def leave(db: Session, dep: Deployment, case_id: int, pay_out: bool, arbiter: str, signature: str) -> list[dict]:
    """Keep `arbiter`'s own signature of the ruling on an open case; the signatures collected after it."""
    if not vault.case(dep, case_id)["open"]:
        raise Conflict(f"case {case_id} is not open: it takes no more signatures")
    _check_own(vault.case_ruling_typed_data(dep, case_id, pay_out), signature, arbiter)
    row = db.get(RulingCoSignature, (case_id, pay_out, arbiter))
    if row is None:
        db.add(
            RulingCoSignature(case_id=case_id, pay_out=pay_out, signer=arbiter, signature=signature, signed_at=utcnow())
        )
    else:
        row.signature, row.signed_at = signature, utcnow()
    db.commit()
    return collected(db, case_id, pay_out)


def collected_for_order(db: Session, order_id: str, refund_fen: int) -> list[dict[str, Any]]:
    rows = db.scalars(
        select(OrderRulingCoSignature)
        .where(OrderRulingCoSignature.order_id == order_id, OrderRulingCoSignature.refund_fen == refund_fen)
        .order_by(OrderRulingCoSignature.signed_at)
    )
    return _listed(rows)


def leave_for_order(db: Session, typed: dict[str, Any], order_id: str, arbiter: str, signature: str) -> list[dict]:
    """Keep `arbiter`'s own signature of the ruling `typed` (refund so much of a disputed order, the
    caller checked it is disputed); the signatures collected for that same ruling after it."""
    _check_own(typed, signature, arbiter)
    refund = int(typed["message"]["refund"])
    row = db.get(OrderRulingCoSignature, (order_id, refund, arbiter))
    if row is None:
        db.add(
            OrderRulingCoSignature(
                order_id=order_id, refund_fen=refund, signer=arbiter, signature=signature, signed_at=utcnow()
            )
        )
    else:
        row.signature, row.signed_at = signature, utcnow()
    db.commit()
    return collected_for_order(db, order_id, refund)


def _check_own(typed: dict[str, Any], signature: str, arbiter: str) -> None:
    try:
        signer = str(Account.recover_message(encode_typed_data(full_message=typed), signature=signature))
    except (ValueError, TypeError, BadSignature):  # BadSignature: off the curve (coincurve)
        raise InvalidInput("signature: not a signature of this ruling") from None
    if signer.lower() != arbiter.lower():
        raise Forbidden(f"the signature is {signer}'s, not the signed-in arbiter's {arbiter}")


def _listed(rows: Any) -> list[dict[str, Any]]:
    return [{"signer": r.signer, "signature": r.signature, "signed_at": as_utc(r.signed_at).isoformat()} for r in rows]
