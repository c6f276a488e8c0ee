"""`python -m bench.soak_hosts [--seconds N]`: the platform's API hosts and its database broken while
orders, captures and scans flow, on the consortium's namespaced topology (issue 32); prints the
figures, writes `build/soak-hosts.json`, exits 1 if anything acknowledged was lost or done twice.

The topology, each a host of its own (`ledger.devnet.hosts`: a network namespace): the four
validators (platform, brand, carrier, regulator; geth Clique, 1 s blocks) as in `bench.consortium`;
`platform-db` running PostgreSQL and Redis on its address; `api-1` and `api-2`, each an `api.serve`
and a `ledger worker` with a data directory of its own (`bench.hosts.Host`) on that database, the
platform's node first and the others' after it, the operator's custodial keys from the sealed file.

The load (`bench.soak_hosts_load`): `bench.consortium_load`'s, its clients spread over both API
hosts, each request a host does not answer sent again to the other with the same Idempotency-Key;
and scans of issued codes. The faults, one after another, spaced over the run:

- `kill_api_host`: every process of api-1 SIGKILLed (its worker leads the anchorer: the time until
  api-2's takes over is `anchorer_moved_s`), restarted after a few seconds;
- `restart_postgres`: `pg_ctl stop -m immediate` (a crash; the start recovers from the WAL), start;
- `kill_validator`: the brand's node SIGKILLed, restarted;
- `partition_carrier`: the carrier's host cut off from the other validators, healed.

Each fault's `recovery_s` runs from the part's restart (or the heal) until a write succeeds again
through the affected path: an EPCIS capture through the API host (through each for PostgreSQL), a
transaction sent to the node and in a block on it; `outage_s` from the fault itself.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import secrets
import shutil
import signal
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import func, select
from web3 import Web3

from ledger.access.sealed import unseal
from ledger.chain.client import Sender, connect
from ledger.chain.deploy import deploy
from ledger.chain.finality import chain_tail, confirmations, dropped
from ledger.devnet.hosts import Hosts, unavailable
from ledger.devnet.hosts_network import HostsNetwork
from ledger.devnet.servers import LocalPostgres, LocalRedis
from ledger.paths import ROOT
from ledger.store.db import make_engine, migrate
from ledger.store.models import Order
from ledger.trace.epcis.samples import document

from .consortium import ORGS
from .consortium_check import _EVENTS, _keys_logged, lost_and_duplicated
from .consortium_load import prepare
from .hosts import Host
from .soak_hosts_load import HostsLoad

OUT = ROOT / "build" / "soak-hosts.json"
API_HOSTS = ("api-1", "api-2")
TX_TIMEOUT_S = 10  # a killed host's claimed Idempotency-Keys are taken over after 2 * 10 + 10 s
FAULTS = ("kill_api_host", "restart_postgres", "kill_validator", "partition_carrier")
DOWN_S = {"kill_api_host": 5, "restart_postgres": 3, "kill_validator": 8, "partition_carrier": 10}
RECOVERY_TIMEOUT_S = 180


def _until(what: str, ready, timeout: float = RECOVERY_TIMEOUT_S) -> float:  # type: ignore[no-untyped-def]
    """The monotonic time at which `ready()` first returned true (exceptions count as not yet)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if ready():
                return time.monotonic()
        except Exception:  # noqa: BLE001, S110 - the part is still coming back
            pass
        time.sleep(0.1)
    raise RuntimeError(f"{what}: not within {timeout:.0f} s")


