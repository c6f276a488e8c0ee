"""The load `bench.soak_hosts` puts on the platform's API hosts while it breaks them: the consortium's
load (`bench.consortium_load`: order lifecycles, EPCIS captures anchored, timed writes) with its
clients spread over the hosts, and scans of issued codes.

A client sends each request to its own host first. A request that host does not answer (refused,
reset, timed out) or answers 5xx is sent again, unchanged (the same Idempotency-Key), to the next
host, until one answers, for at most `RETRY_S`; one answered 409 `idempotency_in_progress` (its
first attempt still holds the key, or died holding it: a lease of `2 * LEDGER_TX_TIMEOUT + 10` s)
is sent again after its Retry-After. What the API acknowledged is written down as in
`consortium_load` (`acked`), and orders a lost answer had already settled count as settled when
the next answer says so.
"""

from __future__ import annotations

import json
import random
import threading
import time
from collections import Counter
from typing import Any

import httpx

from ledger.trace.epcis.samples import delivery_document, document
from ledger.trace.gs1 import check_digit

from .consortium_load import EVENTS_PER_DOC, Load
from .server import login, ok

RETRY_S = 120  # how long a client keeps sending a request no host answers


class Failover:
    """One client's connections to every API host, its own host first."""

    def __init__(self, bases: list[str], home: int, retried: Counter, timeout: float = 60):
        self.clients = [httpx.Client(base_url=b, timeout=timeout) for b in bases]
        self.home, self.retried = home, retried

    def close(self) -> None:
        for c in self.clients:
            c.close()

    def send(self, method: str, path: str, home: int | None = None, **kw: Any) -> httpx.Response:
        """The first answer that is not a 5xx nor "in progress", from the hosts in turn."""
        at = self.home if home is None else home
        deadline, last = time.monotonic() + RETRY_S, ""
        while True:
            try:
                r = self.clients[at % len(self.clients)].request(method, path, **kw)
            except httpx.TransportError as exc:
                last = f"{type(exc).__name__} at host {at % len(self.clients) + 1}"
                self.retried[type(exc).__name__] += 1
                at += 1  # that host is gone: the next one
            else:
                in_progress = r.status_code == 409 and _error(r) == "idempotency_in_progress"
                if not in_progress and r.status_code < 500:
                    return r
                last = f"{r.status_code} {r.text[:200]}"
                self.retried["in_progress" if in_progress else f"{r.status_code // 100}xx"] += 1
                if in_progress:
                    time.sleep(float(r.headers.get("Retry-After", "1")))
                else:
                    at += 1
            if time.monotonic() > deadline:
                raise RuntimeError(f"{method} {path}: no host answered in {RETRY_S} s (last: {last})")
            time.sleep(0.2)


def _error(r: httpx.Response) -> str | None:
    try:
        return r.json().get("error")
    except ValueError:
        return None


