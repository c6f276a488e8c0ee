"""The recording member's electronic signature as part of the record (GB/T 37029 §6): an EIP-191
(`personal_sign`) signature over the text `message(hash_id)`, naming the event's CBV 2.0 hash ID,
by the key of the member that captured the event. It is taken only if it recovers to that member
(`record`), and it is recovered again whenever it is shown (`of_events`), so a stored signature
that no longer matches is reported as not verified, never as signed."""

from __future__ import annotations

import re

from eth_account import Account
from eth_account.messages import encode_defunct
from sqlalchemy import select
from sqlalchemy.orm import Session

from ledger.clock import utcnow
from ledger.errors import LedgerError
from ledger.store.models import EpcisEvent, EventSignature

PREFIX = "traceledger: I recorded the EPCIS event "
_HEX = re.compile(r"^0x[0-9a-fA-F]{130}$")


class BadSignature(LedgerError):
    """A signature that is malformed or not the recorder's; the message says which."""


def message(hash_id: str) -> str:
    """The text the recorder signs (EIP-191 personal message) for the event `hash_id`."""
    return PREFIX + hash_id


def signer_of(hash_id: str, signature: str) -> str | None:
    """The address `signature` over `message(hash_id)` recovers to; None if it recovers to none."""
    if not isinstance(signature, str) or not _HEX.match(signature):
        return None
    try:
        return Account.recover_message(encode_defunct(text=message(hash_id)), signature=signature)
    except Exception:  # noqa: BLE001 - eth_keys raises several kinds for a signature off the curve
        return None


def record(db: Session, row: EpcisEvent, signature: object) -> EventSignature:
    """Keep the recorder's signature of `row` (added to the session; the caller commits)."""
    if not isinstance(signature, str) or not _HEX.match(signature):
        raise BadSignature("signature: expected 65 bytes as 0x and 130 hex digits (r, s, v)")
    signer = signer_of(row.hash_id, signature)
    if signer is None:
        raise BadSignature("signature: recovers to no address")
    if signer.lower() != row.recorder.lower():
        raise BadSignature(f"signature: signed by {signer}, but the event was recorded by {row.recorder}")
    kept = db.get(EventSignature, row.id) or EventSignature(event_id=row.id)
    kept.signer, kept.signature, kept.signed_at = signer, signature, utcnow()
    db.add(kept)
    return kept


def of_events(db: Session, rows: list[EpcisEvent]) -> dict[int, dict]:
    """{event id: {"signer", "signature", "verified"}} for the signed ones among `rows`, each
    recovered again now."""
    by_id = {r.id: r for r in rows}
    out = {}
    ids = sorted(by_id)
    for i in range(0, len(ids), 500):
        q = select(EventSignature).where(EventSignature.event_id.in_(ids[i : i + 500]))
        for s in db.scalars(q):
            row = by_id[s.event_id]
            again = signer_of(row.hash_id, s.signature)
            ok = again is not None and again.lower() == row.recorder.lower() == s.signer.lower()
            out[s.event_id] = {"signer": s.signer, "signature": s.signature, "verified": ok}
    return out