class Soak:
    def __init__(self, root: Path, hosts: Hosts):
        self.root, self.hosts = root, hosts
        self.net = HostsNetwork(root / "network", hosts, period_s=1)
        self.pg: LocalPostgres | None = None
        self.redis: LocalRedis | None = None
        self.api: list[Host] = []
        self.faults: list[dict[str, Any]] = []
        self.problems: list[str] = []

    # -- the topology ------------------------------------------------------------------------------

    def start(self) -> None:
        self.net.init(ORGS)
        self.net.start(wait_s=120)
        manifest = self.root / "deployment.json"
        self.dep, _ = deploy(connect(self.net.nodes["platform"].url), manifest)
        prepare(self.dep)
        db, on_db = self.hosts.add("platform-db"), self.hosts.prefix("platform-db")
        self.pg = LocalPostgres(self.root / "postgresql", 5432, db, on_db, f"{self.hosts.subnet}.0/24")
        self.redis = LocalRedis(self.root / "redis", 6379, db, on_db)
        db_url, redis_url = self.pg.start(), self.redis.start()
        migrate(make_engine(db_url))  # once, before the hosts start
        sealed = (self.root / "network" / "platform" / "custodial.sealed").read_bytes()
        env = {
            **os.environ,
            "LEDGER_RPC_URL": ",".join(self.net.nodes[o].url for o in ORGS),  # the platform's node first
            "LEDGER_DATABASE_URL": db_url,
            "LEDGER_REDIS_URL": redis_url,
            "LEDGER_SIGNER_MNEMONIC": unseal(sealed).decode(),  # the operator's keys, handed to each host
            "LEDGER_ORDER_KEY_SECRET": secrets.token_hex(32),  # the same on every host of the platform
            "LEDGER_SIWE_DOMAIN": "api.soak-hosts.test",
            "LEDGER_BACKGROUND_IN_WEB": "0",  # the loops run in each host's `ledger worker`
            "LEDGER_PUBLIC_RATE": "10000000",
            "LEDGER_ANCHOR_MAX_EVENTS": "1000",
            "LEDGER_ANCHOR_MAX_AGE": "1",
            "LEDGER_ANCHOR_INTERVAL": "0.2",
            "LEDGER_TX_TIMEOUT": str(TX_TIMEOUT_S),
            "LEDGER_SESSION_TTL": "7200",
        }
        for name in API_HOSTS:
            self.api.append(Host(name, self.root, env, manifest, self.hosts.add(name), self.hosts.prefix(name), 8000))
        for h in self.api:
            h.start_api()
        self.api[0].start_worker()  # api-1's worker leads the anchorer: its death moves the leadership
        for h in self.api:
            h.wait_up()
        first = self.api[0]
        _until("api-1's worker to lead the anchorer", lambda: first.leader_pid("anchorer") == first.procs["worker"].pid)
        self.api[1].start_worker()
        _until("api-2's worker to start", self.api[1].worker_running)

    def stop(self) -> None:
        for h in self.api:
            h.stop()
        if self.pg is not None:
            self.pg.stop()
        if self.redis is not None:
            self.redis.stop()
        self.net.stop()

    # -- the run -----------------------------------------------------------------------------------

    def run(self, seconds: float) -> dict[str, Any]:
        nodes = self.net.nodes
        depth = confirmations(len(ORGS))
        # timed writes through the nodes no fault touches, handed to every node
        self.load = HostsLoad([h.url for h in self.api], self.dep, [nodes["platform"].url, nodes["regulator"].url],
                              depth)  # fmt: skip
        self.load.peers = [nodes[o].url for o in ORGS]
        self.load.writers = ("inspector",)  # merchant_b signs the faults' probes, merchant_a issues codes
        self.load.issue_codes()
        self.producer = self.load.headers["producer"]
        stop = threading.Event()
        scans = threading.Thread(target=self.load.scan, args=(stop,), daemon=True)
        injector = threading.Thread(target=self._inject, args=(seconds,), daemon=True)
        scans.start()
        injector.start()
        t0 = self.load.t0 = time.monotonic()
        try:
            figures = self.load.run(seconds, "soak_hosts")
        finally:
            stop.set()
            scans.join(timeout=60)
            injector.join(timeout=600)  # a fault still recovering is awaited before the checks
        figures["soak_hosts.seconds"] = round(time.monotonic() - t0, 1)
        self.net.wait_agreed(list(ORGS), 120)
        checked = lost_and_duplicated(connect(nodes["platform"].url), self.dep, self.load.acked)
        figures |= {f"soak_hosts.orders_{k}": v for k, v in checked.items()}
        figures |= self._unanswered_settlements()
        figures["soak_hosts.scans"] = dict(self.load.scans)
        figures["soak_hosts.scans_per_s"] = round(sum(self.load.scans.values()) / figures["soak_hosts.seconds"], 1)
        figures["soak_hosts.requests_sent_again"] = dict(self.load.retried)
        figures["faults"] = self.faults
        self.problems += self.load.problems
        return figures

    def _unanswered_settlements(self) -> dict[str, Any]:
        """Orders acknowledged escrowed but never answered settled: how many the chain settled
        (once: an attempt whose answer was lost) and what the platform's table says of those."""
        acked = self.load.acked
        keys = {k.lower() for k in acked["escrowed"]} - {k.lower() for k in acked["settled"]}
        w3 = connect(self.net.nodes["platform"].url)
        settlement = self.dep.contract("OrderSettlement").address
        start = int(self.dep.manifest["deployed_at_block"])
        seen = _keys_logged(w3, settlement, _EVENTS["settled"], start, w3.eth.block_number)
        on_chain = [k for k in keys if seen[k]]
        assert self.pg is not None
        engine = make_engine(self.pg.url)
        with engine.connect() as c:
            rows = c.execute(select(Order.status).where(func.lower(Order.order_key).in_(on_chain))).scalars()
            statuses = dict(Counter(rows))
        engine.dispose()
        if set(statuses) - {"settled"}:  # settled on chain: the table must say so (settled_before)
            self.problems.append(f"orders settled on chain whose request died are {statuses} in the table")
        return {
            "soak_hosts.orders_unanswered_settled": len(keys),
            "soak_hosts.orders_unanswered_settled_on_chain": len(on_chain),
            "soak_hosts.orders_unanswered_settled_on_chain_table_status": statuses,
        }

    def _inject(self, seconds: float) -> None:
        t0 = time.monotonic()
        for i, kind in enumerate(FAULTS):
            time.sleep(max(0.0, seconds * (0.08 + 0.2 * i) - (time.monotonic() - t0)))
            fault: dict[str, Any] = {"kind": kind, "at_s": round(time.monotonic() - t0, 1)}
            started = time.monotonic()
            try:
                restored = getattr(self, f"_{kind}")(fault)
                ok_at = self._write_ok(kind)
                fault["recovery_s"] = round(ok_at - restored, 2)
                fault["outage_s"] = round(ok_at - started, 2)
            except Exception as exc:  # noqa: BLE001 - reported, the run goes on
                fault["error"] = repr(exc)[:300]
                self.problems.append(f"{kind}: {exc!r}"[:300])
            self.faults.append(fault)
            print(f"  {fault}", flush=True)

    # -- the faults: each returns the monotonic time the part was restarted or healed ----------------

    def _kill_api_host(self, fault: dict[str, Any]) -> float:
        h, other = self.api
        led = h.leader_pid("anchorer") == h.procs["worker"].pid
        killed = time.monotonic()
        h.kill()
        leads = lambda: other.leader_pid("anchorer") == other.procs["worker"].pid  # noqa: E731
        moved = _until("api-2's worker to lead the anchorer", leads)
        fault["anchorer_moved_s"] = round(moved - killed, 2) if led else None
        fault["detail"] = "api-1's api.serve and ledger worker SIGKILLed" + ("" if led else " (it did not lead)")
        time.sleep(max(0.0, DOWN_S["kill_api_host"] - (time.monotonic() - killed)))
        restarted = time.monotonic()
        h.start_api()
        h.start_worker()
        return restarted

    def _restart_postgres(self, fault: dict[str, Any]) -> float:
        assert self.pg is not None
        self.pg.stop("immediate")
        time.sleep(DOWN_S["restart_postgres"])
        fault["detail"] = f"pg_ctl stop -m immediate, {DOWN_S['restart_postgres']} s down, start"
        restarted = time.monotonic()
        self.pg.start()
        return restarted

    def _kill_validator(self, fault: dict[str, Any]) -> float:
        self.net.stop("brand", signal.SIGKILL)
        time.sleep(DOWN_S["kill_validator"])
        fault["detail"] = f"the brand's geth SIGKILLed, {DOWN_S['kill_validator']} s down, restarted"
        restarted = time.monotonic()
        self.net.start(["brand"], wait_s=120)
        fault["sealing_again_s"] = round(time.monotonic() - restarted, 2)  # peered, unlocked, sealing
        self.net.wait_agreed(list(ORGS), 120)
        fault["agreed_s"] = round(time.monotonic() - restarted, 2)
        return restarted

    def _partition_carrier(self, fault: dict[str, Any]) -> float:
        others = [o for o in ORGS if o != "carrier"]
        self.hosts.partition(["carrier"], others)
        try:
            time.sleep(DOWN_S["partition_carrier"])
            tail = chain_tail(connect(self.net.nodes["carrier"].url))
        finally:
            self.hosts.heal()
        healed = time.monotonic()
        self.net.redial("carrier", others)  # now, not on geth's timer
        self.net.settle(list(ORGS), 120, above=tail[0])  # a node left behind by a stale link is redialled
        fault["reorg_depth"] = dropped(tail, connect(self.net.nodes["platform"].url))
        fault["detail"] = f"the carrier's host cut off from the validators for {DOWN_S['partition_carrier']} s"
        return healed

    # -- "a write succeeds again through the affected path" -------------------------------------------

    def _write_ok(self, kind: str) -> float:
        if kind == "kill_api_host":
            return self._captured_through(self.api[0])
        if kind == "restart_postgres":
            return max(self._captured_through(h) for h in self.api)
        return self._sealed_through("brand" if kind == "kill_validator" else "carrier")

    def _captured_through(self, h: Host) -> float:
        def captured() -> bool:
            body = document(random.Random(time.time_ns()), 1)
            r = httpx.post(f"{h.url}/v1/epcis/capture", json=body, headers=self.producer, timeout=30)
            return r.status_code == 201

        return _until(f"a capture through {h.name}", captured)

    def _sealed_through(self, org: str) -> float:
        w3 = connect(self.net.nodes[org].url)
        sender = Sender(w3, self.load.members["merchant_b"], self.dep.decoder())
        anchor, sent = self.dep.contract("Provenance").functions.anchor, []

        def sealed() -> bool:
            if not sent:  # sent once, when the node takes it
                sent.append("0x" + sender.submit(anchor(Web3.keccak(text=secrets.token_hex()), 1, "probe")).hex())
            return bool(w3.provider.make_request("eth_getTransactionReceipt", [sent[0]]).get("result"))

        return _until(f"a transaction sent to {org}'s node in a block on it", sealed)


