"""Each event checked against the trace-record profile: which required elements it lacks
(`missing`) and which it holds wrongly (`wrong`: a date that is no date, a shelf life ending before
the event, an empty certificate). An incomplete event is still valid EPCIS and stays stored; its
flags are kept in `compliance_event_flags`, written when its capture is checked (`ledger.flows`)
or when it is first read (`flags_for`)."""

from __future__ import annotations

import functools
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import TypeVar

from sqlalchemy import select, tuple_, update
from sqlalchemy.orm import Session

from ledger.clock import utcnow
from ledger.store.bulk import insert_rows
from ledger.store.models import EpcisEpc, EpcisEvent, EventCompleteness, Product, TradingParty
from ledger.trace.epcis.capture import item_parts, named_identifiers
from ledger.trace.epcis.parties import local_name, party_of

from .profile import KINDS, PROFILE_VERSION, kind_of

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


_local = functools.lru_cache(maxsize=4096)(local_name)  # the same few keys, event after event
Parts = list[tuple[str, tuple]]  # an event's identifiers, each with item_parts (gtin, lot, serial)
K = TypeVar("K")


def parts_of(event: dict) -> Parts:
    """The event's identifiers, each parsed once (the checks below read them several times)."""
    return [(u, item_parts(u)) for u in named_identifiers(event)]


def _facts(event: dict) -> dict[str, object]:
    """The event's ILMD and extension fields by local name (`cbvmda:bestBeforeDate` -> bestBeforeDate)."""
    ilmd = event.get("ilmd") if isinstance(event.get("ilmd"), dict) else {}
    return {_local(k): v for k, v in {**event, **ilmd}.items()}


def gtins_of(event: dict, parts: Parts | None = None) -> set[str]:
    return {p[0] for _, p in (parts_of(event) if parts is None else parts) if p[0]}


def _date(value: object) -> date | None:
    if not isinstance(value, str):
        return None
    try:
        return datetime.fromisoformat(value).date() if "T" in value else date.fromisoformat(value)
    except ValueError:
        return None


def _lots(event: dict, parts: Parts | None = None) -> set[tuple[str, str]]:
    return {(p[0], p[1]) for _, p in (parts_of(event) if parts is None else parts) if p[0] and p[1]}


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
    parts: Parts | None = None,
) -> Verdict:
    """The verdict on one event, given the registered product names by GTIN, the registered
    parties by URN, the recording member's party (None if it has none) and the ILMD of its lots
    (a lot's master data, declared once when it is made, holds for its later events)."""
    kind = kind_of(event)
    required = KINDS[kind][1]
    v = Verdict(kind, required)
    parts = parts_of(event) if parts is None else parts
    inherited: dict[str, object] = {}
    for lot in _lots(event, parts):
        inherited |= (lot_facts or {}).get(lot, {})
    facts = inherited | _facts(event)
    present = {"event_time", "production_date"} if event.get("eventTime") else set()
    if parts:
        present.add("trace_code")
    if any(p[1] for _, p in parts) or facts.get("lotNumber"):
        present.add("batch")
    if any(products.get(g) for g in gtins_of(event, parts)):
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


def lot_facts(
    db: Session, events: list[dict], parts: list[Parts] | None = None, unstored: Sequence[dict] = ()
) -> dict[tuple[str, str], dict]:
    """The ILMD of the lots the events name, from the stored events that made them and from these.
    `unstored`: those of them about to be stored, newest of all (a later one wins)."""
    parts = [parts_of(e) for e in events] if parts is None else parts
    pairs = sorted(set().union(*map(_lots, events, parts))) if events else []
    out: dict[tuple[str, str], dict] = {}
    bodies = list(events)
    for i in range(0, len(pairs), 500):
        chunk = pairs[i : i + 500]
        # `gtin IN` (implied by the pairs) lets SQLite find them by the (gtin, lot) index: on the
        # pairs alone it scanned every identifier stored, at every capture
        gtins = EpcisEpc.gtin.in_(sorted({g for g, _ in chunk}))
        about = select(EpcisEpc.event_id).where(gtins, tuple_(EpcisEpc.gtin, EpcisEpc.lot).in_(chunk))
        made = (EpcisEvent.action == "ADD") | (EpcisEvent.event_type == "TransformationEvent")
        # a body without the text "ilmd" has no `ilmd` member and adds nothing: not read and parsed
        q = select(EpcisEvent.body).where(EpcisEvent.id.in_(about), made, EpcisEvent.body.contains('"ilmd"'))
        bodies += [json.loads(b) for b in db.scalars(q.order_by(EpcisEvent.id))]  # oldest first: a later one wins
    for e in [*bodies, *unstored]:
        if own := _ilmd(e):
            for lot in made_lots(e):
                out.setdefault(lot, {}).update(own)
    return out


