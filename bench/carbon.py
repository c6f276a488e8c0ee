"""Carbon footprints: a batch's footprint computed from its whole backward genealogy
(ledger.carbon: the stored events walked, then allocated, with legs and storage) on SQLite, over a
generated 5-level genealogy of ~1,000 events (fan-in 4: 256 raw batches, 85 transformations with
metered energy, a shipping/receiving leg per batch) and one of ~10,000 events (fan-in 6, three legs
a batch); the anchoring of one footprint on chain; PACT `GET /pact/3/footprints` answers per
second with 10,000 footprints stored (in-process ASGI client, one page of 100).

Baselines, same run and database: the same events read by id and parsed, without walk or
computation, and the genealogy walk alone (ledger.compliance.genealogy, what the computation reads);
for the API, the same page read from the table by SQL and parsed."""

from __future__ import annotations

import json
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

from fastapi.testclient import TestClient
from sqlalchemy import insert, select

from api.app import create_app
from api.carbon.pact_auth import digest
from api.core.settings import Settings
from ledger.carbon import factors, pact
from ledger.carbon.footprint import compute
from ledger.carbon.records import footprint_hash, footprint_root, genealogy_events
from ledger.store.carbon_tables import CarbonClient, CarbonFootprint, CarbonToken
from ledger.store.db import make_engine, migrate, session_factory
from ledger.store.models import EpcisEvent
from ledger.trace.epcis import capture as captures

from .fresh import fresh_deployment

INFO_BUDGETS = {"carbon.footprint_1k_events_ms": 200}
RATIO_BUDGETS = {"ratio.carbon_1k_vs_plain_read": 15, "ratio.carbon_10k_vs_plain_read": 15}
BUDGETS = {"gas.per_footprint_anchored": 60_000}
GTIN = "06901234567892"
RAW = "06901234567809"
CTX = ["https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld", {"tlc": "https://ns.traceledger.dev/carbon/"}]
RUNS = 5


def _q(gtin: str, lot: str, kg: int) -> list[dict]:
    return [{"epcClass": f"https://id.gs1.org/01/{gtin}/10/{lot}", "quantity": kg, "uom": "KGM"}]


def _ev(kind: str, day: int, step: str, **more) -> dict:
    t = (datetime(2026, 1, 1, tzinfo=UTC) + timedelta(hours=day)).isoformat()
    return {"type": kind, "eventTime": t, "eventTimeZoneOffset": "+00:00", "bizStep": step} | more


def genealogy(fan: int, legs: int, levels: int = 5) -> list[dict]:
    """Batch F made from `fan` batches, each made from `fan`, ... `levels` deep; the last level raw
    (commissioned); every batch shipped and received `legs` times before it is used."""
    out: list[dict] = []

    def make(lot: str, level: int, hour: int) -> None:
        gtin = RAW if level == levels - 1 else GTIN
        if level == levels - 1:
            out.append(_ev("ObjectEvent", hour, "commissioning", action="ADD", quantityList=_q(gtin, lot, 100)))
        else:
            ins = [f"{lot}.{k}" for k in range(fan)]
            for i in ins:
                make(i, level + 1, hour - 10)
            out.append(
                _ev(
                    "TransformationEvent",
                    hour,
                    "commissioning",
                    inputQuantityList=[q for i in ins for q in _q(RAW if level == levels - 2 else GTIN, i, 100)],
                    outputQuantityList=_q(gtin, lot, 100),
                    sensorElementList=[{"sensorReport": [{"type": "gs1:Energy", "value": 50, "uom": "KWH"}]}],
                )
            )
        for k in range(legs):
            q = _q(gtin, lot, 100)
            out.append(
                _ev(
                    "ObjectEvent",
                    hour + 1 + 2 * k,
                    "shipping",
                    action="OBSERVE",
                    quantityList=q,
                    **{"tlc:transportMode": "road", "tlc:distanceKm": "120"},
                )
            )
            out.append(_ev("ObjectEvent", hour + 2 + 2 * k, "receiving", action="OBSERVE", quantityList=q))

    make("F", 0, 100)
    return out


TABLE = {
    "version": "bench",
    "publisher": "0x" + "11" * 20,
    "source": {"name": "bench", "version": "1"},
    "electricity": {"kgCO2ePerKWh": "0.5703"},
    "transport": {"road": {"ambient": "0.105"}},
    "materials": {RAW: {"kgCO2ePerKg": "1.25"}},
}


def _footprints(db, events: list[dict]) -> tuple[float, float, object]:
    doc = {
        "@context": CTX,
        "type": "EPCISDocument",
        "schemaVersion": "2.0",
        "creationDate": "2026-11-01T00:00:00Z",
        "epcisBody": {"eventList": events},
    }
    captures.capture(db, doc, events, "0x" + "11" * 20)
    ids = list(db.scalars(select(EpcisEvent.id)))
    table = factors.parse(TABLE)
    runs, reads, walks, result = [], [], [], None
    for _ in range(RUNS):
        db.expire_all()
        t0 = time.perf_counter()
        result = compute(genealogy_events(db, GTIN, "F"), table, GTIN, "F")
        runs.append(time.perf_counter() - t0)
        db.expire_all()
        t0 = time.perf_counter()
        genealogy_events(db, GTIN, "F")
        walks.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        read = [json.loads(b) for b in db.scalars(select(EpcisEvent.body).where(EpcisEvent.id.in_(ids)))]
        reads.append(time.perf_counter() - t0)
    if not result.complete or len(result.inputs) != len(events) or len(read) != len(events):
        raise RuntimeError(f"footprint incomplete or partial: {result.missing[:3]}, {len(result.inputs)} inputs")
    mid = RUNS // 2
    return sorted(runs)[mid], sorted(reads)[mid], sorted(walks)[mid], result


