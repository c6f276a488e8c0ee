"""The EPCIS 2.0 REST binding against our own capture path, and a webhook subscription keeping up.

Served by `api.serve` (2 processes), SQLite, anchoring off (the binding's cost is the question,
not the chain's). 8 clients post 96 documents of 500 generated events: 48 to `/v1/epcis/capture`
(the baseline, today's path) and 48 to `/epcis/capture` (a capture job and its Location), in 12
rounds of 4 documents to each path back to back, each path first in half of them, so drift hits
both. Ratio: the median of the rounds' binding/baseline ratios, target 0.9 (as fast, within the
noise of one run). With 6 rounds the median read 0.82 in one full `make bench` (2026-12-08; 1.05
alone just after, on the same clone): a median of six ratios of ~1 s each still moved with one
busy second.

Then a named query over every ObjectEvent... and every other type (all events) with a streaming
webhook subscription to a real HTTP receiver on this machine, and 10,000 more events captured
through the binding as fast as 8 clients can: each event's lag is the time from the answer to the
capture request that carried it to its arrival at the receiver. Reported: p50 and p99 lag (ms,
information: absolute), and whether delivery keeps up: the slope of the lag over capture time
(Theil-Sen over deliveries, see `_slope`; seconds of lag gained per second of capturing: 0 when deliveries keep
up, 1 - delivered rate / captured rate when they fall behind; budget 0.25: deliveries at 3/4 of
the capture rate or better), with delivered events/s over captured events/s for information.
Three such rounds, each drained before the next: the slope reported is their median (with the
lowest and highest), lags are pooled. One round's capture lasts a few seconds, so one delivery
that coincides with a capture moves its slope: one round alone read 0.28, 0.13 and -0.00 in
three runs of one commit on 2026-12-05.

Until 2026-12-05 the budget was the p99 lag of the last fifth of the events over that of the
first (at most 2). A fifth is 2,000 events: four documents, four deliveries, so that ratio was one
delivery's lag over another's, and a delivery's lag is ~0.1 s when the worker that delivers is
not capturing and 0.4-0.9 s when it is (the two share that process's interpreter lock; up to 2.7 s
on one core): one delivery coinciding with a capture makes 2-3x alone, as the 2.80 a busy
machine read. Measured here at load 7-10, deliveries kept up: slope -0.06 (2 cores) and -0.03 (one
core, `taskset -c 0`), the last event delivered 0.05-0.07 s after the last capture was answered,
delivered/captured 0.99-1.00.
"""

from __future__ import annotations

import json
import os
import random
import statistics
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx

from ledger.trace.epcis.hashid import document_hash_ids
from ledger.trace.epcis.samples import document

from .fresh import fresh_deployment
from .server import login, served
from .webhook_receiver import WebhookReceiver

TARGETS = {"epcis.binding_capture_events_per_s": 2_000}
INFO_BUDGETS = {"epcis.subscription_lag_p99_ms": 2_000}
RATIO_TARGETS = {"ratio.binding_vs_v1_capture": 0.9}
RATIO_BUDGETS = {"ratio.subscription_lag_slope": 0.25}
PER_DOC, DOCS_EACH, CLIENTS, WORKERS = 500, 48, 8, 2  # 12 rounds: each path first in six
LAG_EVENTS, LAG_ROUNDS = 10_000, 3


