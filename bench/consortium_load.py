"""The load `bench.consortium` puts on a chain through the API, the same on anvil and on the
consortium: for a while, at once,

- whole order lifecycles: batches escrowed by the platform (`POST /v1/orders/batch`), delivered by
  the carrier (`POST /v1/orders/deliveries`), settled once the return window (set to 1 s by
  governance) has passed (`POST /v1/orders/settle`), counted when settled;
- EPCIS events captured by the producer (`POST /v1/epcis/capture`, documents of 100 events) and
  anchored by the API's background anchorer, counted when `/v1/epcis/status` has none pending;
- writes timed from sending to final: an EPCIS root anchored by a member through its own node,
  final with `depth` blocks on top (`finality.wait_final`).

Each figure is what was completed within the phase (events: until all those captured were anchored).
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
from web3 import Web3

from ledger.chain import governance
from ledger.chain.client import Sender, connect, dev_accounts
from ledger.chain.deploy import Deployment
from ledger.chain.finality import wait_final
from ledger.paths import ROOT
from ledger.trace.epcis.samples import document

from .server import carriers_event, login, ok

EVENTS_PER_DOC = 100
#: lifecycle clients at once and orders per batch (`BENCH_LIFECYCLE_CLIENTS`, `BENCH_LIFECYCLE_BATCH`): a
#: client's batch takes ~4 s through its three blocks and the return window whatever its size, so the
#: load is clients x batch; the API's largest batch (500) with four clients, 60 s steady runs on the four
#: hosts (2026-12-07): 200 a batch 190/s (final p99 3.30 s), 400 331/s (3.79), 500 378/s (3.69); six
#: clients of 500 403/s (3.90, but 6.61 with a validator down): past four, more load buys little here
LIFECYCLE_CLIENTS = int(os.environ.get("BENCH_LIFECYCLE_CLIENTS", "4"))
BATCH = int(os.environ.get("BENCH_LIFECYCLE_BATCH", "500"))
TIMED_WRITERS = ("merchant_a", "merchant_b", "inspector")


@contextlib.contextmanager
def served(
    prefix: list[str], host: str, rpc_url: str, manifest: Path, name: str, port: int, **extra: str
) -> Iterator[str]:
    """The API (`api.serve`, 2 processes, its own SQLite database and data folder) run with
    `prefix` (e.g. on the platform's host) and listening on `host`."""
    base = f"http://{host}:{port}"
    env = {
        **os.environ,
        "LEDGER_RPC_URL": rpc_url,
        "LEDGER_MANIFEST": str(manifest),
        "LEDGER_DATA_DIR": str(manifest.parent / f"{name}-data"),
        "LEDGER_DATABASE_URL": f"sqlite:///{manifest.parent / f'{name}.sqlite3'}",
        "LEDGER_PUBLIC_RATE": "10000000",
        "LEDGER_SIWE_DOMAIN": f"{host}:{port}",
        "LEDGER_RESOLVER_URL": base,
        "LEDGER_ANCHOR_MAX_EVENTS": "1000",
        "LEDGER_ANCHOR_MAX_AGE": "1",
        "LEDGER_ANCHOR_INTERVAL": "0.2",
        "LEDGER_TX_TIMEOUT": "30",
        **extra,
    }
    argv = [sys.executable, "-m", "api.serve", "--host", host, "--port", str(port), "--workers", "2"]
    server = subprocess.Popen([*prefix, *argv, "--log-level", "warning"], cwd=ROOT, env=env)
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                httpx.get(f"{base}/healthz", timeout=2)
                break
            except httpx.HTTPError:
                if time.monotonic() > deadline or server.poll() is not None:
                    raise RuntimeError(f"the API on {base} did not start") from None
                time.sleep(0.2)
        yield base
    finally:
        server.terminate()
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait(timeout=30)


def prepare(dep: Deployment) -> None:
    """Tokens for the platform to escrow with; a 1 s return window, decided by two governors."""
    accounts = dev_accounts(20)
    who = {label: dep.sender(accounts[m["account_index"]]) for label, m in dep.manifest["members"].items()}
    who["issuer"].transact(dep.contract("SettlementToken").functions.mint(who["platform"].address, 10**13))
    governors = [dep.sender(a) for a in accounts if a.address in dep.manifest["governance"]["governors"]][:2]
    pid = governance.propose(dep, governors[0], {"type": "set_return_window", "seconds": 1}, "bench")
    governance.approve(dep, governors[1], pid)


class Load:
    def __init__(self, base: str, dep: Deployment, node_urls: list[str], depth: int):
        self.base, self.dep, self.urls, self.depth = base, dep, node_urls, depth
        self.peers = node_urls  # the nodes a timed write is also handed to, besides its writer's own
        self.writers = TIMED_WRITERS  # the members writing timed, each through a node of `node_urls`
        accounts = dev_accounts(20)
        self.members = {label: accounts[m["account_index"]] for label, m in dep.manifest["members"].items()}
        self.headers = {w: login(base, self.members[w]) for w in ("platform", "logistics", "producer")}
        self.phase = 0
        self.acked: dict[str, set[str]] = {"escrowed": set(), "settled": set()}  # order keys the API answered

    def run(self, seconds: float, label: str) -> dict[str, float]:
        """Everything at once for `seconds`; the phase's figures, named `<label>.<figure>`."""
        self.phase += 1
        stop = threading.Event()
        settled, latencies, errors, captured = [0], [], [], [0]
        self.parts: list[tuple[float, float]] = []  # (sent, in a block) seconds, per timed write
        threads = [threading.Thread(target=self._guard, args=(errors, self._lifecycles, stop, settled, c))
                   for c in range(LIFECYCLE_CLIENTS)]  # fmt: skip
        threads += [threading.Thread(target=self._guard, args=(errors, self._timed, stop, latencies, w))
                    for w in self.writers]  # fmt: skip
        threads.append(threading.Thread(target=self._guard, args=(errors, self._capture, stop, captured)))
        started = time.perf_counter()
        for t in threads:
            t.start()
        minutes = self._per_minute(seconds, settled)
        stop.set()
        for t in threads:
            t.join(timeout=300)
        lifecycles_s = time.perf_counter() - started
        with httpx.Client(base_url=self.base, timeout=60) as c:
            deadline = time.monotonic() + 300
            while ok(c.get("/v1/epcis/status", headers=self.headers["producer"]))["pending"]:
                if time.monotonic() > deadline:
                    raise RuntimeError(f"{label}: captured events still not anchored after 300 s")
                time.sleep(0.1)
        anchored_s = time.perf_counter() - started
        if errors:
            raise RuntimeError(f"{label}: {errors[0]!r}") from errors[0]
        lat = sorted(latencies) or [float("nan")]
        return {
            f"{label}.lifecycles_per_s": round(settled[0] / lifecycles_s, 1),
            f"{label}.events_anchored_per_s": round(captured[0] / anchored_s, 1),
            f"{label}.final_p50_s": round(statistics.median(lat), 2),
            f"{label}.final_p99_s": round(lat[min(len(lat) - 1, int(len(lat) * 0.99))], 2),
            f"{label}.writes_timed": len(latencies),
            **({f"{label}.lifecycles_per_s_worst_minute": round(min(minutes), 1)} if minutes else {}),
            **self._parts(label),
        }

    @staticmethod
    def _per_minute(seconds: float, settled: list[int]) -> list[float]:
        """Wait `seconds`; the lifecycles settled per second in each whole minute of them (sustained:
        the worst minute of a long phase, not only its average)."""
        end, rates = time.monotonic() + seconds, []
        while (left := end - time.monotonic()) >= 60:
            before = settled[0]
            time.sleep(60)
            rates.append((settled[0] - before) / 60)
        time.sleep(max(0.0, left))
        return rates

    def _parts(self, label: str) -> dict[str, float]:
        """Where a timed write's time goes: signing and handing it to the node (`submit`), from
        there to its receipt on the writer's node (`included`); the rest is the confirmations."""
        if not self.parts:
            return {}
        sent, included = (sorted(x) for x in zip(*self.parts, strict=True))
        p99 = min(len(sent) - 1, int(len(sent) * 0.99))
        return {
            f"{label}.submit_p50_s": round(statistics.median(sent), 3),
            f"{label}.submit_p99_s": round(sent[p99], 3),
            f"{label}.included_p50_s": round(statistics.median(included), 2),
            f"{label}.included_p99_s": round(included[p99], 2),
        }

    @staticmethod
    def _guard(errors: list, fn, *args) -> None:  # type: ignore[no-untyped-def]
        try:
            fn(*args)
        except Exception as exc:  # noqa: BLE001 - raised by run() in the caller's thread
            errors.append(exc)

    def batch(self, client: int, n: int) -> tuple[str, list[dict]]:
        """Client `client`'s `n`th batch of orders and its tag (the orders' ids, its Idempotency-Key)."""
        m, tag = self.members, f"P{self.phase}C{client}B{n}-{time.time_ns()}"
        return tag, [{"order_id": f"{tag}-{i}", "merchant": m[("merchant_a", "merchant_b")[i % 2]].address,
                      "amount_fen": 1_000 + i, "referrers": [m["producer"].address],
                      "carrier": m["logistics"].address} for i in range(BATCH)]  # fmt: skip

    def _lifecycles(self, stop: threading.Event, settled: list[int], client: int) -> None:
        n = 0
        with httpx.Client(base_url=self.base, timeout=120) as c:
            while not stop.is_set():
                tag, orders = self.batch(client, n)
                n += 1
                h = {**self.headers["platform"], "Idempotency-Key": tag}
                keys = {
                    o["order_id"]: o["order_key"]
                    for o in ok(c.post("/v1/orders/batch", json={"orders": orders}, headers=h))["orders"]
                }
                self.acked["escrowed"].update(keys.values())
                ev = carriers_event(c, self.headers["logistics"], tag)
                deliveries = [{"order_id": o["order_id"], "epcis_event": ev} for o in orders]
                ok(c.post("/v1/orders/deliveries", json={"deliveries": deliveries}, headers=self.headers["logistics"]))
                ids, skipped = [o["order_id"] for o in orders], None
                for _ in range(60):
                    self._until_settleable(skipped)
                    done = ok(c.post("/v1/orders/settle", json={"order_ids": ids}, headers=self.headers["platform"]))
                    settled[0] += len(done["settled"])
                    self.acked["settled"].update(keys[x["order_id"]] for x in done["settled"])
                    skipped = done["skipped"]
                    ids = [s["order_id"] for s in skipped]
                    if not ids:
                        break

    def _until_settleable(self, skipped: list[dict] | None) -> None:
        """Wait for the return window (1 s from the delivery's block) at first; then, for orders
        skipped until their delivery is final, until the block the API named is on the chain (the
        head asked every 0.1 s, at most 10 s), else half a second."""
        final = [s["final_at_block"] for s in skipped or () if s.get("final_at_block")]
        if skipped is None or not final:
            time.sleep(1.0 if skipped is None else 0.5)
            return
        deadline = time.monotonic() + 10
        while self.dep.w3.eth.block_number < max(final) and time.monotonic() < deadline:
            time.sleep(0.1)

    def _capture(self, stop: threading.Event, captured: list[int]) -> None:
        h = self.headers["producer"] | {"Content-Type": "application/ld+json"}
        seed = self.phase * 10**6
        with httpx.Client(base_url=self.base, timeout=120) as c:
            while not stop.is_set():
                seed += 1
                body = json.dumps(document(random.Random(seed), EVENTS_PER_DOC))
                captured[0] += ok(c.post("/v1/epcis/capture", content=body, headers=h))["stored"]
                time.sleep(0.2)

    def _timed(self, stop: threading.Event, latencies: list[float], writer: str) -> None:
        own = self.urls[TIMED_WRITERS.index(writer) % len(self.urls)]
        w3 = connect(",".join([own, *(u for u in self.peers if u != own)]))  # read from its own, sent to all
        sender = Sender(w3, self.members[writer], self.dep.decoder())
        prov = self.dep.contract("Provenance")
        rng = random.Random(writer)
        while not stop.is_set():
            started = time.perf_counter()
            tx = sender.submit(prov.functions.anchor(Web3.keccak(text=f"{writer}-{time.time_ns()}"), 1, "bench"))
            sent = time.perf_counter()
            while time.perf_counter() - started < 120 and not w3.provider.make_request(
                "eth_getTransactionReceipt", ["0x" + tx.hex()]
            ).get("result"):
                time.sleep(0.02)
            included = time.perf_counter()
            wait_final(w3, tx, self.depth, timeout=120)
            latencies.append(time.perf_counter() - started)
            self.parts.append((sent - started, included - sent))
            time.sleep(rng.random())  # writes come when they come, not in step with blocks