def measure(url: str, manifest: Path) -> dict[str, float]:
    metrics: dict[str, float] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for name, fan, legs in (("1k", 4, 1), ("10k", 6, 3)):
            engine = make_engine(f"sqlite:///{Path(tmp) / f'carbon-{name}.sqlite3'}")
            migrate(engine)
            with session_factory(engine)() as db:
                events = genealogy(fan, legs)
                run, read, walk, result = _footprints(db, events)
            engine.dispose()
            metrics[f"carbon.genealogy_{name}_events"] = len(events)
            metrics[f"carbon.footprint_{name}_events_ms"] = round(run * 1000, 1)
            metrics[f"baseline.carbon.read_{name}_ms"] = round(read * 1000, 1)
            metrics[f"ratio.carbon_{name}_vs_plain_read"] = round(run / read, 2)
            metrics[f"baseline.carbon.genealogy_walk_{name}_ms"] = round(walk * 1000, 1)
            metrics[f"ratio.carbon_{name}_vs_genealogy_walk"] = round(run / walk, 2)
        metrics["carbon.footprints_computed_per_s_10k"] = round(1 / run, 2)
        # one footprint anchored: a root over its hash, its table's and its ~10,000 input digests
        _, dep, _, who = fresh_deployment(url, Path(tmp) / "carbon-deploy.json")
        doc = pact.document(result, str(uuid.uuid4()), datetime.now(UTC), "bench", ["urn:bench:co"], "bench")
        digests = ["0x" + bytes(32 - len(str(i))).hex() + str(i).encode().hex() for i in range(len(result.inputs))]
        root = footprint_root(footprint_hash(doc), factors.parse(TABLE).hash, digests)
        receipt = who["platform"].transact(
            dep.contract("Provenance").functions.anchor(root, len(digests) + 2, "carbon:bench")
        )
        metrics["gas.per_footprint_anchored"] = receipt["gasUsed"]
        metrics.update(_api(url, Path(tmp), dep.manifest, doc))
    return metrics


def _api(url: str, tmp: Path, manifest: dict, doc: dict, stored: int = 10_000, calls: int = 200) -> dict[str, float]:
    db_url = f"sqlite:///{tmp / 'carbon-api.sqlite3'}"
    (tmp / "carbon-api.json").write_text(json.dumps(manifest))
    app = create_app(Settings(rpc_url=url, manifest_path=tmp / "carbon-api.json", database_url=db_url))
    engine = make_engine(db_url)
    migrate(engine)
    now = datetime.now(UTC)
    rows = []
    for i in range(stored):
        d = doc | {"id": str(uuid.uuid4()), "productIds": [pact.product_id(GTIN, f"L{i}")]}
        rows.append(
            {
                "id": d["id"],
                "gtin": GTIN,
                "lot": f"L{i}",
                "product_id": d["productIds"][0].lower(),
                "status": "Active",
                "valid_from": now,
                "valid_to": now + timedelta(days=1000),
                "merchant": "0x" + "11" * 20,
                "body": json.dumps(d),
                "hash": "0x",
                "table_version": "bench",
                "inputs": "[]",
                "root": "0x",
                "tx_hash": "0x",
                "block_number": 1,
                "created_at": now - timedelta(seconds=i),
            }
        )
    with session_factory(engine)() as db:
        db.execute(insert(CarbonFootprint.__table__), rows)
        db.add(CarbonClient(client_id="bench", secret_hash="0x", member="0x" + "11" * 20, created_at=now))
        db.add(CarbonToken(token_hash=digest("bench-token"), client_id="bench", expires_at=now + timedelta(hours=1)))
        db.commit()
    client = TestClient(app, base_url="https://testserver")
    h = {"Authorization": "Bearer bench-token"}
    for _ in range(5):
        assert client.get("/pact/3/footprints", params={"limit": 100}, headers=h).status_code == 200
    t0 = time.perf_counter()
    for i in range(calls):
        r = client.get("/pact/3/footprints", params={"limit": 100, "offset": (i * 100) % stored}, headers=h)
        assert r.status_code == 200 and len(r.json()["data"]) == 100
    api = calls / (time.perf_counter() - t0)
    t0 = time.perf_counter()
    with session_factory(engine)() as db:
        for i in range(calls):
            q = select(CarbonFootprint.body).order_by(CarbonFootprint.created_at.desc(), CarbonFootprint.id)
            page = [json.loads(b) for b in db.scalars(q.offset((i * 100) % stored).limit(101))]
            assert len(page) >= 100
    base = calls / (time.perf_counter() - t0)
    engine.dispose()
    return {
        "carbon.footprints_per_s": round(api, 1),
        "baseline.carbon.sql_pages_per_s": round(base, 1),
        "ratio.carbon_api_vs_sql_page": round(api / base, 2),
    }