def measure(url: str, manifest: Path) -> dict[str, float]:
    _, dep, accounts, _ = fresh_deployment(url, manifest)
    producer = accounts[dep.manifest["members"]["producer"]["account_index"]]
    rng = [random.Random(seed) for seed in range(10_000, 10_000 + 2 * DOCS_EACH + LAG_ROUNDS * LAG_EVENTS // PER_DOC)]
    docs = [document(r, PER_DOC) for r in rng]  # generated before any clock starts
    bodies = [json.dumps(d).encode() for d in docs]
    port = 8700 + os.getpid() % 200
    env = {"LEDGER_ANCHOR_INTERVAL": "0", "LEDGER_WEBHOOK_ALLOW_PRIVATE": "1", "LEDGER_WEBHOOK_INTERVAL": "0.05"}
    receiver = WebhookReceiver()
    with served(url, manifest, "epcis-binding", port, workers=WORKERS, **env) as base:
        h = login(base, producer) | {"Content-Type": "application/ld+json"}
        with httpx.Client(timeout=120) as client:
            for path, seed in (("/v1/epcis/capture", 1), ("/epcis/capture", 2)):  # each path warmed, in both workers
                for _ in range(WORKERS):
                    client.post(base + path, content=json.dumps(document(random.Random(seed), 5)), headers=h)
                    seed += 100
            spent: dict[str, list[float]] = {"v1": [], "binding": []}  # each round's seconds, by path

            def v1(body: bytes) -> None:
                client.post(f"{base}/v1/epcis/capture", content=body, headers=h).raise_for_status()

            def binding(body: bytes) -> float:
                r = client.post(f"{base}/epcis/capture", content=body, headers=h)
                r.raise_for_status()
                return time.perf_counter()

            for i in range(0, 2 * DOCS_EACH, CLIENTS):  # a round of each path, interleaved, each first in turn
                pair = [("v1", v1, bodies[i : i + CLIENTS // 2]),
                        ("binding", binding, bodies[i + CLIENTS // 2 : i + CLIENTS])]  # fmt: skip
                # (v1 always first: work a round leaves behind, e.g. the scan writer's or the completeness
                # judge's, fell in the binding's time; 0.89 in one full run, 0.94-1.00 alone)
                for path, fn, chunk in pair if (i // CLIENTS) % 2 == 0 else pair[::-1]:
                    t = time.perf_counter()
                    with ThreadPoolExecutor(CLIENTS) as pool:
                        list(pool.map(fn, chunk))
                    spent[path].append(time.perf_counter() - t)
            per_path = DOCS_EACH * PER_DOC
            # a webhook subscription to every event, then LAG_EVENTS more through the binding
            q = {"name": "everything", "query": {}}
            client.post(f"{base}/epcis/queries", json=q, headers=h).raise_for_status()
            sub = {"dest": receiver.url, "secret": "bench-secret", "stream": True}
            client.post(f"{base}/epcis/queries/everything/subscriptions", json=sub, headers=h).raise_for_status()
            rounds = []  # each round: LAG_EVENTS through the binding, then every one delivered
            for first in range(2 * DOCS_EACH, len(bodies), LAG_EVENTS // PER_DOC):
                rounds.append(_lag_round(range(first, first + LAG_EVENTS // PER_DOC), docs, bodies, binding, receiver))
    lags = sorted(lag for r in rounds for lag in r["lags_ms"])
    slopes = sorted(r["slope"] for r in rounds)
    v1_rate, binding_rate = per_path / sum(spent["v1"]), per_path / sum(spent["binding"])
    return {
        "epcis.v1_capture_events_per_s": round(v1_rate, 1),
        "epcis.binding_capture_events_per_s": round(binding_rate, 1),
        # the median of the rounds' own ratios (each round's pair ran back to back): one slow round of
        # either path (this machine's noise: 0.89-1.13 over totals in six runs alone) moves it little
        "ratio.binding_vs_v1_capture": statistics.median(
            a / b for a, b in zip(spent["v1"], spent["binding"], strict=True)
        ),
        "epcis.subscription_events": len(lags),
        "epcis.subscription_lag_p50_ms": round(statistics.median(lags), 1),
        "epcis.subscription_lag_p99_ms": round(lags[int(0.99 * (len(lags) - 1))], 1),
        "ratio.subscription_lag_slope": statistics.median(slopes),
        "epcis.subscription_lag_slope_min": round(slopes[0], 3),
        "epcis.subscription_lag_slope_max": round(slopes[-1], 3),
        "ratio.subscription_delivered_vs_captured": statistics.median(r["delivered_vs_captured"] for r in rounds),
    }


def _lag_round(tail: range, docs: list[dict], bodies: list[bytes], binding, receiver: WebhookReceiver) -> dict:
    """One round of the subscription's benchmark: `tail`'s documents captured by CLIENTS at once,
    then each event's lag from the answer that carried it to its arrival at the receiver."""
    ids = {i: [e.get("eventID", hid) for hid, e in zip(document_hash_ids(docs[i]),
               docs[i]["epcisBody"]["eventList"], strict=True)] for i in tail}  # fmt: skip
    acked: dict[str, float] = {}

    def timed(i: int) -> None:
        done = binding(bodies[i])
        acked.update(dict.fromkeys(ids[i], done))

    t = time.perf_counter()
    with ThreadPoolExecutor(CLIENTS) as pool:
        list(pool.map(timed, tail))
    captured_s = time.perf_counter() - t
    deadline = time.perf_counter() + 120
    while len([k for k in acked if k in receiver.arrived]) < len(acked) and time.perf_counter() < deadline:
        time.sleep(0.02)
    missing = [k for k in acked if k not in receiver.arrived]
    if missing:
        raise RuntimeError(f"{len(missing)} of {len(acked)} subscribed events never arrived")
    delivered_s = max(receiver.arrived[k] for k in acked) - t
    by_ack = sorted(acked, key=acked.__getitem__)
    return {
        "lags_ms": [(receiver.arrived[k] - v) * 1000 for k, v in acked.items()],
        "slope": _slope([acked[k] for k in by_ack], [receiver.arrived[k] - acked[k] for k in by_ack]),
        "delivered_vs_captured": (len(acked) / delivered_s) / (len(acked) / captured_s),
    }


def _slope(xs: list[float], ys: list[float]) -> float:
    """How fast lag grows over capture time: the Theil-Sen slope (median of the pairwise slopes)
    over deliveries, each a document's events (one answer time) at their worst lag.

    Least squares over events let one or two deliveries that happened to coincide with a capture
    near the end (0.4-0.9 s late against ~0.1 s) tilt the whole line: 0.06, 0.27 and -0.09 in three
    runs of one commit. The median of slopes ignores up to ~29 % such deliveries; a subscription
    that falls behind raises every pair's slope and so the median."""
    worst: dict[float, float] = {}
    for x, y in zip(xs, ys, strict=True):
        worst[x] = max(y, worst.get(x, y))
    points = sorted(worst.items())
    slopes = [(y2 - y1) / (x2 - x1) for i, (x1, y1) in enumerate(points) for x2, y2 in points[i + 1 :] if x2 > x1]
    return statistics.median(slopes) if slopes else 0.0
