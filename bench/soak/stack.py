"""The stack a soak run breaks: its processes, started and supervised for the run.

Under `root`: `data/` is the API's data directory and PostgreSQL's, on a tmpfs of `disk_mb` of its
own when we run as root (so that filling it is a fault of this run only, not of the machine);
`chain/` holds anvil's state and the deployment manifest, off that filesystem (the chain node is
another organisation's machine). The supervisor restarts the indexer, PostgreSQL and the API
launcher when they end, as an init system would; the launcher itself restarts its workers.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx

from ledger.chain.client import connect, dev_accounts
from ledger.chain.deploy import deploy
from ledger.devnet.node import anvil_command, wait_until_up
from ledger.devnet.servers import LocalPostgres, free_port
from ledger.paths import ROOT
from ledger.store.db import make_engine, migrate

#: seconds a write waits for its receipt before answering 503 (the chain stop outlasts it)
TX_TIMEOUT_S = 5
RETURN_WINDOW_S = 2


class Stack:
    def __init__(self, root: Path, logs: Path, disk_mb: int = 192):
        self.root, self.disk_mb = root, disk_mb
        self.data = root / "data"
        self.chain_dir = root / "chain"
        self.logs = logs  # kept after the run
        self.manifest = self.chain_dir / "deployment.json"
        self.rpc_port, self.api_port = free_port(), free_port()
        self.rpc_url = f"http://127.0.0.1:{self.rpc_port}"
        self.base = f"http://127.0.0.1:{self.api_port}"
        self.tmpfs = False
        self.procs: dict[str, subprocess.Popen] = {}
        self.restarts: dict[str, int] = {}
        self.paused: set[str] = set()  # parts the injector has stopped on purpose: not restarted
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self.pg: LocalPostgres | None = None

    # --- start and stop -------------------------------------------------------------------------------

    def start(self) -> None:
        for d in (self.root, self.data, self.chain_dir, self.logs):
            d.mkdir(parents=True, exist_ok=True)
        self.root.chmod(0o755)  # PostgreSQL runs as its own user and must reach data/
        if os.geteuid() == 0:
            subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={self.disk_mb}m,mode=0755", "tmpfs", str(self.data)],
                           check=True)  # fmt: skip
            self.tmpfs = True
        self.pg = LocalPostgres(self.data / "postgresql")
        self.db_url = self.pg.start()
        self._spawn("chain", anvil_command(self.rpc_port, self.chain_dir / "state.json", block_time=1))
        wait_until_up(self.rpc_url)
        self.w3 = connect(self.rpc_url)
        self.dep, _ = deploy(self.w3, self.manifest)
        self.accounts = dev_accounts(20)
        self.members = {label: self.accounts[m["account_index"]] for label, m in self.dep.manifest["members"].items()}
        self._prepare_chain()
        migrate(make_engine(self.db_url))
        self._spawn("api", [sys.executable, "-m", "api.serve", "--port", str(self.api_port), "--workers", "2",
                            "--log-level", "warning"])  # fmt: skip
        self._spawn("indexer", [sys.executable, "-m", "ledger", "index", "--follow", "--confirmations", "1",
                                "--poll", "0.5"])  # fmt: skip
        self.wait_healthy(120)
        threading.Thread(target=self._supervise, name="supervisor", daemon=True).start()

    def env(self) -> dict[str, str]:
        return {
            **os.environ,
            "LEDGER_RPC_URL": self.rpc_url,
            "LEDGER_MANIFEST": str(self.manifest),
            "LEDGER_DATA_DIR": str(self.data / "ledger"),
            "LEDGER_DATABASE_URL": self.db_url,
            "LEDGER_PUBLIC_RATE": "10000000",
            "LEDGER_SIWE_DOMAIN": f"127.0.0.1:{self.api_port}",
            "LEDGER_RESOLVER_URL": self.base,
            "LEDGER_TX_TIMEOUT": str(TX_TIMEOUT_S),
            "LEDGER_RPC_TIMEOUT": "3",
            "LEDGER_ANCHOR_MAX_AGE": "1",
            "LEDGER_ANCHOR_INTERVAL": "0.5",
            "LEDGER_ANCHOR_ONE_BY_ONE_MAX": "0",  # Merkle roots only: each checked against the chain
            "LEDGER_SESSION_TTL": "7200",
        }

    def _spawn(self, name: str, cmd: list[str]) -> None:
        log = open(self.logs / f"{name}.log", "ab")  # noqa: SIM115 - the process keeps it
        self.procs[name] = subprocess.Popen(
            cmd, cwd=ROOT, env=self.env() if name != "chain" else None, stdout=log, stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL, start_new_session=True,
        )  # fmt: skip
        log.close()

    def _prepare_chain(self) -> None:
        """Money to move and a short return window, so orders settle within the run."""
        who = {label: self.dep.sender(acc) for label, acc in self.members.items()}
        token = self.dep.contract("SettlementToken")
        for label in ("platform", "merchant_a"):
            who["issuer"].transact(token.functions.mint(self.members[label].address, 10**12))
        settlement = self.dep.contract("OrderSettlement")
        self.govern(settlement.functions.setReturnWindow(RETURN_WINDOW_S))

    def govern(self, fn) -> None:  # type: ignore[no-untyped-def]
        gov = self.dep.contract("Governance")
        g0, g1 = self.dep.sender(self.accounts[0]), self.dep.sender(self.accounts[1])
        g0.transact(gov.functions.propose(fn.address, fn._encode_transaction_data()))
        g1.transact(gov.functions.approve(gov.functions.proposalCount().call()))

    def wait_healthy(self, timeout: float) -> float:
        """Seconds until /healthz answers 200 (the chain, the contracts and the database answer)."""
        t0 = time.monotonic()
        while True:
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{self.base}/healthz", timeout=2).status_code == 200:
                    return time.monotonic() - t0
            if time.monotonic() - t0 > timeout:
                raise RuntimeError(f"the stack did not become healthy within {timeout:.0f} s (logs in {self.logs})")
            time.sleep(0.1)

    def stop(self) -> None:
        self._stop.set()
        for name in ("indexer", "api", "chain"):
            proc = self.procs.get(name)
            if proc is not None and proc.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGCONT)
                proc.terminate()
                try:
                    proc.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    proc.kill()
        if self.pg is not None:
            self.pg.stop()
        if self.tmpfs:
            subprocess.run(["umount", "-l", str(self.data)], check=False)
        shutil.rmtree(self.root, ignore_errors=True)

    # --- what the injector and the checks use ----------------------------------------------------------

    def workers(self) -> list[int]:
        api = self.procs["api"]
        out = subprocess.run(["pgrep", "-P", str(api.pid)], capture_output=True, text=True, check=False)
        return [int(p) for p in out.stdout.split()]

    def anchor_leader(self) -> int | None:
        """The worker that holds the anchorer's lock (it writes its pid into the lock file)."""
        with contextlib.suppress(OSError, ValueError):
            pid = int((self.data / "ledger" / "anchorer.lock").read_text().strip() or 0)
            return pid if pid and pid in self.workers() else None
        return None

    def pg_running(self) -> bool:
        assert self.pg is not None
        return (self.pg.data / "postmaster.pid").exists() and _port_open(self.pg.port)

    def _supervise(self) -> None:
        while not self._stop.wait(0.3):
            with self._lock:
                for name in ("indexer", "api"):
                    proc = self.procs[name]
                    if proc.poll() is not None and name not in self.paused:
                        self.restarts[name] = self.restarts.get(name, 0) + 1
                        self._spawn(name, proc.args)  # type: ignore[arg-type]
                if "postgres" not in self.paused and not self.pg_running():
                    with contextlib.suppress(Exception):
                        self.restarts["postgres"] = self.restarts.get("postgres", 0) + 1
                        assert self.pg is not None
                        self.pg.start()

    @contextlib.contextmanager
    def holding(self, name: str):  # type: ignore[no-untyped-def]
        """The supervisor leaves `name` alone meanwhile (the injector is restarting it itself)."""
        with self._lock:
            self.paused.add(name)
        try:
            yield
        finally:
            with self._lock:
                self.paused.discard(name)


def _port_open(port: int) -> bool:
    import socket

    with socket.socket() as s:
        s.settimeout(1)
        return s.connect_ex(("127.0.0.1", port)) == 0
