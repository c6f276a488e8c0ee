"""EPCIS capture, end to end and anchored: 20,000 generated events (all five types, with
extensions, sensor data, ...) posted as 40 EPCIS 2.0 documents of 500 events by 8 concurrent
clients to the API (`api.serve`, 2 processes), each validated against GS1's schema, hashed
(CBV 2.0), stored once and anchored on chain by the background anchorer in roots of up to 1,000
events. The clock stops when the last event is anchored.

Baseline, same run and node: one event per transaction (`Provenance.recordEvent`, each into its
batch's hash chain), 200 events sent back to back.
"""

from __future__ import annotations

import json
import os
import random
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
from eth_utils import keccak

from ledger.trace.epcis.samples import document

from .fresh import fresh_deployment
from .server import login, served

TARGETS = {"epcis.capture_events_per_s": 2_000}  # information: the reference machine's figure
RATIO_TARGETS = {"ratio.capture_vs_one_per_tx": 30}
EVENTS, PER_DOC, CLIENTS, WORKERS = 20_000, 500, 8, 2
BASELINE_EVENTS = 200
GTIN = 6901234567892


def measure(url: str, manifest: Path) -> dict[str, float]:
    _, dep, accounts, who = fresh_deployment(url, manifest)
    producer = accounts[dep.manifest["members"]["producer"]["account_index"]]
    docs = [
        json.dumps(document(random.Random(seed), PER_DOC)).encode() for seed in range(EVENTS // PER_DOC)
    ]  # generated before the clock starts
    port = 8500 + os.getpid() % 200
    env = {"LEDGER_ANCHOR_MAX_EVENTS": "1000", "LEDGER_ANCHOR_MAX_AGE": "1", "LEDGER_ANCHOR_INTERVAL": "0.2"}
    env["LEDGER_ANCHOR_MANUAL_EVERY"] = "0"  # the warm-up anchors on demand
    with served(url, manifest, "epcis", port, workers=WORKERS, **env) as base:
        h = login(base, producer) | {"Content-Type": "application/ld+json"}
        with httpx.Client(timeout=120) as client:
            # warm-up events of their own (Random(-1) would repeat Random(1): seeds are taken by absolute value)
            warm = client.post(
                f"{base}/v1/epcis/capture", content=json.dumps(document(random.Random(10**6), 5)), headers=h
            )
            warm.raise_for_status()
            client.post(f"{base}/v1/epcis/anchor", headers=h).raise_for_status()

            def post(body: bytes) -> int:
                r = client.post(f"{base}/v1/epcis/capture", content=body, headers=h)
                r.raise_for_status()
                return r.json()["stored"]

            t = time.perf_counter()
            with ThreadPoolExecutor(CLIENTS) as pool:
                stored = sum(pool.map(post, docs))
            captured_s = time.perf_counter() - t
            if stored != EVENTS:
                raise RuntimeError(f"{stored} of {EVENTS} generated events stored; the rest were taken as duplicates")
            while _pending(client, base, h):  # the background anchorer works through what is pending
                time.sleep(0.05)
            total_s = time.perf_counter() - t

    # baseline: one event per transaction into the batch hash chain
    prov = dep.contract("Provenance")
    who["merchant_a"].transact(prov.functions.registerProduct(GTIN))
    who["merchant_a"].transact(prov.functions.registerBatch(GTIN, "EPCIS-B"))
    batch = prov.functions.batchId(GTIN, "EPCIS-B").call()
    who["merchant_a"].transact(prov.functions.setRecorder(GTIN, who["producer"].address, True))
    t = time.perf_counter()
    for i in range(BASELINE_EVENTS):
        who["producer"].transact(prov.functions.recordEvent(batch, keccak(text=f"b{i}")))
    one_per_tx = BASELINE_EVENTS / (time.perf_counter() - t)
    rate = stored / total_s
    return {
        "epcis.capture_events_per_s": round(rate, 1),
        "epcis.capture_only_events_per_s": round(stored / captured_s, 1),
        "epcis.events_stored": stored,
        "baseline.epcis.one_event_per_tx_per_s": round(one_per_tx, 1),
        "ratio.capture_vs_one_per_tx": rate / one_per_tx,
    }


def _pending(client: httpx.Client, base: str, h: dict[str, str]) -> int:
    r = client.get(f"{base}/v1/epcis/status", headers=h)
    r.raise_for_status()
    return r.json()["pending"]
