"""Capturing EPCIS events: each stored once per event hash ID, with the identifiers it names.

A capture is all or nothing: every event of a document is hashed and checked first, then all new
events and their identifiers are written in one database transaction. An event captured again
(same hash ID, in this or any later document) is reported as a duplicate and not stored twice.
"""

from __future__ import annotations

import functools
import json
import re
import uuid
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from ledger.errors import LedgerError
from ledger.store.bulk import insert_rows
from ledger.store.locks import one_writer
from ledger.store.models import EpcisEpc, EpcisEvent, Product
from ledger.trace.epcis import declarations
from ledger.trace.epcis.canonical import canonical_value, vocabulary
from ledger.trace.epcis.hashid import UnhashableEvent, document_digests, hash_id_of
from ledger.trace.epcis.identifiers import canonical
from ledger.trace.epcis.schema import InvalidEpcis
from ledger.trace.recorders import refused

_ITEM = re.compile(r"^https://id\.gs1\.org/01/(\d{14})(?:/10/([^/]+))?(?:/21/([^/]+))?$")
# where events name identifiers: (field, is a list of quantity elements)
_EPC_FIELDS = (
    ("epcList", False), ("outputEPCList", False), ("childEPCs", False), ("inputEPCList", False),
    ("parentID", False), ("quantityList", True), ("outputQuantityList", True),
    ("childQuantityList", True), ("inputQuantityList", True),
)  # fmt: skip
CAPTURE_RETRIES = 3
_compact = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False).encode  # as json.dumps, not built per event


@dataclass
class Prepared:
    """One event, hashed and with its query fields extracted, not yet stored."""

    hash_id: str
    digest: str
    event: dict
    event_type: str
    event_time: datetime
    biz_step: str | None
    disposition: str | None
    action: str | None
    read_point: str | None
    biz_location: str | None = None
    event_ref: str | None = None
    epcs: list[str] = field(default_factory=list)


@dataclass
class CaptureResult:
    capture_id: str
    events: list[dict]  # [{"hashId", "status": stored|declared|duplicate, "type", "bizStep", "eventTime"}] in order
    #: each of `events`' event as captured (a document's repeated event once: `prepare`)
    bodies: list[dict] = field(default_factory=list)

    @property
    def stored(self) -> int:
        return sum(e["status"] == "stored" for e in self.events)

    @property
    def declared(self) -> int:
        """Error declarations of events stored before, kept on them (`declarations`)."""
        return sum(e["status"] == "declared" for e in self.events)


def full_term(field_name: str, value) -> str | None:
    """A CBV value as its web vocabulary URI (`shipping` -> https://ref.gs1.org/cbv/BizStep-shipping)."""
    if not isinstance(value, str):
        return None
    known = vocabulary()["terms"].get(field_name, {}).get(value)
    return known or canonical_value(value)


@functools.lru_cache(maxsize=1 << 14)  # a capture asks ~20 times an event, of the same few URIs
def item_parts(uri: str) -> tuple[str | None, str | None, str | None]:
    """GTIN, lot and serial of a canonical trade item URI (each None if absent)."""
    m = _ITEM.match(uri)
    return (m.group(1), m.group(2), m.group(3)) if m else (None, None, None)


def named_identifiers(event: dict) -> list[str]:
    """Every identifier the event names, canonical where it is a GS1 key, in field order."""
    out: dict[str, None] = {}  # in field order, each once (a list's `in` made 10,000 items 50 million compares)
    for name, quantities in _EPC_FIELDS:
        value = event.get(name)
        values = value if isinstance(value, list) else [value] if value is not None else []
        for v in values:
            v = v.get("epcClass") if quantities and isinstance(v, dict) else v
            if isinstance(v, str):
                out.setdefault(canonical(v) or v)
    return list(out)


