"""Arbiters' co-signatures of a ruling on a case, collected across their browsers: each arbiter signs
the ruling (EIP-712, `vault.case_ruling_typed_data`) with its own key in its page and leaves the
signature here; the case's ruling then lists what was collected, and whoever submits the ruling sends
them with its own. The signature is checked to be the caller's own before it is kept (one per
arbiter, ruling and case: signing again replaces it); the contract still decides who may rule and
how many must. Only open cases collect signatures."""

from __future__ import annotations

from typing import Any

from eth_account import Account
from eth_account.messages import encode_typed_data
from sqlalchemy import select
from sqlalchemy.orm import Session

from ledger.chain.deploy import Deployment
from ledger.clock import as_utc, utcnow
from ledger.errors import Conflict, Forbidden, InvalidInput
from ledger.store.ruling_tables import RulingCoSignature

from . import vault


def collected(db: Session, case_id: int, pay_out: bool) -> list[dict[str, Any]]:
    rows = db.scalars(
        select(RulingCoSignature)
        .where(RulingCoSignature.case_id == case_id, RulingCoSignature.pay_out == pay_out)
        .order_by(RulingCoSignature.signed_at)
    )
    return [{"signer": r.signer, "signature": r.signature, "signed_at": as_utc(r.signed_at).isoformat()} for r in rows]


def leave(db: Session, dep: Deployment, case_id: int, pay_out: bool, arbiter: str, signature: str) -> list[dict]:
    """Keep `arbiter`'s own signature of the ruling on an open case; the signatures collected after it."""
    if not vault.case(dep, case_id)["open"]:
        raise Conflict(f"case {case_id} is not open: it takes no more signatures")
    try:
        message = encode_typed_data(full_message=vault.case_ruling_typed_data(dep, case_id, pay_out))
        signer = str(Account.recover_message(message, signature=signature))
    except (ValueError, TypeError):
        raise InvalidInput("signature: not a signature of this ruling") from None
    if signer.lower() != arbiter.lower():
        raise Forbidden(f"the signature is {signer}'s, not the signed-in arbiter's {arbiter}")
    row = db.get(RulingCoSignature, (case_id, pay_out, arbiter))
    if row is None:
        db.add(
            RulingCoSignature(case_id=case_id, pay_out=pay_out, signer=arbiter, signature=signature, signed_at=utcnow())
        )
    else:
        row.signature, row.signed_at = signature, utcnow()
    db.commit()
    return collected(db, case_id, pay_out)
