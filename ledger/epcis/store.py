"""Captured EPCIS events: stored once per event hash ID, queried by identifier, step, time and
merchant, and proven against their anchored Merkle root.

A capture is all or nothing: every event of a document is hashed and checked first, then all new
events and their identifiers are written in one database transaction. An event captured again
(same hash ID, in this or any later document) is reported as a duplicate and not stored twice.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import re
import uuid
from collections import OrderedDict
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime

from sqlalchemy import and_, exists, insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from ..merkle import MerkleTree, TreeCache
from ..models import EpcisAnchor, EpcisEpc, EpcisEvent, Product
from .hashid import canonical_value, document_digests, hash_id_of, vocabulary
from .identifiers import canonical

_ITEM = re.compile(r"^https://id\.gs1\.org/01/(\d{14})(?:/10/([^/]+))?(?:/21/([^/]+))?$")
# where events name identifiers: (field, is a list of quantity elements)
_EPC_FIELDS = (
    ("epcList", False), ("outputEPCList", False), ("childEPCs", False), ("inputEPCList", False),
    ("parentID", False), ("quantityList", True), ("outputQuantityList", True),
    ("childQuantityList", True), ("inputQuantityList", True),
)  # fmt: skip
CAPTURE_RETRIES = 3


@contextlib.contextmanager
def _one_writer(db: Session) -> Iterator[None]:
    """SQLite has one writer at a time. Writers of all threads and processes queue on a file lock
    beside the database, and the next one starts the moment the last one is done; left to
    SQLite's busy handler they would poll with sleeps growing to 100 ms."""
    url = db.get_bind().url
    if url.get_backend_name() != "sqlite" or not url.database or url.database == ":memory:":
        yield
        return
    with open(f"{url.database}.write.lock", "a+") as f:  # one open file per writer: threads queue too
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


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
    epcs: list[str] = field(default_factory=list)


@dataclass
class CaptureResult:
    capture_id: str
    events: list[dict]  # [{"hashId", "status": stored|duplicate, "type", "eventTime"}] in document order

    @property
    def stored(self) -> int:
        return sum(e["status"] == "stored" for e in self.events)


def full_term(field_name: str, value) -> str | None:
    """A CBV value as its web vocabulary URI (`shipping` -> https://ref.gs1.org/cbv/BizStep-shipping)."""
    if not isinstance(value, str):
        return None
    known = vocabulary()["terms"].get(field_name, {}).get(value)
    return known or canonical_value(value)


def item_parts(uri: str) -> tuple[str | None, str | None, str | None]:
    """GTIN, lot and serial of a canonical trade item URI (each None if absent)."""
    m = _ITEM.match(uri)
    return (m.group(1), m.group(2), m.group(3)) if m else (None, None, None)


def named_identifiers(event: dict) -> list[str]:
    """Every identifier the event names, canonical where it is a GS1 key, in field order."""
    out: list[str] = []
    for name, quantities in _EPC_FIELDS:
        value = event.get(name)
        values = value if isinstance(value, list) else [value] if value is not None else []
        for v in values:
            v = v.get("epcClass") if quantities and isinstance(v, dict) else v
            if isinstance(v, str):
                c = canonical(v) or v
                if c not in out:
                    out.append(c)
    return out


def prepare(doc: dict, events: list[dict]) -> list[Prepared]:
    """Hash and index every event of a (valid) document; duplicates within it are kept once."""
    out: OrderedDict[str, Prepared] = OrderedDict()
    for event, digest in zip(events, document_digests(doc), strict=True):
        hid = hash_id_of(digest)
        if hid in out:
            continue
        read_point = event.get("readPoint", {}).get("id") if isinstance(event.get("readPoint"), dict) else None
        out[hid] = Prepared(
            hash_id=hid,
            digest="0x" + digest,
            event=event,
            event_type=event["type"],
            event_time=datetime.fromisoformat(event["eventTime"]).astimezone(UTC),
            biz_step=full_term("bizStep", event.get("bizStep")),
            disposition=full_term("disposition", event.get("disposition")),
            action=event.get("action"),
            read_point=(canonical(read_point) or read_point) if isinstance(read_point, str) else None,
            epcs=named_identifiers(event),
        )
    return list(out.values())


def _merchants_of(db: Session, prepared: list[Prepared]) -> dict[str, str]:
    gtins = {g for p in prepared for g in (item_parts(u)[0] for u in p.epcs) if g}
    if not gtins:
        return {}
    return dict(db.execute(select(Product.gtin, Product.merchant).where(Product.gtin.in_(gtins))).all())


def capture(db: Session, doc: dict, events: list[dict], recorder: str, now: datetime | None = None) -> CaptureResult:
    """Store the document's new events in one transaction; report each as stored or duplicate."""
    prepared = prepare(doc, events)
    context = json.dumps(doc.get("@context"), separators=(",", ":"))
    for attempt in range(CAPTURE_RETRIES):
        try:
            with _one_writer(db):
                return _store(db, prepared, context, recorder, now or datetime.now(UTC))
        except IntegrityError:  # the same event captured concurrently: look again, it is a duplicate now
            db.rollback()
            if attempt == CAPTURE_RETRIES - 1:
                raise
    raise AssertionError("unreachable")