def prepare(doc: dict, events: list[dict], xml: bool = False) -> list[Prepared]:
    """Hash and index every event of a (valid) document; duplicates within it are kept once.
    `xml`: the document came as XML (`hashid.prehash`)."""
    out: OrderedDict[str, Prepared] = OrderedDict()
    try:
        digests = document_digests(doc, xml)
    except UnhashableEvent as exc:
        raise InvalidEpcis([{"path": exc.path, "reason": exc.reason}]) from None
    for i, (event, digest) in enumerate(zip(events, digests, strict=True)):
        hid = hash_id_of(digest)
        if hid in out:  # the same event again; its error declaration, if only this one declares it, kept
            if declarations.declares(event) and not declarations.declares(out[hid].event):
                out[hid].event = event
            continue
        try:
            event_time = datetime.fromisoformat(event["eventTime"]).astimezone(UTC)
        except ValueError:
            path = f"$.epcisBody.eventList[{i}].eventTime"
            raise InvalidEpcis([{"path": path, "reason": "not a date-time this service can read"}]) from None
        read_point = event.get("readPoint", {}).get("id") if isinstance(event.get("readPoint"), dict) else None
        location = event.get("bizLocation", {}).get("id") if isinstance(event.get("bizLocation"), dict) else None
        declared = event.get("eventID")
        out[hid] = Prepared(
            hash_id=hid,
            digest="0x" + digest,
            event=event,
            event_type=event["type"],
            event_time=event_time,
            biz_step=full_term("bizStep", event.get("bizStep")),
            disposition=full_term("disposition", event.get("disposition")),
            action=event.get("action"),
            read_point=(canonical(read_point) or read_point) if isinstance(read_point, str) else None,
            biz_location=(canonical(location) or location)[:300] if isinstance(location, str) else None,
            event_ref=declared[:300] if isinstance(declared, str) and declared else hid,
            epcs=named_identifiers(event),
        )
    return list(out.values())


class NotAuthorisedRecorder(LedgerError):
    """Events name registered products their recorder may not record about; the message names the
    first, `refused` holds every one as (hash ID, message)."""

    def __init__(self, refusals: list[tuple[str, str, str]], recorder: str):
        self.refused = [(h, self.says(g, m, recorder, h)) for g, m, h in refusals]
        self.gtin, _, self.hash_id = refusals[0]
        super().__init__(self.refused[0][1])

    @staticmethod
    def says(gtin: str, merchant: str, recorder: str, hash_id: str) -> str:
        return (
            f"event {hash_id} names product {gtin} of merchant {merchant}, who has not authorised "
            f"{recorder} to record about it (Provenance.setRecorder); nothing was stored"
        )


def capture(
    db: Session,
    doc: dict,
    events: list[dict],
    recorder: str,
    now: datetime | None = None,
    may_record: Callable[[str], bool] | None = None,
    also: Callable[[Session, list[str]], None] | None = None,
    xml: bool = False,
    before: Callable[[Session, list[Prepared]], None] | None = None,
) -> CaptureResult:
    """Store the document's new events in one transaction; report each as stored or duplicate.
    `also` writes more in the same transaction (the document's master data, its capture job),
    given the hash IDs of the document's events; `before` reads what `also` will need, given the
    document's events hashed, before the write begins (each time it is tried).
    With `may_record` (GTIN -> bool, the chain's answer for this recorder), a document with an
    event about a registered product the recorder may not record about is refused whole.

    Everything but the writes happens before this process takes its turn as SQLite's one writer
    (the store's reads, the rows and their JSON): the turn held only the writes. An event stored
    by another capture meanwhile fails the write on its unique hash ID, and the capture is tried
    again, finding it stored (a duplicate)."""
    prepared = prepare(doc, events, xml)
    context = json.dumps(doc.get("@context"), separators=(",", ":"))
    for attempt in range(CAPTURE_RETRIES):
        try:
            staged = _stage(db, prepared, context, recorder, now or datetime.now(UTC), may_record)
            if before is not None:
                before(db, prepared)
            with one_writer(db):
                return _write(db, staged, also)
        except IntegrityError:  # the same event captured concurrently: look again, it is a duplicate now
            db.rollback()
            if attempt == CAPTURE_RETRIES - 1:
                raise
    raise AssertionError("unreachable")