def context_for(
    db: Session, events: list[dict], recorders: set[str], parts: list[Parts] | None = None
) -> tuple[dict, dict, dict]:
    """(product names by GTIN, parties by URN, parties by member address) the events need."""
    parts = [parts_of(e) for e in events] if parts is None else parts
    gtins = set().union(*map(gtins_of, events, parts)) if events else set()
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
    parts = [parts_of(e) for e in events]
    products, parties, members = context_for(db, events, {recorder}, parts)
    lots = lot_facts(db, events, parts)
    return [evaluate(e, products, parties, members.get(recorder), lots, p) for e, p in zip(events, parts, strict=True)]


def flags_for(db: Session, rows: list[EpcisEvent]) -> dict[int, Verdict]:
    """The stored events' verdicts by event id, judged now (a party or product registered since
    the capture counts) and written to their flags (committed by the caller)."""
    return judge_stored(db, [(r.id, r.recorder, json.loads(r.body)) for r in rows])


def judge_stored(db: Session, items: list[tuple[int, str, dict]]) -> dict[int, Verdict]:
    """Verdicts on stored events given as (event id, recorder, body), written to their flags in
    bulk: a constant number of queries however many events (the capture doors call it with the
    bodies they hold)."""
    verdicts = judge(db, items)
    write_flags(db, verdicts)
    return verdicts


def judge(
    db: Session, items: Sequence[tuple[K, str, dict]], parts: Sequence[Parts | None] = (), unstored: Sequence[dict] = ()
) -> dict[K, Verdict]:
    """Verdicts on events given as (key, recorder, body), written nowhere: stored ones, or
    (`unstored`, their bodies) ones a capture is about to store, judged as they will be once
    stored. `parts`: each event's `parts_of` where already known. A constant number of queries."""
    if not items:
        return {}
    bodies = [b for _, _, b in items]
    given = list(parts) or [None] * len(bodies)
    parts = [p if p is not None else parts_of(b) for p, b in zip(given, bodies, strict=True)]
    products, parties, members = context_for(db, bodies, {r for _, r, _ in items}, parts)
    lots = lot_facts(db, bodies, parts, unstored)
    return {
        key: evaluate(body, products, parties, members.get(recorder), lots, p)
        for (key, recorder, body), p in zip(items, parts, strict=True)
    }


@functools.lru_cache(maxsize=1024)  # the profile's few elements: the same lists, event after event
def _names_json(names: tuple[str, ...]) -> str:
    return json.dumps(list(names))


def write_flags(db: Session, verdicts: dict[int, Verdict]) -> None:
    """The events' verdicts, by event id, written to their flags (uncommitted)."""
    now = utcnow()
    rows = [{"event_id": i, "profile": PROFILE_VERSION, "complete": v.complete, "required": len(v.required),
             "missing": _names_json(tuple(v.missing)), "wrong": json.dumps(v.wrong) if v.wrong else "[]",
             "checked_at": now}
            for i, v in verdicts.items()]  # fmt: skip
    known = set(db.scalars(select(EventCompleteness.event_id).where(EventCompleteness.event_id.in_(list(verdicts)))))
    if fresh := [r for r in rows if r["event_id"] not in known]:
        insert_rows(db, EventCompleteness.__table__, fresh)
    if again := [r for r in rows if r["event_id"] in known]:
        db.execute(update(EventCompleteness), again)
