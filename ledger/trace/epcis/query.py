"""Querying captured EPCIS events by identifier, step, time and merchant, and writing the answer as
an EPCIS query document whose events hash as they did when captured (their extension prefixes kept
apart when two documents declared one prefix differently)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import and_, exists, select
from sqlalchemy.orm import Session

from ledger.clock import as_utc
from ledger.store.models import EpcisEpc, EpcisEvent
from ledger.trace.epcis.identifiers import canonical

from .canonical import namespaces_of
from .capture import full_term


@dataclass
class EventQuery:
    epc: str | None = None
    gtin: str | None = None
    lot: str | None = None
    biz_step: str | None = None
    event_type: str | None = None
    ge_time: datetime | None = None
    lt_time: datetime | None = None
    merchant: str | None = None
    #: None: everything; else only events this address recorded or that concern its products
    visible_to: str | None = None
    after_id: int = 0
    limit: int = 100


def visible(member: str | None):
    """Events a member sees: those it recorded and those about its products (None: all)."""
    if member is None:
        return EpcisEvent.id.is_not(None)
    return (EpcisEvent.recorder == member) | (EpcisEvent.merchant == member)


def find_events(db: Session, q: EventQuery) -> list[EpcisEvent]:
    stmt = select(EpcisEvent).where(EpcisEvent.id > q.after_id)
    epc_filters = []
    if q.epc:
        epc_filters.append(EpcisEpc.uri == (canonical(q.epc) or q.epc))
    if q.gtin:
        epc_filters.append(EpcisEpc.gtin == q.gtin)
        if q.lot:
            epc_filters.append(EpcisEpc.lot == q.lot)
    if epc_filters:
        stmt = stmt.where(exists().where(EpcisEpc.event_id == EpcisEvent.id, and_(*epc_filters)))
    if q.biz_step:
        stmt = stmt.where(EpcisEvent.biz_step == full_term("bizStep", q.biz_step))
    if q.event_type:
        stmt = stmt.where(EpcisEvent.event_type == q.event_type)
    if q.ge_time:
        stmt = stmt.where(EpcisEvent.event_time >= q.ge_time)
    if q.lt_time:
        stmt = stmt.where(EpcisEvent.event_time < q.lt_time)
    if q.merchant:
        stmt = stmt.where(EpcisEvent.merchant == q.merchant)
    if q.visible_to:
        stmt = stmt.where(visible(q.visible_to))
    return list(db.scalars(stmt.order_by(EpcisEvent.id).limit(q.limit)))


def as_captured(row: EpcisEvent) -> dict:
    """The event as it came, with its hash ID as eventID when it brought none, and this repository's
    recordTime: EPCIS 2.0 7.4.1, recordTime "SHALL be ignored when an event is presented to the
    Capture Interface, and SHALL be present when an event is retrieved through the Query
    Interfaces" (a client's own stays in the stored body, outside the hash ID, and is not shown)."""
    event = json.loads(row.body)
    event.setdefault("eventID", row.hash_id)
    event["recordTime"] = as_utc(row.record_time).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    return event


BASE_CONTEXT = "https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld"


def query_document(rows: list[EpcisEvent], created: datetime, query_name: str = "SimpleEventQuery") -> dict:
    """An EPCIS 2.0 EPCISQueryDocument holding `rows`, with the extension prefixes of every
    document the events came from declared in its @context.

    Documents may give one prefix different namespaces (`ex` for one system's, `ex` for
    another's). The first declaration keeps the prefix; an event whose document meant another
    namespace has that prefix renamed in its keys and values (to a prefix already declared for
    that namespace, else `ex_2`, ...), so every field still expands to the namespace it was
    captured with and the event's hash ID computed from this document is the one stored."""
    base = BASE_CONTEXT
    prefixes: dict[str, str] = {}  # prefix -> namespace, as declared in the answer
    by_namespace: dict[str, str] = {}
    contexts: dict[str, dict[str, str]] = {}  # stored context -> {its prefix: prefix in the answer}
    events = []
    for r in rows:
        if r.context not in contexts:
            contexts[r.context] = _declare(_prefixes_of(json.loads(r.context)), prefixes, by_namespace)
        event = as_captured(r)
        own = _prefixes_of(event.get("@context"))  # an event's own @context rules inside it
        renames = {k: v for k, v in contexts[r.context].items() if k != v and k not in own}
        events.append(_renamed(event, renames) if renames else event)
    return {
        "@context": [base, prefixes] if prefixes else [base],
        "type": "EPCISQueryDocument",
        "schemaVersion": "2.0",
        "creationDate": created.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
        "epcisBody": {"queryResults": {"queryName": query_name, "resultsBody": {"eventList": events}}},
    }


def _prefixes_of(context) -> dict[str, str]:
    """The prefixes an @context declares, as hashing reads them: {prefix: namespace}."""
    return {k: v[1:-1] for k, v in namespaces_of(context).items()}


def _declare(wanted: dict[str, str], prefixes: dict[str, str], by_namespace: dict[str, str]) -> dict[str, str]:
    """Declare `wanted` in `prefixes`; {prefix wanted: prefix declared for its namespace}."""
    out = {}
    for k, ns in wanted.items():
        if prefixes.get(k, ns) == ns:
            prefixes[k] = ns
            by_namespace.setdefault(ns, k)
            out[k] = k
        elif ns in by_namespace:
            out[k] = by_namespace[ns]
        else:
            n = 2
            while f"{k}_{n}" in prefixes or f"{k}_{n}" in wanted:
                n += 1
            prefixes[f"{k}_{n}"] = by_namespace[ns] = ns
            out[k] = f"{k}_{n}"
    return out


def _renamed(value, renames: dict[str, str]):
    """`value` with prefixes renamed in compact IRIs: object keys and string values `prefix:...`."""

    def name(text: str) -> str:
        i = text.find(":")
        return renames[text[:i]] + text[i:] if i > 0 and text[:i] in renames else text

    if isinstance(value, dict):
        return {(k if k.startswith("@") else name(k)): _renamed(v, renames) for k, v in value.items()}
    if isinstance(value, list):
        return [_renamed(v, renames) for v in value]
    return name(value) if isinstance(value, str) else value
