"""Hosts of their own for the consortium's organisations on one Linux machine: each a network
namespace (`netns-<run>-<org>`) with one veth interface and one IPv4 address on a bridge of the
run (`nsbr<run>`, the machine's own address on it `.1`), nothing else: a process started in it
(`prefix(org)`) sees only its own loopback and that address, so its peers are reached over the
bridge, never through the machine's loopback.

Faults are made on the wire: `cut(org)` takes the host's link down (its node is unreachable, as if
its machine lost its network); `partition(groups)` blackholes, inside each host, the addresses of
the hosts in other groups, so the sides cannot reach each other while the machine (the bench, the
tests) still reads every node; `heal()` undoes both. Needs root (CAP_NET_ADMIN) and `ip`
(iproute2): `unavailable()` says why not when they are missing.
"""

from __future__ import annotations

import os
import random
import secrets
import shutil
import subprocess

from ledger.config import env
from ledger.errors import LedgerError


def _ip(*args: str, check: bool = True) -> subprocess.CompletedProcess:
    r = subprocess.run(["ip", *args], capture_output=True, text=True, timeout=30, check=False)
    if check and r.returncode != 0:
        raise LedgerError(f"ip {' '.join(args)}: {r.stderr.strip()}")
    return r


def unavailable() -> str | None:
    """Why network namespaces cannot be made here, or None when they can (tried, then removed)."""
    if shutil.which("ip") is None:
        return "no `ip` command (iproute2) on this machine"
    if os.geteuid() != 0:
        return "network namespaces need root (CAP_NET_ADMIN); run as root"
    probe = f"netns-probe-{secrets.token_hex(3)}"
    r = _ip("netns", "add", probe, check=False)
    if r.returncode != 0:
        return f"cannot create a network namespace: {r.stderr.strip()}"
    try:
        r = _ip("-n", probe, "link", "add", "p0", "type", "veth", "peer", "name", "p1", check=False)
        if r.returncode != 0:
            return f"cannot create a veth pair: {r.stderr.strip()}"
    finally:
        _ip("netns", "del", probe, check=False)
    return None


def _free_subnet() -> str:
    """A /24 under 10.213.0.0/16 that no route on this machine covers yet ("10.213.X")."""
    routes = _ip("-4", "route", "show").stdout + _ip("-4", "addr", "show").stdout
    for _ in range(256):
        prefix = f"10.213.{random.randrange(256)}"
        if f"{prefix}." not in routes:
            return prefix
    raise LedgerError("no free 10.213.X.0/24 subnet for the hosts")


class Hosts:
    """The run's bridge and hosts; `close()` removes every namespace, link and route it made."""

    def __init__(self, run: str | None = None):
        self.run = run or secrets.token_hex(3)
        self.bridge = f"nsbr{self.run}"
        self.subnet = _free_subnet()
        self.gateway = f"{self.subnet}.1"
        self.hosts: dict[str, str] = {}  # org -> address
        self._links: dict[str, str] = {}  # org -> the host side of its veth
        self._blackholes: list[tuple[str, str]] = []  # (org, address it cannot reach)
        _ip("link", "add", self.bridge, "type", "bridge")
        try:
            _ip("addr", "add", f"{self.gateway}/24", "dev", self.bridge)
            _ip("link", "set", self.bridge, "up")
        except LedgerError:
            self.close()
            raise

    def namespace(self, org: str) -> str:
        return f"{env().netns_prefix}-{self.run}-{org}"

    def add(self, org: str) -> str:
        """A host for `org`: its namespace, veth and address (returned)."""
        if org in self.hosts:
            return self.hosts[org]
        n = len(self._links)
        if n > 250:
            raise LedgerError("at most 250 hosts on one bridge")
        ns, link, address = self.namespace(org), f"nsv{self.run}{n}", f"{self.subnet}.{n + 2}"
        _ip("netns", "add", ns)
        self._links[org] = link
        _ip("link", "add", link, "type", "veth", "peer", "name", "eth0", "netns", ns)
        _ip("link", "set", link, "master", self.bridge, "up")
        _ip("-n", ns, "addr", "add", f"{address}/24", "dev", "eth0")
        _ip("-n", ns, "link", "set", "eth0", "up")
        _ip("-n", ns, "link", "set", "lo", "up")
        self.hosts[org] = address
        return address

    def prefix(self, org: str) -> list[str]:
        """The command prefix that runs a program on `org`'s host (it execs: the pid is the program's)."""
        return ["ip", "netns", "exec", self.namespace(org)]

    # -- faults on the wire --------------------------------------------------------------------

    def cut(self, org: str) -> None:
        """`org`'s host loses its network (its link down)."""
        _ip("link", "set", self._links[org], "down")

    def partition(self, *groups: list[str]) -> None:
        """Hosts in different groups cannot reach each other (hosts in no group keep every link)."""
        for group in groups:
            for org in group:
                for other in groups:
                    if other is group:
                        continue
                    for peer in other:
                        _ip("-n", self.namespace(org), "route", "add", "blackhole", f"{self.hosts[peer]}/32")
                        self._blackholes.append((org, self.hosts[peer]))

    def heal(self) -> None:
        """Every link up, every blackhole gone."""
        for org, address in self._blackholes:
            _ip("-n", self.namespace(org), "route", "del", "blackhole", f"{address}/32", check=False)
        self._blackholes.clear()
        for link in self._links.values():
            _ip("link", "set", link, "up", check=False)

    def close(self) -> None:
        """Remove the namespaces (their veths go with them) and the bridge; safe to call twice."""
        for org in list(self.hosts):
            _ip("netns", "del", self.namespace(org), check=False)
        for link in self._links.values():
            _ip("link", "del", link, check=False)
        _ip("link", "del", self.bridge, check=False)
        self.hosts.clear()
        self._links.clear()
        self._blackholes.clear()
