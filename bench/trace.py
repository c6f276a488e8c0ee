"""Genealogy trace: the whole forward genealogy of one raw-material batch over 10,000 stored events
(1 commissioning; 1,110 transformations in three tiers of tenfold fan-out, 10 -> 100 -> 1,000
batches; 8,889 shipments, receipts and sales of the last tier's batches, with parties and places),
walked from the batch (ledger.compliance.genealogy), on SQLite.

Baseline, same run and database: the same 10,000 events read by id and parsed, without the walk.
The issue's budget is 1 s for the walk (information: machines here differ 2-3x in speed)."""

from __future__ import annotations

import gc
import json
import tempfile
import time
from pathlib import Path

from sqlalchemy import select

from ledger.compliance.genealogy import class_uri, trace
from ledger.store.db import make_engine, migrate, session_factory
from ledger.store.models import EpcisEvent
from ledger.trace.epcis import capture as captures
from ledger.trace.epcis.samples import CONTEXT

INFO_BUDGETS = {"trace.genealogy_10k_ms": 1000}
RATIO_BUDGETS = {"ratio.trace_vs_plain_read": 4}
GTIN = "06901234567892"
EVENTS, RUNS = 10_000, 9
STEPS = ("shipping", "receiving", "retail_selling")


def _q(lot: str, n: int = 10) -> list[dict]:
    return [{"epcClass": class_uri(GTIN, lot), "quantity": n, "uom": "KGM"}]


def genealogy_events(total: int = EVENTS, fan: int = 10) -> list[dict]:
    """`total` events all downstream of batch R: three tiers of transformations (fan-out `fan`),
    then shipments, receipts and sales of the last tier's batches (at least one per batch)."""
    t = "2026-11-01T08:00:00+08:00"
    out = [{"type": "ObjectEvent", "eventTime": t, "eventTimeZoneOffset": "+08:00", "action": "ADD",
            "bizStep": "commissioning", "quantityList": _q("R")}]  # fmt: skip
    tiers, parents = [], ["R"]
    for _tier in range(3):
        tier = []
        for p in parents:
            for k in range(fan):
                lot = f"{p}.{k}" if p != "R" else f"T{k}"
                tier.append(lot)
                out.append({"type": "TransformationEvent", "eventTime": t, "eventTimeZoneOffset": "+08:00",
                            "inputQuantityList": _q(p), "outputQuantityList": _q(lot),
                            "bizStep": "commissioning"})  # fmt: skip
        tiers.append(tier)
        parents = tier
    last = tiers[-1]
    for i in range(total - len(out)):
        lot, step = last[i % len(last)], STEPS[(i // len(last)) % len(STEPS)]
        out.append({
            "type": "ObjectEvent", "eventTime": t, "eventTimeZoneOffset": "+08:00", "action": "OBSERVE",
            "bizStep": step, "quantityList": _q(lot, 1 + i % 7),
            "bizLocation": {"id": f"urn:epc:id:sgln:0614141.{i % 50:05d}.0"},
            "sourceList": [{"type": "owning_party", "source": "urn:epc:id:pgln:0614141.00001"}],
            "destinationList": [{"type": "owning_party", "destination": f"urn:epc:id:pgln:0614141.{2 + i % 40:05d}"}],
        })  # fmt: skip
    return out


def measure(url: str, manifest: Path) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as tmp:
        engine = make_engine(f"sqlite:///{Path(tmp) / 'trace.sqlite3'}")
        migrate(engine)
        db = session_factory(engine)()
        events = genealogy_events()
        doc = {"@context": CONTEXT, "type": "EPCISDocument", "schemaVersion": "2.0",
               "creationDate": "2026-11-01T00:00:00Z", "epcisBody": {"eventList": events}}  # fmt: skip
        stored = captures.capture(db, doc, events, "0x" + "11" * 20).stored
        ids = list(db.scalars(select(EpcisEvent.id)))
        walks, reads = [], []
        for _ in range(RUNS):  # in turns, each timing after a full collection (medians of 9)
            db.expire_all()
            gc.collect()
            t0 = time.perf_counter()
            found = trace(db, {class_uri(GTIN, "R")}, forward=True)
            walks.append(time.perf_counter() - t0)
            gc.collect()
            t0 = time.perf_counter()
            read = [json.loads(b) for b in db.scalars(select(EpcisEvent.body).where(EpcisEvent.id.in_(ids)))]
            reads.append(time.perf_counter() - t0)
        db.close()
        engine.dispose()
    if len(found.events) != stored or len(read) != stored or stored != EVENTS:
        raise RuntimeError(f"the walk found {len(found.events)} of {stored} stored events")
    walk, base = sorted(walks)[RUNS // 2], sorted(reads)[RUNS // 2]
    return {
        "trace.genealogy_10k_ms": round(walk * 1000, 1),
        "trace.genealogy_batches": len(found.batches),
        "baseline.trace.read_10k_ms": round(base * 1000, 1),
        "ratio.trace_vs_plain_read": round(walk / base, 2),
    }
