"""The mixed load: a few clients, each doing what members and shoppers do, one request after
another, each outcome written down.

An outcome is `ack` (answered 2xx), `refused` (a 4xx that is the answer), or `unknown` (5xx, a
timeout, a dropped connection, and no answer by the end). Writes a client can safely repeat
(captures: events are stored once by their hash ID; orders and deliveries: an Idempotency-Key, or
the order's own state) are retried with backoff as a careful client would; writes it cannot
(a code issue, a deposit) are not, and their unknown outcomes are checked afterwards: each either
happened once, whole, or not at all.
"""

from __future__ import annotations

import contextlib
import random
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx

from bench.server import login
from ledger.trace.epcis.samples import delivery_document
from ledger.trace.gs1 import check_digit

from .stack import Stack

CONTEXT = "https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld"
WEIGHTS = {"capture": 3, "scan": 4, "order": 2, "codes": 1, "deposit": 1}
RETRY_S = 90  # how long a client keeps retrying a write it may repeat


@dataclass
class Outcome:
    kind: str
    outcome: str  # ack | refused | unknown
    detail: dict[str, Any] = field(default_factory=dict)
    attempts: int = 1


@dataclass
class Journal:
    outcomes: list[Outcome] = field(default_factory=list)
    requests: dict[str, int] = field(default_factory=dict)  # answered status class => count
    codes: list[tuple[str, str]] = field(default_factory=list)  # (serial, path) of acknowledged issues
    scans_tried: dict[str, int] = field(default_factory=dict)
    scans_acked: dict[str, int] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, o: Outcome) -> None:
        with self.lock:
            self.outcomes.append(o)

    def count(self, status: int | None) -> None:
        name = "no answer" if status is None else f"{status // 100}xx"
        with self.lock:
            self.requests[name] = self.requests.get(name, 0) + 1