def _store(db: Session, prepared: list[Prepared], context: str, recorder: str, now: datetime) -> CaptureResult:
    capture_id = str(uuid.uuid4())
    hash_ids = [p.hash_id for p in prepared]
    known: set[str] = set()
    for i in range(0, len(hash_ids), 500):
        chunk = hash_ids[i : i + 500]
        known.update(db.scalars(select(EpcisEvent.hash_id).where(EpcisEvent.hash_id.in_(chunk))))
    new = [p for p in prepared if p.hash_id not in known]
    owners = _merchants_of(db, new)
    ids: dict[str, int] = {}
    if new:
        rows = [
            {
                "hash_id": p.hash_id,
                "digest": p.digest,
                "event_type": p.event_type,
                "event_time": p.event_time,
                "record_time": now,
                "biz_step": p.biz_step,
                "disposition": p.disposition,
                "action": p.action,
                "read_point": p.read_point,
                "recorder": recorder,
                "merchant": next((owners[g] for g in (item_parts(u)[0] for u in p.epcs) if g in owners), None),
                "capture_id": capture_id,
                "body": json.dumps(p.event, separators=(",", ":"), ensure_ascii=False),
                "context": context,
            }
            for p in new
        ]
        # Core executemany: one prepared statement for all rows (the ORM path is ~5x slower here)
        db.execute(insert(EpcisEvent.__table__), rows)
        ids = dict(
            db.execute(select(EpcisEvent.hash_id, EpcisEvent.id).where(EpcisEvent.capture_id == capture_id)).all()
        )
        epc_rows = [
            dict(zip(("gtin", "lot", "serial"), item_parts(u), strict=True), event_id=ids[p.hash_id], uri=u[:300])
            for p in new
            for u in p.epcs
        ]
        if epc_rows:
            db.execute(insert(EpcisEpc.__table__), epc_rows)
    db.commit()
    return CaptureResult(
        capture_id,
        [
            {
                "hashId": p.hash_id,
                "status": "stored" if p.hash_id in ids else "duplicate",
                "type": p.event_type,
                "eventTime": p.event["eventTime"],
            }
            for p in prepared
        ],
    )


# --- queries -------------------------------------------------------------------------------------


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
        stmt = stmt.where((EpcisEvent.recorder == q.visible_to) | (EpcisEvent.merchant == q.visible_to))
    return list(db.scalars(stmt.order_by(EpcisEvent.id).limit(q.limit)))


def as_captured(row: EpcisEvent) -> dict:
    """The event as it came, with its hash ID as eventID when it brought none (EPCIS 2.0 7.4.1)."""
    event = json.loads(row.body)
    event.setdefault("eventID", row.hash_id)
    return event


def query_document(rows: list[EpcisEvent], created: datetime, query_name: str = "SimpleEventQuery") -> dict:
    """An EPCIS 2.0 EPCISQueryDocument holding `rows`, with the extension prefixes of every
    document the events came from declared in its @context.

    Documents may give one prefix different namespaces (`ex` for one system's, `ex` for
    another's). The first declaration keeps the prefix; an event whose document meant another
    namespace has that prefix renamed in its keys and values (to a prefix already declared for
    that namespace, else `ex_2`, ...), so every field still expands to the namespace it was
    captured with and the event's hash ID computed from this document is the one stored."""
    base = "https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld"
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
    """The prefixes an @context declares, as hashing reads them (objects in a list)."""
    out: dict[str, str] = {}
    for c in context if isinstance(context, list) else []:
        if isinstance(c, dict):
            out.update({k: v for k, v in c.items() if isinstance(v, str)})
    return out


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


# --- proofs --------------------------------------------------------------------------------------

TREES = TreeCache()  # anchored roots' trees


def anchor_tree(db: Session, anchor: EpcisAnchor) -> MerkleTree:
    """The Merkle tree of an anchor, rebuilt from its events' digests on first use."""

    def leaves() -> list[bytes]:
        digests = db.scalars(
            select(EpcisEvent.digest).where(EpcisEvent.anchor_id == anchor.id).order_by(EpcisEvent.leaf_index)
        ).all()
        return [bytes.fromhex(d[2:]) for d in digests]

    return TREES.get(anchor.root, leaves)


def proof_of(db: Session, row: EpcisEvent) -> dict:
    """Where an event is on chain; status pending until it is. Method `merkle`: leaf, path, root,
    transaction and block. Method `batchChain`: the batch, the entry's index, the batch's head
    after it, the recorder who signed it, transaction and block."""
    out = {"hashId": row.hash_id, "eventHash": row.digest}
    if row.anchor_id is None:
        return out | {"status": "pending"}
    anchor = db.get(EpcisAnchor, row.anchor_id)
    out |= {"status": "anchored", "tx": anchor.tx_hash, "block": anchor.block_number}
    out["anchoredAt"] = anchor.anchored_at.replace(tzinfo=anchor.anchored_at.tzinfo or UTC).isoformat()
    if anchor.kind == "chain":
        return out | {
            "method": "batchChain",
            "batchId": anchor.batch_id,
            "index": anchor.chain_index,
            "head": anchor.root,
            "recorder": anchor.submitter,
        }
    tree = anchor_tree(db, anchor)
    return out | {
        "method": "merkle",
        "leaf": "0x" + tree.levels[0][row.leaf_index].hex(),
        "leafIndex": row.leaf_index,
        "path": ["0x" + p.hex() for p in tree.proof(row.leaf_index)],
        "root": anchor.root,
        "leafCount": anchor.leaf_count,
    }
