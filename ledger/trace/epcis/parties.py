"""The parties an EPCIS event names: the owning (else possessing) party of its sourceList and
destinationList, as a URN (`party_of`), and those URNs' registered names and GB 32100 credit codes
(`names_of`, for the scan page: name and code only, never address or contact)."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import select
from sqlalchemy.orm import Session

from ledger.store.models import TradingParty

PARTY_TYPES = ("owning_party", "possessing_party")


def local_name(key: str) -> str:
    return key.rsplit("#", 1)[-1].rsplit(":", 1)[-1]


def party_of(event: dict, side: str) -> str | None:
    """The URN of the owning (else possessing) party in the event's sourceList / destinationList."""
    entries = event.get(f"{side}List") if isinstance(event.get(f"{side}List"), list) else []
    found = {local_name(str(e.get("type", ""))).rsplit("-", 1)[-1]: e.get(side) for e in entries if isinstance(e, dict)}
    return next((found[t] for t in PARTY_TYPES if isinstance(found.get(t), str)), None)


def names_of(db: Session, urns: Iterable[str]) -> dict[str, dict]:
    """{urn: {"urn", "name", "credit_code"}} for the registered ones among `urns` (one query)."""
    wanted = sorted(set(urns))
    if not wanted:
        return {}
    q = select(TradingParty.urn, TradingParty.name, TradingParty.credit_code).where(TradingParty.urn.in_(wanted))
    return {u: {"urn": u, "name": n, "credit_code": c} for u, n, c in db.execute(q)}


def member_name(db: Session, member: str) -> dict | None:
    """{"name", "credit_code"} of the party a member registered as itself (a tie only the member or
    an operator may make), the latest registered; None when it has none."""
    q = select(TradingParty.name, TradingParty.credit_code).where(TradingParty.member.in_({member, member.lower()}))
    row = db.execute(q.order_by(TradingParty.updated_at.desc()).limit(1)).first()
    return None if row is None else {"name": row[0], "credit_code": row[1]}
