"""An auditor signs a reconciliation run off: an EIP-712 signature, made with the auditor's own key
(in the console: decrypted in the page; never the gateway's), over what the run concluded from what
(its id, cut-off block and hash, the SHA-256 of its inputs, its verdict) and the auditor's note.

The signature is checked against the signed-in auditor before it is recorded, so the record proves
who agreed to which run without trusting the service; one sign-off per run (a second is a
`Conflict`, also when two arrive at once: the run id is the table's primary key). An `incomplete`
run concluded nothing (the indexer behind its cut-off, a stored block hash gone from the chain, a
malformed input) and is not signed off: a `Conflict` naming why; the auditor signs off a later run
that could conclude. Runs are not
anchored on chain, so neither are sign-offs; the stored signature can be re-checked by anyone with
`recover`."""

from __future__ import annotations

import json
from typing import Any

from eth_account import Account
from eth_account.messages import encode_typed_data
from eth_keys.exceptions import BadSignature
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from ledger.clock import as_utc, utcnow
from ledger.errors import Conflict, Forbidden, InvalidInput
from ledger.store.recon_tables import ReconRun, ReconSignOff

TYPES = {
    "EIP712Domain": [
        {"name": "name", "type": "string"},
        {"name": "version", "type": "string"},
        {"name": "chainId", "type": "uint256"},
    ],
    "RunSignOff": [
        {"name": "runId", "type": "uint256"},
        {"name": "cutOffBlock", "type": "uint256"},
        {"name": "cutOffHash", "type": "bytes32"},
        {"name": "inputsSha256", "type": "bytes32"},
        {"name": "verdict", "type": "string"},
        {"name": "note", "type": "string"},
    ],
}


def typed_data(run: ReconRun, chain_id: int, note: str) -> dict[str, Any]:
    """What the auditor signs to sign `run` off."""
    return {
        "domain": {"name": "traceledger reconciliation", "version": "1", "chainId": int(chain_id)},
        "types": TYPES,
        "primaryType": "RunSignOff",
        "message": {
            "runId": run.id,
            "cutOffBlock": run.cut_off_block,
            "cutOffHash": run.cut_off_hash,
            "inputsSha256": "0x" + run.inputs_sha256,
            "verdict": run.verdict,
            "note": note,
        },
    }


def signable(run: ReconRun) -> ReconRun:
    """`run`, if it can be signed off (`Conflict` for an incomplete run, naming its reasons)."""
    if run.verdict == "incomplete":
        reasons = [r for r in json.loads(run.reasons or "[]") if r.get("blocking", True)]
        why = "; ".join(str(r.get("detail") or r.get("reason")) for r in reasons) or "it could not conclude"
        raise Conflict(f"reconciliation run {run.id} is incomplete ({why}): nothing to sign off; sign off a later run")
    return run


def signer(run: ReconRun, chain_id: int, note: str, signature: str) -> str:
    """The address that signed this run off with this note (`InvalidInput` for a malformed signature)."""
    try:
        message = encode_typed_data(full_message=typed_data(run, chain_id, note))
        return str(Account.recover_message(message, signature=signature))
    except (ValueError, TypeError, BadSignature) as exc:  # BadSignature: off the curve (coincurve)
        raise InvalidInput(f"signature: not a signature of run {run.id}'s sign-off ({type(exc).__name__})") from None


def sign_off(db: Session, run: ReconRun, chain_id: int, auditor: str, note: str, signature: str) -> ReconSignOff:
    """Record `auditor`'s sign-off of `run`, once: the signature must be the auditor's own."""
    if db.get(ReconSignOff, run.id) is not None:
        raise Conflict(f"reconciliation run {run.id} is already signed off")
    signable(run)
    who = signer(run, chain_id, note, signature)
    if who.lower() != auditor.lower():
        raise Forbidden(f"the signature is {who}'s, not the signed-in auditor's {auditor}")
    row = ReconSignOff(run_id=run.id, auditor=auditor, signature=signature, note=note, signed_at=utcnow())
    db.add(row)
    try:
        db.commit()
    except IntegrityError:
        db.rollback()
        raise Conflict(f"reconciliation run {run.id} is already signed off") from None
    return row


def sign_off_out(row: ReconSignOff | None) -> dict[str, Any] | None:
    if row is None:
        return None
    return {
        "auditor": row.auditor,
        "signed_at": as_utc(row.signed_at).isoformat(),
        "note": row.note,
        "signature": row.signature,
    }


def sign_private(run: ReconRun, chain_id: int, note: str, private_key: bytes) -> str:
    """The sign-off's signature made with a key held here (tests and the CLI; the console signs in the page)."""
    message = encode_typed_data(full_message=typed_data(run, chain_id, note))
    return "0x" + bytes(Account.sign_message(message, private_key).signature).hex()
