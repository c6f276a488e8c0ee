"""Trading parties by the URN events name them with (source/destination lists), each with its
checked GB 32100 credit code, name, address and contact; and the pilot allow-list governance
extends. A party's code is checked when it is registered: an invalid one is refused, naming the
rule it broke; a pilot code is kept and reported as such."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from ledger import plain_text
from ledger.clock import utcnow
from ledger.errors import LedgerError
from ledger.store.models import CreditCodePilot, TradingParty

from .credit_code import CreditCode, check

_URN_SCHEMES = ("urn:", "https://", "http://")


class BadParty(LedgerError):
    """A party that cannot be registered; `element` names the field."""

    def __init__(self, element: str, reason: str):
        super().__init__(f"{element}: {reason}")
        self.element, self.reason = element, reason


def pilots(db: Session) -> frozenset[str]:
    return frozenset(db.scalars(select(CreditCodePilot.code)))


def check_code(db: Session, code: object) -> CreditCode:
    """The code checked against GB 32100 and the pilot allow-list (CreditCodeError if invalid)."""
    return check(code, pilots(db))


def add_pilot(db: Session, code: str, note: str, by: str) -> CreditCodePilot:
    """Put a code on the pilot allow-list: it must pass every rule but the final check, which it
    must fail (a code that passes needs no allow-listing)."""
    got = check(code, frozenset({code.strip().upper()}))
    if got.status != "pilot":
        raise BadParty("code", "passes the final GB 32100 check: it needs no place on the pilot allow-list")
    row = db.get(CreditCodePilot, got.code) or CreditCodePilot(code=got.code)
    row.note, row.added_by, row.added_at = note, by, utcnow()
    db.add(row)
    return row


def register(db: Session, urn: str, fields: dict, by: str) -> tuple[TradingParty, CreditCode]:
    """Register (or update) the party `urn`; `fields`: credit_code, name, address, contact and
    optionally member (the ledger member the party is). Nothing is written if anything fails."""
    if not urn.startswith(_URN_SCHEMES) or len(urn) > 300:
        raise BadParty("urn", "a party is named by a URN or URI of at most 300 characters (urn:epc:id:pgln:...)")
    for name, limit in (("name", 200), ("address", 300), ("contact", 100)):
        value = fields.get(name)
        if not isinstance(value, str) or not value.strip() or len(value) > limit:
            raise BadParty(name, f"required, a non-empty string of at most {limit} characters")
        if why := plain_text.refused(value):
            raise BadParty(name, why)
    code = check_code(db, fields.get("credit_code"))
    row = db.get(TradingParty, urn) or TradingParty(urn=urn)
    row.credit_code, row.credit_status = code.code, code.status
    row.name, row.address, row.contact = fields["name"].strip(), fields["address"].strip(), fields["contact"].strip()
    row.member, row.registered_by, row.updated_at = fields.get("member"), by, utcnow()
    db.add(row)
    return row, code


def as_json(p: TradingParty) -> dict:
    return {
        "urn": p.urn,
        "credit_code": p.credit_code,
        "credit_status": p.credit_status,
        "name": p.name,
        "address": p.address,
        "contact": p.contact,
        "member": p.member,
    }
