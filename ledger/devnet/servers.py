"""Database servers the project starts itself: PostgreSQL and Redis from Debian's packages, on
127.0.0.1, with their data under a folder of ours. These machines start no services, so the tests
(and `make run` when configured for PostgreSQL) start what they need and stop what they started.

PostgreSQL refuses to run as root: when we are root, its data folder belongs to the `postgres`
user the Debian package creates, and its commands run as that user. Authentication is `trust` on
127.0.0.1 only: these are throwaway development and test servers, never a production database.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from pathlib import Path

from ledger.errors import LedgerError

DEBIAN_PACKAGES = {"postgresql": "postgresql", "redis": "redis-server"}


class ServerUnavailable(LedgerError):
    """A local server could not be installed or started; the message says which and why."""


def _run(cmd: list[str], timeout: float = 120, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=False, **kwargs)


def install(name: str) -> None:
    """Install the Debian package for `name` if its programs are missing (needs root, as on CI)."""
    if name == "postgresql" and _pg_bin() is not None or name == "redis" and shutil.which("redis-server"):
        return
    if os.geteuid() != 0:
        raise ServerUnavailable(f"{name} is not installed; as root: apt-get install {DEBIAN_PACKAGES[name]}")
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    r = _run(["apt-get", "install", "-y", "-qq", DEBIAN_PACKAGES[name]], timeout=600, env=env)
    if r.returncode != 0:
        _run(["apt-get", "update", "-qq"], timeout=600, env=env)
        r = _run(["apt-get", "install", "-y", "-qq", DEBIAN_PACKAGES[name]], timeout=600, env=env)
    if r.returncode != 0:
        raise ServerUnavailable(f"apt-get install {DEBIAN_PACKAGES[name]} failed: {r.stderr.strip()[-300:]}")


def _pg_bin() -> Path | None:
    versions = sorted(Path("/usr/lib/postgresql").glob("*/bin/pg_ctl"), key=lambda p: int(p.parts[-3]))
    return versions[-1].parent if versions else None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_for_port(port: int, timeout: float, what: str, host: str = "127.0.0.1") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as s:
            if s.connect_ex((host, port)) == 0:
                return
        time.sleep(0.1)
    raise ServerUnavailable(f"{what} did not listen on {host}:{port} within {timeout:.0f} s")


class LocalPostgres:
    """A PostgreSQL server of our own in `root` (created on first start, kept across restarts).

    By default on 127.0.0.1; on another host (`ledger.devnet.hosts`: `prefix` runs it there), it
    listens on that host's `address` and trusts the clients of `network` (e.g. "10.213.7.0/24")."""

    def __init__(
        self, root: Path, port: int | None = None, address: str = "127.0.0.1", prefix: list[str] | None = None,
        network: str | None = None,
    ):  # fmt: skip
        self.root, self.data = root, root / "data"
        self.port = port or free_port()
        self.address, self.prefix, self.network = address, prefix or [], network
        self.as_user: list[str] = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []

    @property
    def url(self) -> str:
        return f"postgresql+psycopg://postgres@{self.address}:{self.port}/postgres"

    def _bin(self, name: str) -> str:
        bin_dir = _pg_bin()
        if bin_dir is None:
            raise ServerUnavailable("PostgreSQL is not installed (apt-get install postgresql)")
        return str(bin_dir / name)

    def start(self) -> str:
        install("postgresql")
        self.root.mkdir(parents=True, exist_ok=True)
        if self.as_user:
            shutil.chown(self.root, "postgres", "postgres")
        if not (self.data / "PG_VERSION").exists():
            r = _run([*self.as_user, self._bin("initdb"), "-D", str(self.data), "-U", "postgres", "-A", "trust"])
            if r.returncode != 0:
                raise ServerUnavailable(f"initdb in {self.data} failed: {r.stderr.strip()[-300:]}")
            if self.network:  # throwaway servers: trust, as on loopback
                with open(self.data / "pg_hba.conf", "a") as hba:
                    hba.write(f"host all all {self.network} trust\n")
        if _run([*self.as_user, self._bin("pg_ctl"), "-D", str(self.data), "status"]).returncode == 0:
            return self.url  # already running (a second `make run`)
        options = f"-c listen_addresses={self.address} -c port={self.port} -c unix_socket_directories={self.root}"
        options += " -c fsync=off -c max_connections=200"  # a test server: speed over durability
        r = _run(
            [*self.prefix, *self.as_user, self._bin("pg_ctl"), "-D", str(self.data),
             "-l", str(self.root / "server.log"), "-o", options, "-w", "-t", "60", "start"]
        )  # fmt: skip
        if r.returncode != 0:
            log = (self.root / "server.log").read_text()[-400:] if (self.root / "server.log").exists() else ""
            raise ServerUnavailable(f"PostgreSQL did not start in {self.data}: {r.stderr.strip()[-200:]} {log}")
        _wait_for_port(self.port, 30, "PostgreSQL", self.address)
        return self.url

    def stop(self, mode: str = "fast") -> None:
        """`pg_ctl stop -m mode`: "fast" rolls back and closes cleanly, "immediate" is a crash (the
        next start recovers from the WAL)."""
        if (self.data / "postmaster.pid").exists():
            _run([*self.as_user, self._bin("pg_ctl"), "-D", str(self.data), "-m", mode, "-w", "stop"])


class LocalRedis:
    """A Redis server of our own, its data in `root` (on another host: `address`, `prefix`)."""

    def __init__(
        self, root: Path, port: int | None = None, address: str = "127.0.0.1", prefix: list[str] | None = None
    ):
        self.root = root
        self.port = port or free_port()
        self.address, self.prefix = address, prefix or []
        self.proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://{self.address}:{self.port}/0"

    def start(self) -> str:
        install("redis")
        self.root.mkdir(parents=True, exist_ok=True)
        with open(self.root / "server.log", "ab") as log:
            self.proc = subprocess.Popen(
                [*self.prefix, "redis-server", "--bind", self.address, "--port", str(self.port),
                 "--dir", str(self.root), "--save", "", "--appendonly", "no",
                 "--protected-mode", "yes" if self.address == "127.0.0.1" else "no"],
                stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            )  # fmt: skip
        _wait_for_port(self.port, 30, "Redis", self.address)
        return self.url

    def ping(self) -> bool:
        with socket.create_connection((self.address, self.port), timeout=5) as s:
            s.sendall(b"PING\r\n")
            return s.recv(64).startswith(b"+PONG")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=30)
