"""geth node processes on this machine, each in its own folder `<root>/<name>/` with its pid file
and log: started in a session of their own, stopped by their pid (SIGTERM lets geth write its
state; SIGKILL is a crash), and asked for their heads. The consortium's validators
(`network.Network`) and an auditor's read-only node (`auditor_node.AuditorNode`) are both run so.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ledger.chain import stall
from ledger.chain.client import connect
from ledger.errors import LedgerError, NodeUnavailable

from .geth import ensure_geth


@dataclass
class NodeSpec:
    org: str
    p2p_port: int
    http_port: int
    auth_port: int
    validator: str  # the address that seals blocks ("" for a node that never seals)
    enode_key: str  # the devp2p public key (hex, 64 bytes)
    host: str = "127.0.0.1"  # the address it listens on (its own host's, when run on one: ledger.devnet.hosts)

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.http_port}"

    @property
    def enode(self) -> str:
        return f"enode://{self.enode_key}@{self.host}:{self.p2p_port}?discport=0"


def geth_init(datadir: Path, genesis: Path) -> None:
    r = subprocess.run(
        [str(ensure_geth()), "--datadir", str(datadir), "init", str(genesis)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    if r.returncode != 0:
        raise LedgerError(f"geth init in {datadir} failed: {r.stderr.strip()[-300:]}")


def static_peers(path: Path, enodes: list[str]) -> Path:
    """A geth configuration naming the static peers (the only way geth 1.13 takes them)."""
    path.write_text("[Node.P2P]\nStaticNodes = [" + ", ".join(f'"{p}"' for p in enodes) + "]\n")
    return path


class GethProcesses:
    """Nodes named in `self.nodes`, run from `self.command(name)`."""

    root: Path
    nodes: dict[str, NodeSpec]

    def __init__(self) -> None:
        self.procs: dict[str, subprocess.Popen] = {}

    def command(self, name: str) -> list[str]:
        raise NotImplementedError

    def _spawn(self, name: str) -> None:
        if self.alive(name):
            return
        with open(self.root / name / "node.log", "ab") as log:
            proc = subprocess.Popen(
                self.command(name), stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                start_new_session=True,
            )  # fmt: skip
        self.procs[name] = proc
        (self.root / name / "node.pid").write_text(str(proc.pid))

    def _pid(self, name: str) -> int | None:
        f = self.root / name / "node.pid"
        return int(f.read_text()) if f.exists() else None

    def alive(self, name: str) -> bool:
        pid = self._pid(name)
        if pid is None:
            return False
        proc = self.procs.get(name)
        if proc is not None:
            return proc.poll() is None
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        try:  # a child of this process started through another handle: reaped here once exited
            return os.waitpid(pid, os.WNOHANG)[0] == 0
        except ChildProcessError:  # not our child: alive
            return True

    def stop(self, name: str | None = None, sig: int = signal.SIGTERM, wait_s: float = 30) -> None:
        """Stop one node (or all): SIGTERM lets geth write its state; SIGKILL is a crash."""
        for n in [name] if name else list(self.nodes):
            pid = self._pid(n)
            if pid is None or not self.alive(n):
                (self.root / n / "node.pid").unlink(missing_ok=True)
                continue
            os.kill(pid, sig)
            deadline = time.monotonic() + wait_s
            while self.alive(n) and time.monotonic() < deadline:
                time.sleep(0.1)
            (self.root / n / "node.pid").unlink(missing_ok=True)
            self.procs.pop(n, None)

    def heads(self, names: list[str] | None = None) -> dict[str, tuple[int, str]]:
        """Each reachable node's head: (number, hash in hex without 0x)."""
        return {n: (h.number, h.hash.removeprefix("0x")) for n, h in self.weighed_heads(names).items()}

    def weighed_heads(self, names: list[str] | None = None) -> dict[str, stall.Head]:
        """Each reachable node's head with its total difficulty."""
        out = {}
        for n in names or list(self.nodes):
            try:
                out[n] = stall.head(connect(self.nodes[n].url, timeout=3))
            except NodeUnavailable:
                continue
        return out

    @staticmethod
    def _until(deadline: float, failure: str, probe: Callable[[], Any]) -> Any:
        while True:
            found = probe()
            if found:
                return found
            if time.monotonic() > deadline:
                raise NodeUnavailable(failure + " in time")
            time.sleep(0.2)

    def _peered(self, name: str, others: int) -> Any:
        try:
            w3 = connect(self.nodes[name].url, timeout=3)
        except NodeUnavailable:
            return None
        return w3 if w3.net.peer_count >= others else None

    @property
    def urls(self) -> list[str]:
        return [n.url for n in self.nodes.values()]