def _failed(figures: dict[str, Any]) -> list[str]:
    return [f"{k}: {v}" for k, v in figures.items() if k.endswith(("_lost", "_duplicated")) and v]


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.soak_hosts", description=__doc__.split("\n\n")[0])
    p.add_argument("--seconds", type=float, default=180)
    p.add_argument("--out", type=Path, default=OUT)
    args = p.parse_args(argv)
    why_not = unavailable()
    if why_not is not None:
        print(f"soak-hosts: skipped: {why_not}")
        return 0
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # the finally below still cleans up
    root = Path(tempfile.mkdtemp(prefix="soak-hosts-"))
    root.chmod(0o755)  # PostgreSQL runs as its own user
    hosts = Hosts()
    soak = Soak(root, hosts)
    print(f"soak-hosts: {args.seconds:.0f} s of load on hosts of {hosts.subnet}.0/24, faults: {', '.join(FAULTS)}",
          flush=True)  # fmt: skip
    try:
        soak.start()
        figures = soak.run(args.seconds)
    finally:
        soak.stop()
        hosts.close()
        shutil.rmtree(root, ignore_errors=True)
    broken = _failed(figures)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"figures": figures, "lost_or_duplicated": broken, "problems": soak.problems},
                                   indent=1, default=str))  # fmt: skip
    for name, value in figures.items():
        if name != "faults":
            print(f"  {name}: {value}")
    for line in soak.problems:
        print(f"PROBLEM: {line}")
    print(f"soak-hosts: {'ok' if not broken else 'LOST OR DUPLICATED: ' + '; '.join(broken)} (written to {args.out})")
    return 1 if broken else 0


if __name__ == "__main__":
    sys.exit(main())