class HostsLoad(Load):
    """`consortium_load.Load` through several API hosts (`bases`), riding out their faults."""

    def __init__(self, bases: list[str], *args: Any, **kw: Any):
        super().__init__(bases[0], *args, **kw)  # signed in at one host: the sessions are in the shared database
        self.bases = bases
        self.retried: Counter = Counter()  # requests sent again, by cause
        self.problems: list[str] = []  # requests no host answered, lifecycles left unfinished
        self.scans: Counter = Counter()  # scan answers by status class
        self.t0 = time.monotonic()  # the run's start, for the problems' times

    def _problem(self, what: str) -> None:
        self.problems.append(f"at {time.monotonic() - self.t0:.0f} s: {what}"[:400])

    def _lifecycles(self, stop: threading.Event, settled: list[int], client: int) -> None:
        api, n = Failover(self.bases, client, self.retried), 0
        try:
            while not stop.is_set():
                tag, orders = self.batch(client, n)
                n += 1
                try:
                    self._lifecycle(api, tag, orders, settled)
                except Exception as exc:  # noqa: BLE001 - reported; the client goes on with the next batch
                    self._problem(f"lifecycle {tag}: {exc!r}")
        finally:
            api.close()

    def _timed(self, stop: threading.Event, latencies: list[float], writer: str) -> None:
        while not stop.is_set():
            try:
                super()._timed(stop, latencies, writer)
            except Exception as exc:  # noqa: BLE001 - a write that did not become final: reported, the next one
                self._problem(f"timed write by {writer}: {exc!r}")

    def _lifecycle(self, api: Failover, tag: str, orders: list[dict], settled: list[int]) -> None:
        h = {**self.headers["platform"], "Idempotency-Key": tag}
        escrowed = ok(api.send("POST", "/v1/orders/batch", json={"orders": orders}, headers=h))["orders"]
        keys = {o["order_id"]: o["order_key"] for o in escrowed}
        self.acked["escrowed"].update(keys.values())
        carrier = self.headers["logistics"]
        doc = delivery_document([("desadv", f"DESADV-{tag}")], tag[-20:])  # the event its deliveries name
        ev = ok(api.send("POST", "/v1/epcis/capture", json=doc, headers=carrier))["events"][0]["hashId"]
        deliveries = [{"order_id": o["order_id"], "epcis_event": ev} for o in orders]
        r = api.send("POST", "/v1/orders/deliveries", json={"deliveries": deliveries}, headers=carrier)
        if r.status_code == 409:  # an attempt whose answer was lost confirmed them: the settle below says
            self.retried["delivered_before"] += 1
        else:
            ok(r)
        ids = list(keys)
        for _ in range(60):  # the return window (1 s) runs from the delivery's block
            time.sleep(1.0)
            done = ok(api.send("POST", "/v1/orders/settle", json={"order_ids": ids}, headers=self.headers["platform"]))
            now = [x["order_id"] for x in done["settled"]]
            now += [s["order_id"] for s in done["skipped"] if s["status"] == "settled"]  # by a lost answer
            settled[0] += len(now)
            self.acked["settled"].update(keys[i] for i in now)
            skipped = [s for s in done["skipped"] if s["status"] == "delivered"]
            if behind := [s["order_id"] for s in skipped if s["due_at"] is None]:  # the chain skipped them
                self._problem(f"lifecycle {tag}: {len(behind)} orders delivered in the table, not settled by "
                                     "the chain (settled before, by an attempt whose answer was lost?)")  # fmt: skip
            ids = [s["order_id"] for s in skipped if s["due_at"] is not None]  # not yet due
            if not ids:
                break
        if ids:
            self._problem(f"lifecycle {tag}: {len(ids)} orders delivered but not settled after 60 tries")

    def _capture(self, stop: threading.Event, captured: list[int]) -> None:
        """EPCIS documents, to the hosts in turn."""
        h = self.headers["producer"] | {"Content-Type": "application/ld+json"}
        seed, api = self.phase * 10**6, Failover(self.bases, 0, self.retried)
        try:
            while not stop.is_set():
                seed += 1
                body = json.dumps(document(random.Random(seed), EVENTS_PER_DOC))
                try:
                    ok(api.send("POST", "/v1/epcis/capture", home=seed, content=body, headers=h))
                    captured[0] += EVENTS_PER_DOC  # stored once by their hash IDs, however often sent
                except RuntimeError as exc:
                    self._problem(f"capture {seed}: {exc}")
                time.sleep(0.2)
        finally:
            api.close()

    # -- scans: shoppers reading issued codes through any host ------------------------------------

    def issue_codes(self, count: int = 20) -> None:
        """A product, a batch and `count` codes of merchant_a's to scan (their paths kept)."""
        h = login(self.base, self.members["merchant_a"])
        body = f"069{time.time_ns() % 10**9:09d}0"[:13]
        gtin, lot = body + str(check_digit(body)), "L-SOAK-HOSTS"
        with httpx.Client(base_url=self.base, timeout=120) as c:
            ok(c.post("/v1/products", json={"gtin": gtin, "name": "soak tea"}, headers=h))
            ok(c.post("/v1/batches", json={"gtin": gtin, "lot": lot}, headers=h))
            issued = ok(c.post(f"/v1/batches/{gtin}/{lot}/codes", json={"count": count}, headers=h))
            rows = c.get(issued["csv_url"], headers=h).text.splitlines()[1:]
        self.codes = [uri[uri.index("/01/") :] for uri in (line.split(",")[-1] for line in rows)]

    def scan(self, stop: threading.Event, per_s: float = 5) -> None:
        """Scans of the codes, to the hosts in turn, until `stop`."""
        rng, api = random.Random(0), Failover(self.bases, 0, self.retried, timeout=15)
        try:
            while not stop.wait(1 / per_s):
                try:
                    r = api.send("GET", rng.choice(self.codes), home=rng.randrange(2), headers={"Accept": "text/html"})
                    self.scans[f"{r.status_code // 100}xx"] += 1
                except RuntimeError:
                    self.scans["unanswered"] += 1
        finally:
            api.close()
