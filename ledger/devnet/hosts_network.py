"""The consortium with each organisation on a host of its own (`hosts.Hosts`: a network namespace,
one address on a bridge): its geth node, data folder and keys on that host, listening on that
address only (JSON-RPC 8545, devp2p 30303, as on a machine of its own), peering with the others
over the bridge by the addresses in their enodes, never through loopback.

A new organisation joins as it would from outside: it is handed the genesis and the enode list as
files (`handover`), makes its own keys on its own host, starts a full node peered from that list
(`join`), and seals once governance decided so and the signers' nodes voted it in
(`validators.follow`). An auditor's host runs a node of its own set up from the same files
(`HostsAuditor`: `auditor_node.AuditorNode` on a host), holding no key.
"""

from __future__ import annotations

import json
import shutil
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, replace
from pathlib import Path

from ledger.errors import LedgerError

from .auditor_node import NAME, AuditorNode, read_enodes
from .geth_nodes import NodeSpec, geth_init, static_peers
from .hosts import Hosts
from .network import CONSORTIUM_CHAIN_ID, Network

HTTP_PORT, P2P_PORT, AUTH_PORT = 8545, 30303, 8551


class HostsNetwork(Network):
    def __init__(self, root: Path, hosts: Hosts, chain_id: int = CONSORTIUM_CHAIN_ID, period_s: int | None = None):
        super().__init__(root, chain_id, period_s)
        self.hosts = hosts

    def _make_keys(self, org: str, i: int, base_port: int | None) -> NodeSpec:
        spec = super()._make_keys(org, i, None)
        return replace(spec, host=self.hosts.add(org), p2p_port=P2P_PORT, http_port=HTTP_PORT, auth_port=AUTH_PORT)

    def init(self, orgs: tuple[str, ...], base_port: int | None = None) -> None:
        """As `Network.init`, the nodes' `geth init` run side by side (a few seconds each)."""
        self._deferred: list[str] | None = []
        try:
            super().init(orgs, base_port=None)
        finally:
            deferred, self._deferred = self._deferred or [], None
        with ThreadPoolExecutor(len(deferred) or 1) as pool:
            list(pool.map(self._geth_init, deferred))

    def _spawn(self, org: str) -> None:
        """Start `org`'s node and wait until it listens: a node dialling a peer not yet listening
        waits out geth's redial timer (35 s) before it tries again."""
        super()._spawn(org)
        self._until(time.monotonic() + 30, f"{org}'s node did not listen", lambda: self._peered(org, 0))

    def command(self, org: str) -> list[str]:
        return [*self.hosts.prefix(org), *super().command(org)]

    def _joined(self, org: str) -> Path:
        return self.root / org / "handed-over"

    def _geth_init(self, org: str) -> None:
        if getattr(self, "_deferred", None) is not None:
            self._deferred.append(org)
            return
        own = self._joined(org) / "genesis.json"
        geth_init(self.root / org, own if own.exists() else self.root / "genesis.json")

    def _config(self, org: str) -> Path:
        handed = self._joined(org) / "enodes.txt"
        if handed.exists():  # a joining organisation knows the others from the list it was handed
            return static_peers(self.root / org / "config.toml", read_enodes(handed))
        return super()._config(org)

    def handover(self, out: Path) -> tuple[Path, Path]:
        """The genesis and the running nodes' enodes, as files for a newcomer or an auditor."""
        out.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(self.root / "genesis.json", out / "genesis.json")
        (out / "enodes.txt").write_text("".join(f"{n.enode}\n" for n in self.nodes.values()))
        return out / "genesis.json", out / "enodes.txt"

    def join(self, org: str, genesis: Path, enodes: Path) -> NodeSpec:
        """`org` joins from the handed-over files: its host, its keys, its node (not yet a signer)."""
        if org in self.nodes:
            raise LedgerError(f"{org} already runs a node")
        handed = self._joined(org)
        handed.mkdir(parents=True)
        shutil.copyfile(genesis, handed / "genesis.json")
        shutil.copyfile(enodes, handed / "enodes.txt")
        read_enodes(handed / "enodes.txt")  # refuse a malformed list before anything starts
        spec = self._make_keys(org, len(self.nodes), None)
        self.nodes[org] = spec
        self._geth_init(org)
        self._save()
        return spec


class HostsAuditor(AuditorNode):
    """An auditor's read-only node on the auditor's own host."""

    def __init__(self, root: Path, hosts: Hosts, org: str = "auditor"):
        super().__init__(root)
        self.hosts, self.org = hosts, org

    def init(self, genesis: Path, enodes: Path, http_port: int = HTTP_PORT) -> NodeSpec:
        host = self.hosts.add(self.org)
        super().init(genesis, enodes, http_port)
        self.nodes[NAME] = replace(self.spec, host=host, p2p_port=P2P_PORT, auth_port=AUTH_PORT)
        state = {"chain_id": self.chain_id, "peers": self.peers, "node": asdict(self.spec)}
        (self.root / "node.json").write_text(json.dumps(state, indent=1))
        return self.spec

    def command(self, name: str = NAME) -> list[str]:
        return [*self.hosts.prefix(self.org), *super().command(name)]
