"""Each event checked against the trace-record profile: which required elements it lacks
(`missing`) and which it holds wrongly (`wrong`: a date that is no date, a shelf life ending before
the event, an empty certificate). An incomplete event is still valid EPCIS and stays stored; its
flags are kept in `compliance_event_flags`, written when its capture is checked (`ledger.flows`)
or when it is first read (`flags_for`)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import date, datetime

from sqlalchemy import select, tuple_
from sqlalchemy.orm import Session

from ledger.clock import utcnow
from ledger.store.models import EpcisEpc, EpcisEvent, EventCompleteness, Product, TradingParty
from ledger.trace.epcis.capture import item_parts, named_identifiers

from .profile import KINDS, PROFILE_VERSION, kind_of

_PARTY_TYPES = ("owning_party", "possessing_party")
_SPEC = {"netContent", "specification", "tradeItemDescription", "descriptionShort"}
_SHELF = ("itemExpirationDate", "bestBeforeDate")


@dataclass
class Verdict:
    kind: str
    required: tuple[str, ...]
    missing: list[str] = field(default_factory=list)
    wrong: list[dict] = field(default_factory=list)

    @property
    def complete(self) -> bool:
        return not self.missing and not self.wrong


def _local(key: str) -> str:
    return key.rsplit("#", 1)[-1].rsplit(":", 1)[-1]


def _facts(event: dict) -> dict[str, object]:
    """The event's ILMD and extension fields by local name (`cbvmda:bestBeforeDate` -> bestBeforeDate)."""
    ilmd = event.get("ilmd") if isinstance(event.get("ilmd"), dict) else {}
    return {_local(k): v for k, v in {**event, **ilmd}.items()}


def party_of(event: dict, side: str) -> str | None:
    """The URN of the owning (else possessing) party in the event's sourceList / destinationList."""
    entries = event.get(f"{side}List") if isinstance(event.get(f"{side}List"), list) else []
    found = {_local(str(e.get("type", ""))).rsplit("-", 1)[-1]: e.get(side) for e in entries if isinstance(e, dict)}
    return next((found[t] for t in _PARTY_TYPES if isinstance(found.get(t), str)), None)


def gtins_of(event: dict) -> set[str]:
    return {g for g in (item_parts(u)[0] for u in named_identifiers(event)) if g}


def _date(value: object) -> date | None:
    if not isinstance(value, str):
        return None
    try:
        return datetime.fromisoformat(value).date() if "T" in value else date.fromisoformat(value)
    except ValueError:
        return None


def _lots(event: dict) -> set[tuple[str, str]]:
    return {(g, lot) for g, lot, _ in map(item_parts, named_identifiers(event)) if g and lot}


def made_lots(event: dict) -> set[tuple[str, str]]:
    """The lots an event's ILMD speaks of: a transformation's outputs, an ADD event's lots."""
    if event.get("type") == "TransformationEvent":
        outs = {k: event.get(k) for k in ("outputEPCList", "outputQuantityList")}
        return _lots(outs)
    return _lots(event) if event.get("action") == "ADD" else set()


def _ilmd(event: dict) -> dict[str, object]:
    ilmd = event.get("ilmd") if isinstance(event.get("ilmd"), dict) else {}
    return {_local(k): v for k, v in ilmd.items()}