class Load:
    def __init__(self, stack: Stack, seed: int, clients: int = 4):
        self.stack, self.seed, self.clients = stack, seed, clients
        self.journal = Journal()
        self.gtin, self.lot = "", "L-SOAK"

    def prepare(self) -> None:
        m = self.stack.members
        self.headers = {who: login(self.stack.base, m[who]) for who in ("merchant_a", "platform", "logistics")}
        with httpx.Client(base_url=self.stack.base, timeout=30) as c:
            body = f"069{self.seed % 10**9:09d}0"[:13]
            self.gtin = body + str(check_digit(body))
            h = self.headers["merchant_a"]
            for path, body_ in (("/v1/products", {"gtin": self.gtin, "name": "soak tea"}),
                                ("/v1/batches", {"gtin": self.gtin, "lot": self.lot})):  # fmt: skip
                r = c.post(path, json=body_, headers=h)
                if r.status_code != 201:
                    raise RuntimeError(f"{path}: {r.status_code} {r.text[:300]}")

    def run(self, stop: threading.Event) -> None:
        threads = [threading.Thread(target=self._client, args=(i, stop), daemon=True) for i in range(self.clients)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()

    def _client(self, n: int, stop: threading.Event) -> None:
        rng = random.Random(self.seed * 1000 + n)
        kinds, weights = zip(*WEIGHTS.items(), strict=True)
        with httpx.Client(base_url=self.stack.base, timeout=15) as c:
            i = 0
            while not stop.is_set():
                kind = rng.choices(kinds, weights)[0]
                i += 1
                try:
                    getattr(self, f"_{kind}")(c, rng, f"{n}-{i}")
                except httpx.HTTPError:  # a follow-up read (CSV, order state) lost its connection
                    self.journal.count(None)

    # --- requests ---------------------------------------------------------------------------------------

    def _send(self, c: httpx.Client, method: str, path: str, **kw: Any) -> tuple[int | None, Any]:
        try:
            r = c.request(method, path, **kw)
        except httpx.HTTPError:
            self.journal.count(None)
            return None, None
        self.journal.count(r.status_code)
        with contextlib.suppress(ValueError):
            return r.status_code, r.json()
        return r.status_code, r.text

    def _until_answered(self, c: httpx.Client, method: str, path: str, **kw: Any) -> tuple[str, int, Any]:
        """Repeat a request that may be repeated until it is answered 2xx or 4xx (not "in progress")."""
        deadline, delay, attempts = time.monotonic() + RETRY_S, 0.2, 0
        while True:
            attempts += 1
            status, body = self._send(c, method, path, **kw)
            in_progress = status == 409 and isinstance(body, dict) and body.get("error") == "idempotency_in_progress"
            if status is not None and status < 500 and not in_progress:
                return ("ack" if status < 300 else "refused"), attempts, body
            if time.monotonic() > deadline:
                return "unknown", attempts, body
            time.sleep(delay)
            delay = min(delay * 2, 2.0)

    def _capture(self, c: httpx.Client, rng: random.Random, tag: str) -> None:
        now = datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
        events = [
            {
                "type": "ObjectEvent",
                "eventTime": now,
                "eventTimeZoneOffset": "+08:00",
                "epcList": [f"https://id.gs1.org/01/{self.gtin}/21/S{tag}-{k}"],
                "action": "OBSERVE",
                "bizStep": rng.choice(["shipping", "receiving", "inspecting"]),
            }
            for k in range(2)
        ]
        doc = {"@context": CONTEXT, "type": "EPCISDocument", "schemaVersion": "2.0", "creationDate": now,
               "epcisBody": {"eventList": events}}  # fmt: skip
        outcome, attempts, body = self._until_answered(
            c, "POST", "/v1/epcis/capture", json=doc, headers=self.headers["merchant_a"]
        )
        ids = [e["hashId"] for e in body["events"]] if outcome == "ack" else []
        self.journal.add(Outcome("capture", outcome, {"events": ids, "count": len(events)}, attempts))

    def _codes(self, c: httpx.Client, rng: random.Random, tag: str) -> None:
        status, body = self._send(
            c,
            "POST",
            f"/v1/batches/{self.gtin}/{self.lot}/codes",
            json={"count": 4},
            headers=self.headers["merchant_a"],
        )
        outcome = _outcome(status)
        detail = {"issue": body["issue_id"], "root": body["root"]} if outcome == "ack" else {}
        if outcome == "ack":
            rows = c.get(body["csv_url"], headers=self.headers["merchant_a"])
            if rows.status_code == 200:
                with self.journal.lock:
                    for line in rows.text.splitlines()[1:]:
                        cols = line.split(",")
                        self.journal.codes.append((cols[0], cols[-1]))
        self.journal.add(Outcome("codes", outcome, detail))

    def _scan(self, c: httpx.Client, rng: random.Random, tag: str) -> None:
        with self.journal.lock:
            if not self.journal.codes:
                return
            serial, uri = rng.choice(self.journal.codes)
            self.journal.scans_tried[serial] = self.journal.scans_tried.get(serial, 0) + 1
        path = uri[uri.index("/01/") :]
        status, _ = self._send(c, "GET", path, headers={"Accept": "text/html"})
        if status == 200:
            with self.journal.lock:
                self.journal.scans_acked[serial] = self.journal.scans_acked.get(serial, 0) + 1
        self.journal.add(Outcome("scan", _outcome(status), {"serial": serial}))

    def _order(self, c: httpx.Client, rng: random.Random, tag: str) -> None:
        m = self.stack.members
        ids = [f"SOAK-{self.seed}-{tag}-{k}" for k in range(2)]
        orders = [
            {"order_id": oid, "merchant": m["merchant_a"].address, "amount_fen": rng.randint(100, 99_999),
             "referrers": [m["producer"].address][: rng.randint(0, 1)], "carrier": m["logistics"].address}
            for oid in ids
        ]  # fmt: skip
        headers = {**self.headers["platform"], "Idempotency-Key": f"soak-{tag}"}
        outcome, attempts, _ = self._until_answered(
            c, "POST", "/v1/orders/batch", json={"orders": orders}, headers=headers
        )
        self.journal.add(
            Outcome("order", outcome, {"orders": {o["order_id"]: o["amount_fen"] for o in orders}}, attempts)
        )
        if outcome != "ack":
            return
        # the carrier's delivery event, captured here first: a delivery names an event stored here
        doc = delivery_document([("desadv", f"DESADV-{self.seed}-{tag}")], f"S{self.seed}-{tag}"[-20:])
        outcome, attempts, body = self._until_answered(
            c, "POST", "/v1/epcis/capture", json=doc, headers=self.headers["logistics"]
        )
        if outcome != "ack":
            self.journal.add(Outcome("delivery", outcome, {"orders": ids, "answer": str(body)[:200]}, attempts))
            return
        deliveries = [{"order_id": oid, "epcis_event": body["events"][0]["hashId"]} for oid in ids]
        outcome, attempts, body = self._until_answered(
            c, "POST", "/v1/orders/deliveries", json={"deliveries": deliveries}, headers=self.headers["logistics"]
        )
        if outcome == "refused" and attempts > 1:  # a retry after an unanswered attempt may find it done
            states = {self._send(c, "GET", f"/v1/orders/{oid}", headers=self.headers["platform"])[1].get("status")
                      for oid in ids}  # fmt: skip
            if states == {"delivered"}:
                outcome = "ack"
        self.journal.add(Outcome("delivery", outcome, {"orders": ids, "answer": str(body)[:200]}, attempts))

    def _deposit(self, c: httpx.Client, rng: random.Random, tag: str) -> None:
        n, i = (int(x) for x in tag.split("-"))
        amount = 1_000_000 + n * 100_000 + i  # unique, so each on-chain deposit names its request
        status, body = self._send(
            c, "POST", "/v1/deposits", json={"amount_fen": amount}, headers=self.headers["merchant_a"]
        )
        self.journal.add(Outcome("deposit", _outcome(status), {"amount": amount, "answer": str(body)[:200]}))


def _outcome(status: int | None) -> str:
    if status is None or status >= 500:
        return "unknown"
    return "ack" if status < 300 else "refused"
