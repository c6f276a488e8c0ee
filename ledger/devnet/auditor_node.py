"""An auditor's own node of the consortium chain, set up on the auditor's side from the two files
the consortium hands over (`ledger network handover`): the genesis and the validators' enodes.

It holds no key (no account, nothing unlocked, never seals), makes its own devp2p node key,
follows the chain from the validators as a full archive node (checking every block's Clique seal
itself) and answers only the read APIs `eth`, `net` and `web3` on 127.0.0.1. What the auditor
verifies against it (`ledger verify --rpc <its URL>`) is what the chain says, not what the
operator's node says.
"""

from __future__ import annotations

import json
import secrets
import shutil
import time
from dataclasses import asdict
from pathlib import Path

from eth_keys import keys

from ledger.chain.client import connect
from ledger.errors import LedgerError, NodeUnavailable

from .geth import ensure_geth
from .geth_nodes import GethProcesses, NodeSpec, geth_init, static_peers

NAME = "node"
READ_APIS = "eth,net,web3"
DEFAULT_HTTP_PORT = 8660  # after the network's nodes (8645 + i); p2p + 100, auth + 200


def read_enodes(path: Path) -> list[str]:
    """One enode URL a line (blank lines and `#` comments skipped)."""
    try:
        lines = path.read_text().splitlines()
    except OSError as exc:
        raise LedgerError(f"cannot read the enodes file {path}: {exc.strerror}") from None
    enodes = [s.strip() for s in lines if s.strip() and not s.strip().startswith("#")]
    bad = [e for e in enodes if not e.startswith("enode://") or "@" not in e]
    if bad or not enodes:
        raise LedgerError(f"{path}: expected one enode://<key>@<host>:<port> a line, got {bad[:1] or 'none'}")
    return enodes


class AuditorNode(GethProcesses):
    def __init__(self, root: Path):
        super().__init__()
        self.root = root
        self.nodes: dict[str, NodeSpec] = {}
        self.chain_id, self.peers = 0, []
        if (root / "node.json").exists():
            state = json.loads((root / "node.json").read_text())
            self.chain_id, self.peers = state["chain_id"], state["peers"]
            self.nodes = {NAME: NodeSpec(**state["node"])}

    @property
    def spec(self) -> NodeSpec:
        if not self.nodes:
            raise LedgerError(f"no auditor node in {self.root}; set one up with `ledger auditor-node init`")
        return self.nodes[NAME]

    def init(self, genesis: Path, enodes: Path, http_port: int = DEFAULT_HTTP_PORT) -> NodeSpec:
        """The node's folder from the handed-over files (refused if one exists)."""
        if (self.root / "node.json").exists():
            raise LedgerError(f"an auditor node already exists in {self.root}")
        try:
            chain_id = int(json.loads(genesis.read_text())["config"]["chainId"])
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise LedgerError(f"{genesis} is not a genesis file with config.chainId ({exc})") from None
        self.peers = read_enodes(enodes)
        (self.root / NAME / "geth").mkdir(parents=True, exist_ok=True)
        shutil.copyfile(genesis, self.root / "genesis.json")
        node_key = secrets.token_bytes(32)
        nk = self.root / NAME / "geth" / "nodekey"
        nk.write_text(node_key.hex())
        nk.chmod(0o600)
        geth_init(self.root / NAME, self.root / "genesis.json")
        public = keys.PrivateKey(node_key).public_key.to_hex()[2:]
        self.chain_id = chain_id
        self.nodes = {NAME: NodeSpec(NAME, http_port + 100, http_port, http_port + 200, "", public)}
        state = {"chain_id": chain_id, "peers": self.peers, "node": asdict(self.spec)}
        (self.root / "node.json").write_text(json.dumps(state, indent=1))
        return self.spec

    def command(self, name: str = NAME) -> list[str]:
        n, d = self.spec, self.root / NAME
        return [
            str(ensure_geth()), "--datadir", str(d), "--config", str(static_peers(d / "config.toml", self.peers)),
            "--networkid", str(self.chain_id), "--syncmode", "full", "--gcmode", "archive",
            "--port", str(n.p2p_port), "--nat", "none" if n.host == "127.0.0.1" else f"extip:{n.host}",
            "--nodiscover", "--maxpeers", "10", "--http", "--http.addr", n.host, "--http.port", str(n.http_port),
            "--http.vhosts", f"localhost,127.0.0.1,{n.host}", "--http.api", READ_APIS,
            "--authrpc.addr", "127.0.0.1", "--authrpc.port", str(n.auth_port), "--ipcdisable", "--verbosity", "3",
        ]  # fmt: skip

    def start(self, wait_s: float = 60) -> str:
        """Start the node; wait until it is peered and has followed the chain past its genesis."""
        self.spec  # noqa: B018 - refuses a folder never set up
        self._spawn(NAME)
        deadline = time.monotonic() + wait_s
        w3 = self._until(deadline, "the auditor node did not peer with a validator", lambda: self._peered(NAME, 1))
        self._until(deadline, "the auditor node did not follow the chain", lambda: self._head(w3) > 0)
        return f"auditor node: {self.spec.url} (read-only: {READ_APIS}; peers {len(self.peers)})"

    @staticmethod
    def _head(w3) -> int:
        try:
            return int(w3.eth.block_number)
        except NodeUnavailable:
            return 0

    def head(self) -> int:
        return int(connect(self.spec.url, timeout=3).eth.block_number)