def evaluate(
    event: dict,
    products: dict[str, str],
    parties: dict[str, TradingParty],
    recorder: TradingParty | None,
    lot_facts: dict[tuple[str, str], dict] | None = None,
) -> Verdict:
    """The verdict on one event, given the registered product names by GTIN, the registered
    parties by URN, the recording member's party (None if it has none) and the ILMD of its lots
    (a lot's master data, declared once when it is made, holds for its later events)."""
    kind = kind_of(event)
    required = KINDS[kind][1]
    v = Verdict(kind, required)
    inherited: dict[str, object] = {}
    for lot in _lots(event):
        inherited |= (lot_facts or {}).get(lot, {})
    facts = inherited | _facts(event)
    ids = named_identifiers(event)
    present = {"event_time", "production_date"} if event.get("eventTime") else set()
    if ids:
        present.add("trace_code")
    if any(item_parts(u)[1] for u in ids) or facts.get("lotNumber"):
        present.add("batch")
    if any(products.get(g) for g in gtins_of(event)):
        present.add("product_name")
    if any(facts.get(k) for k in _SPEC):
        present.add("product_spec")
    quantities = [q for k in ("quantityList", "outputQuantityList", "childQuantityList") for q in event.get(k) or []]
    if (
        event.get("epcList")
        or event.get("outputEPCList")
        or event.get("childEPCs")
        or any(isinstance(q, dict) and q.get("quantity") is not None and q.get("uom") for q in quantities)
    ):
        present.add("quantity_unit")
    for loc in ("bizLocation", "readPoint"):
        if isinstance(event.get(loc), dict) and event[loc].get("id"):
            present.add("place")
    if event.get("bizStep"):
        present.add("transaction_kind")
    if event.get("bizTransactionList"):
        present.add("transaction_ref")
    for side, name in (("source", "supplier"), ("destination", "receiver")):
        party = parties.get(party_of(event, side) or "")
        if party is not None:
            present.update(f"{name}_{f}" for f in ("name", "credit_code", "address", "contact") if getattr(party, f))
    if recorder is not None:
        present.add("recorder")
    cert = event.get("certificationInfo")
    if (
        isinstance(cert, str)
        and cert.strip()
        or isinstance(cert, list)
        and cert
        and all(isinstance(c, str) and c.strip() for c in cert)
    ):
        present.add("inspection_cert")
    elif cert is not None:
        v.wrong.append(
            {"element": "inspection_cert", "reason": "certificationInfo must be a non-empty string or list of them"}
        )
    when = _date(event.get("eventTime"))
    own = _ilmd(event)
    if any(k in inherited for k in _SHELF) and not any(k in own for k in _SHELF):
        present.add("shelf_life")  # declared by the lot's own record
    for key in _SHELF:
        if key in own:
            end = _date(own[key])
            if end is None:
                v.wrong.append({"element": "shelf_life", "reason": f"{key} {own[key]!r} is not a date (YYYY-MM-DD)"})
            elif when and end < when:
                v.wrong.append({"element": "shelf_life", "reason": f"{key} {end} is before the eventTime {when}"})
            else:
                present.add("shelf_life")
    faulty = {w["element"] for w in v.wrong}  # held, but wrongly: named once, as wrong
    v.missing = [e for e in required if e not in present and e not in faulty]
    return v


def lot_facts(db: Session, events: list[dict]) -> dict[tuple[str, str], dict]:
    """The ILMD of the lots the events name, from the stored events that made them and from these."""
    pairs = sorted(set().union(*map(_lots, events))) if events else []
    out: dict[tuple[str, str], dict] = {}
    bodies = list(events)
    for i in range(0, len(pairs), 500):
        about = select(EpcisEpc.event_id).where(tuple_(EpcisEpc.gtin, EpcisEpc.lot).in_(pairs[i : i + 500]))
        made = (EpcisEvent.action == "ADD") | (EpcisEvent.event_type == "TransformationEvent")
        bodies += [json.loads(b) for b in db.scalars(select(EpcisEvent.body).where(EpcisEvent.id.in_(about), made))]
    for e in bodies:
        if own := _ilmd(e):
            for lot in made_lots(e):
                out.setdefault(lot, {}).update(own)
    return out


def context_for(db: Session, events: list[dict], recorders: set[str]) -> tuple[dict, dict, dict]:
    """(product names by GTIN, parties by URN, parties by member address) the events need."""
    gtins = set().union(*(gtins_of(e) for e in events)) if events else set()
    urns = {u for e in events for s in ("source", "destination") if (u := party_of(e, s))}
    products = (
        dict(db.execute(select(Product.gtin, Product.name).where(Product.gtin.in_(gtins))).all()) if gtins else {}
    )
    parties = {p.urn: p for p in db.scalars(select(TradingParty).where(TradingParty.urn.in_(urns)))} if urns else {}
    members = (
        {p.member: p for p in db.scalars(select(TradingParty).where(TradingParty.member.in_(recorders)))}
        if recorders
        else {}
    )
    return products, parties, members


def check_events(db: Session, events: list[dict], recorder: str) -> list[Verdict]:
    """Verdicts on events not stored yet (a capture checked first), recorded by `recorder`."""
    products, parties, members = context_for(db, events, {recorder})
    lots = lot_facts(db, events)
    return [evaluate(e, products, parties, members.get(recorder), lots) for e in events]


def flags_for(db: Session, rows: list[EpcisEvent]) -> dict[int, EventCompleteness]:
    """The stored events' flags by event id, judged now (a party or product registered since the
    capture counts) and stored (committed by the caller)."""
    ids = [r.id for r in rows]
    known = (
        {f.event_id: f for f in db.scalars(select(EventCompleteness).where(EventCompleteness.event_id.in_(ids)))}
        if ids
        else {}
    )
    todo = rows
    if todo:
        bodies = [json.loads(r.body) for r in todo]
        products, parties, members = context_for(db, bodies, {r.recorder for r in todo})
        lots = lot_facts(db, bodies)
        now = utcnow()
        for r, body in zip(todo, bodies, strict=True):
            v = evaluate(body, products, parties, members.get(r.recorder), lots)
            flag = known.get(r.id)
            if flag is None:
                flag = known[r.id] = EventCompleteness(event_id=r.id)
                db.add(flag)
            flag.profile, flag.complete, flag.required = PROFILE_VERSION, v.complete, len(v.required)
            flag.missing, flag.wrong, flag.checked_at = json.dumps(v.missing), json.dumps(v.wrong), now
    return known
