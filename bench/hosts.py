"""API hosts as process groups for tests and benchmarks: each an `api.serve` and a `ledger
worker` with a data directory of its own (the manifest copied in, nothing on disk shared), on the
database, Redis and chain node its environment names; on this machine's loopback, or on a host of
its own (`ledger.devnet.hosts`: its `prefix`, listening on its `address`)."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

from ledger.devnet.servers import free_port
from ledger.paths import ROOT


class Host:
    """One API host: `api.serve` (one web worker) and `ledger worker`, with a data directory of its own."""

    def __init__(
        self, name: str, root: Path, env: dict[str, str], manifest: Path, address: str = "127.0.0.1",
        prefix: list[str] | None = None, port: int | None = None,
    ):  # fmt: skip
        self.name, self.data = name, root / name
        self.data.mkdir(parents=True)
        shutil.copy(manifest, self.data / "deployment.json")  # handed over, not shared
        self.address, self.prefix = address, prefix or []
        self.port = port or free_port()
        self.url = f"http://{address}:{self.port}"
        self.env = {**env, "LEDGER_DATA_DIR": str(self.data), "LEDGER_MANIFEST": str(self.data / "deployment.json")}
        self.env["LEDGER_RESOLVER_URL"] = self.url
        self.procs: dict[str, subprocess.Popen] = {}

    def _spawn(self, what: str, command: list[str]) -> None:
        log = open(self.data / f"{what}.log", "ab")  # noqa: SIM115 - the process's, closed with it
        self.procs[what] = subprocess.Popen(
            [*self.prefix, *command], cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip

    def start_api(self, workers: int = 1) -> None:
        self._spawn("api", [sys.executable, "-m", "api.serve", "--host", self.address, "--port", str(self.port),
                            "--workers", str(workers), "--log-level", "warning"])  # fmt: skip

    def start_worker(self) -> None:
        self._spawn("worker", [sys.executable, "-m", "ledger", "worker"])

    def wait_up(self) -> None:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            assert self.procs["api"].poll() is None, (self.data / "api.log").read_text()
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(self.url + "/livez", timeout=5).status_code == 200:
                    return
            time.sleep(0.2)
        raise AssertionError(f"host {self.name} did not answer in 120 s")

    def worker_running(self) -> bool:
        """Whether this host's `ledger worker` has started its loops (it says so in its log)."""
        pid = self.procs["worker"].pid
        with contextlib.suppress(OSError):
            return f"ledger worker {pid}: running" in (self.data / "worker.log").read_text()
        return False

    def leader_pid(self, loop: str) -> int | None:
        """The pid this host's leader of `loop` wrote into the host's data directory."""
        with contextlib.suppress(OSError, ValueError):
            return int((self.data / f"{loop}.lock").read_text().strip() or 0) or None
        return None

    def kill(self) -> None:
        """SIGKILL every process of the host at once, as a host that loses power."""
        for proc in self.procs.values():
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=30)

    def stop(self) -> None:
        for proc in self.procs.values():
            if proc.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGTERM)
        for proc in self.procs.values():
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=30)