@dataclass
class _Staged:
    """A capture's rows, built before its write: the new events' and, per new event, its identifiers'."""

    capture_id: str
    prepared: list[Prepared]
    rows: list[dict]
    epcs: list[list[dict]]
    declared: list[declarations.Declaration]


def _stage(
    db: Session,
    prepared: list[Prepared],
    context: str,
    recorder: str,
    now: datetime,
    may_record: Callable[[str], bool] | None = None,
) -> _Staged:
    capture_id = str(uuid.uuid4())
    hash_ids = [p.hash_id for p in prepared]
    known: set[str] = set()
    for i in range(0, len(hash_ids), 500):
        chunk = hash_ids[i : i + 500]
        known.update(db.scalars(select(EpcisEvent.hash_id).where(EpcisEvent.hash_id.in_(chunk))))
    new = [p for p in prepared if p.hash_id not in known]
    declared = declarations.staged(
        db, [(p.hash_id, p.event) for p in prepared if p.hash_id in known], recorder, _compact
    )
    parts = [[(u, item_parts(u)) for u in p.epcs] for p in new]
    gtins = {x[0] for named in parts for _, x in named if x[0]}
    owners: dict[str, str] = {}
    if gtins:
        owners = dict(db.execute(select(Product.gtin, Product.merchant).where(Product.gtin.in_(gtins))).all())
    if may_record is not None:
        refusals = []
        for p, named in zip(new, parts, strict=True):
            gtins = [g for g in (x[0] for _, x in named) if g]
            g = refused(gtins, owners, lambda gtin: owners[gtin] == recorder or may_record(gtin))
            if g is not None:
                refusals.append((g, owners[g], p.hash_id))
        if refusals:
            raise NotAuthorisedRecorder(refusals, recorder)
    rows = [
        {"hash_id": p.hash_id, "digest": p.digest, "event_type": p.event_type, "event_time": p.event_time,
         "record_time": now, "biz_step": p.biz_step, "disposition": p.disposition, "action": p.action,
         "read_point": p.read_point, "biz_location": p.biz_location, "event_ref": p.event_ref, "recorder": recorder,
         "merchant": next((owners[x[0]] for _, x in named if x[0] in owners), None), "capture_id": capture_id,
         "body": _compact(p.event), "context": context}
        for p, named in zip(new, parts, strict=True)
    ]  # fmt: skip
    epcs = [[dict(zip(("gtin", "lot", "serial"), x, strict=True), uri=u[:300]) for u, x in named] for named in parts]
    return _Staged(capture_id, prepared, rows, epcs, declared)


def _write(db: Session, staged: _Staged, also: Callable[[Session, list[str]], None] | None) -> CaptureResult:
    ids: dict[str, int] = {}
    if staged.rows:
        # Core executemany: one prepared statement for all rows (the ORM path is ~5x slower here),
        # on SQLite straight to the driver (ledger.store.bulk)
        insert_rows(db, EpcisEvent.__table__, staged.rows)
        ids = dict(
            db.execute(
                select(EpcisEvent.hash_id, EpcisEvent.id).where(EpcisEvent.capture_id == staged.capture_id)
            ).all()
        )
        epc_rows = [
            {**epc, "event_id": ids[row["hash_id"]]}
            for row, named in zip(staged.rows, staged.epcs, strict=True)
            for epc in named
        ]
        if epc_rows:
            insert_rows(db, EpcisEpc.__table__, epc_rows)
    declared = declarations.write(db, staged.declared)
    if also is not None:
        also(db, [p.hash_id for p in staged.prepared])
    db.commit()
    return CaptureResult(
        staged.capture_id,
        [
            {
                "hashId": p.hash_id,
                "status": "stored" if p.hash_id in ids else "declared" if p.hash_id in declared else "duplicate",
                "type": p.event_type,
                "bizStep": p.event.get("bizStep"),
                "eventTime": p.event["eventTime"],
            }
            for p in staged.prepared
        ],
        [p.event for p in staged.prepared],
    )
