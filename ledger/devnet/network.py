"""A consortium network on one machine: one go-ethereum Clique validator per organisation, each with
its own data folder and keys under `<root>/<org>/`, peered over devp2p on 127.0.0.1 (static peers,
discovery off), sealing a block every `period_s` seconds (`LEDGER_BLOCK_PERIOD_S`, default 2) under
London rules. (`hosts_network.HostsNetwork`: the same, each node on a host of its own.)

`init()` writes the genesis (the validators as signers, the development accounts funded) and each
node's keys: the validator's sealing key as an encrypted keystore file (password file mode 0600)
and its devp2p node key; and the operator's custodial signing keys, sealed, for its API. `start()`
starts the nodes, lets them seal once all are peered, waits until all report the same head, and
sets a network forked at birth back to its genesis. A further organisation joins as a full node
(`add_node`) and seals once governance has decided so and the signers' nodes voted it in
(`validators.follow`); a node voted out is taken out of the network (`remove_node`).
"""

from __future__ import annotations

import contextlib
import json
import secrets
import shutil
import time
from dataclasses import asdict
from functools import partial
from pathlib import Path
from typing import Any

from eth_account import Account
from eth_keys import keys

from ledger.access import keystore as keystore_file
from ledger.access.sealed import write_sealed
from ledger.chain import stall
from ledger.chain.client import DEV_MNEMONIC, connect, dev_accounts
from ledger.chain.finality import block_period_s
from ledger.config import env
from ledger.errors import LedgerError, NodeUnavailable

from .genesis import clique_genesis, write_besu
from .geth import ensure_geth
from .geth_nodes import GethProcesses, NodeSpec, geth_init, static_peers

CONSORTIUM_CHAIN_ID = 20261202
ORGS = ("platform", "brands", "regulator")  # operator, brand/merchant association, regulator-auditor
#: the first node's JSON-RPC port (`LEDGER_NETWORK_PORT`); node i listens on it + i, p2p + 100, auth + 200
DEFAULT_BASE_PORT = 8645
DIAL_BACK_AFTER_S = 5.0  # a started node's wait for the peers it dials, before they dial it (`_dial_back`)
#: the operator's custodial signing keys (the bootstrap mnemonic), sealed, in its own folder
OPERATOR_KEYS = "platform/custodial.sealed"


def base_port() -> int:
    return env().network_port


def _ports(base: int | None, i: int) -> tuple[int, int, int]:
    if base is None:
        from ledger.devnet.servers import free_port

        return free_port(), free_port(), free_port()
    return base + 100 + i, base + i, base + 200 + i  # p2p, http, auth


class Network(GethProcesses):
    def __init__(self, root: Path, chain_id: int = CONSORTIUM_CHAIN_ID, period_s: int | None = None):
        super().__init__()
        self.root, self.chain_id, self.period_s = root, chain_id, period_s or block_period_s()
        self.nodes: dict[str, NodeSpec] = {}
        self.base_port: int | None = None
        if (root / "network.json").exists():
            state = json.loads((root / "network.json").read_text())
            self.chain_id, self.period_s = state["chain_id"], state["period_s"]
            self.base_port = state.get("base_port")
            self.nodes = {n["org"]: NodeSpec(**n) for n in state["nodes"]}

    # -- setting up ---------------------------------------------------------------------------

    def _save(self) -> None:
        state = {
            "chain_id": self.chain_id,
            "period_s": self.period_s,
            "base_port": self.base_port,
            "nodes": [asdict(n) for n in self.nodes.values()],
        }
        (self.root / "network.json").write_text(json.dumps(state, indent=1))

    def _make_keys(self, org: str, i: int, base_port: int | None) -> NodeSpec:
        d = self.root / org
        (d / "geth").mkdir(parents=True, exist_ok=True)
        password = secrets.token_urlsafe(24)
        pw = d / "password"
        pw.write_text(password)
        pw.chmod(0o600)
        account = Account.create()
        keystore = d / "keystore"
        keystore.mkdir(exist_ok=True)
        kf = keystore / f"validator-{account.address.lower()[2:]}.json"
        kf.write_text(json.dumps(keystore_file.seal(account.key, password)))
        kf.chmod(0o600)
        node_key = secrets.token_bytes(32)
        nk = d / "geth" / "nodekey"
        nk.write_text(node_key.hex())
        nk.chmod(0o600)
        p2p, http, auth = _ports(base_port, i)
        public = keys.PrivateKey(node_key).public_key.to_hex()[2:]
        return NodeSpec(org, p2p, http, auth, account.address, public)

    def init(self, orgs: tuple[str, ...] = ORGS, base_port: int | None = DEFAULT_BASE_PORT) -> None:
        """Genesis and keys for a new network (refused if one exists in `root`); `base_port` None:
        free ports (tests)."""
        if (self.root / "network.json").exists():
            raise LedgerError(f"a network already exists in {self.root}; stop it and delete the folder to start anew")
        self.root.mkdir(parents=True, exist_ok=True)
        self.base_port = base_port
        self.nodes = {org: self._make_keys(org, i, base_port) for i, org in enumerate(orgs)}
        self.seal_operator_keys()
        funded = [a.address for a in dev_accounts(20)] + [n.validator for n in self.nodes.values()]
        genesis = clique_genesis(self.chain_id, [n.validator for n in self.nodes.values()], funded, self.period_s)
        (self.root / "genesis.json").write_text(json.dumps(genesis, indent=1))
        write_besu(self.root / "besu", self.chain_id, list(self.nodes.values()), funded, self.period_s)
        for org in self.nodes:
            self._geth_init(org)
        self._save()

    def seal_operator_keys(self) -> None:
        """The members `deploy` bootstraps are the mnemonic's accounts: the operator's API signs with
        them for those who delegate signing to it; sealed at rest (ledger.access.sealed), once."""
        write_sealed(self.root / OPERATOR_KEYS, (env().mnemonic or DEV_MNEMONIC).encode())

    def _geth_init(self, org: str) -> None:
        geth_init(self.root / org, self.root / "genesis.json")

    def add_node(self, org: str) -> NodeSpec:
        """A further organisation's node: the same genesis, peered with every node, not a signer
        (ports after the highest in use, or free ones on a network made with free ports)."""
        if org in self.nodes:
            raise LedgerError(f"{org} already runs a node")
        used = max((n.http_port - self.base_port for n in self.nodes.values()), default=-1) if self.base_port else 0
        spec = self._make_keys(org, used + 1, self.base_port)
        self.nodes[org] = spec
        self._geth_init(org)
        self._save()
        return spec

    def remove_node(self, org: str) -> None:
        """Stop `org`'s node and take it out of the network (its folder is kept, renamed): the next
        start neither starts it nor names it as a peer."""
        if org not in self.nodes:
            raise LedgerError(f"no node {org!r} in the network")
        self.stop(org)
        del self.nodes[org]
        self._save()
        (self.root / org).rename(self.root / f"{org}.removed-{int(time.time())}")

    # -- running ------------------------------------------------------------------------------

    def _config(self, org: str) -> Path:
        """Each pair of nodes has one dialer, the later one: two nodes started together dialled each
        other at once, each dropped the other's connection as a duplicate, and geth's 35 s redial
        timers stayed in step, so the pair never peered (seen in a fresh-clone run)."""
        order = list(self.nodes)
        earlier = order[: order.index(org)] if org in order else order
        return static_peers(self.root / org / "config.toml", [self.nodes[o].enode for o in earlier])

    def command(self, org: str) -> list[str]:
        n, d = self.nodes[org], self.root / org
        return [
            str(ensure_geth()), "--datadir", str(d), "--config", str(self._config(org)),
            "--networkid", str(self.chain_id), "--syncmode", "full", "--gcmode", "archive",
            "--port", str(n.p2p_port), "--nat", "none" if n.host == "127.0.0.1" else f"extip:{n.host}",
            "--nodiscover", "--maxpeers", "25", "--http", "--http.addr", n.host, "--http.port", str(n.http_port),
            "--http.vhosts", f"localhost,127.0.0.1,{n.host}",
            "--http.api", "eth,net,web3,clique,txpool,admin,miner,personal,debug", "--authrpc.addr", "127.0.0.1",
            "--authrpc.port", str(n.auth_port), "--ipcdisable",
            "--miner.etherbase", n.validator, "--miner.gasprice", "0", "--miner.recommit", "100ms",
            "--unlock", n.validator, "--password", str(d / "password"), "--allow-insecure-unlock",
            "--rpc.txfeecap", "0", "--txpool.pricelimit", "0", "--verbosity", "3",
        ]  # fmt: skip

    def start(self, orgs: list[str] | None = None, wait_s: float = 60) -> list[str]:
        """Start the named nodes (default: all), each in its own session; wait until they agree.
        Validators that each sealed a block 1 of their own (seen under heavy load: the in-turn
        block reached the others after their own wait ran out) never reconcile; such a network,
        forked at birth with nothing on it, is set back to its genesis and started again."""
        started = list(orgs or self.nodes)
        for attempt in range(3):
            for org in started:
                self._spawn(org)
            # fresh: nothing on the chains before they seal now (read before, not after: on a loaded
            # machine a healthy network had sealed 3 blocks by the time its heads were read)
            fresh = attempt < 2 and self._seal_when_peered(started, wait_s) == 0
            try:
                self.wait_agreed(started, min(wait_s, 20) if fresh else wait_s)
                break
            except NodeUnavailable:
                if not fresh:  # blocks from before this start: never wiped
                    raise
                for org in started:  # forked at birth: back to genesis, keys and ports kept
                    self.stop(org)
                    shutil.rmtree(self.root / org / "geth" / "chaindata", ignore_errors=True)
                    self._geth_init(org)
        return [f"{n.org}: {n.url} (p2p {n.host}:{n.p2p_port}, validator {n.validator})" for n in self.nodes.values()]

    def _seal_when_peered(self, orgs: list[str], wait_s: float) -> int:
        """Let the started nodes seal only once every one of them is peered with every other running
        node and has its key unlocked, then all at once: geth discards the blocks its peers propagate
        until it mines itself, so a node sealing while another was still starting forked for good.
        Returns the highest head among them just before they seal."""
        deadline, dial_back_at = time.monotonic() + wait_s, time.monotonic() + DIAL_BACK_AFTER_S
        clients = []
        for org in orgs:
            others = sum(1 for o in self.nodes if o != org and self.alive(o))

            def peered(org: str = org, others: int = others) -> Any:
                nonlocal dial_back_at
                if (w3 := self._peered(org, others)) is None and time.monotonic() > dial_back_at:
                    dial_back_at = time.monotonic() + DIAL_BACK_AFTER_S
                    self._dial_back()
                return w3

            clients.append(self._until(deadline, f"{org}'s node did not peer with the {others} others", peered))
        for org, w3 in zip(orgs, clients, strict=True):
            self._until(deadline, f"{org}'s node did not unlock its validator key", partial(self._unlocked, w3))
        before = max((n for n, _ in self.heads(orgs).values()), default=0)
        for w3 in clients:
            w3.provider.make_request("miner_start", [])
        return before

    def _dial_back(self) -> None:
        """Each running node dials the later ones, which dial it (`_config`): a dial that found its peer not
        yet listening (after a set-back to genesis on a loaded machine, one node of three stayed peered with
        one other for a minute) is retried only after geth's 35 s dial history; a connected pair stays."""
        alive = [o for o in self.nodes if self.alive(o)]
        for i, org in enumerate(alive):
            for later in alive[i + 1 :]:
                with contextlib.suppress(Exception):  # not up yet: the next round tries again
                    connect(self.nodes[org].url, timeout=3).provider.make_request(
                        "admin_addPeer", [self.nodes[later].enode]
                    )

    @staticmethod
    def _unlocked(w3) -> bool:
        wallets = w3.provider.make_request("personal_listWallets", []).get("result") or []
        return any(w.get("status") == "Unlocked" for w in wallets)

    def wait_agreed(self, orgs: list[str], wait_s: float, above: int = 0) -> tuple[int, str]:
        """Wait until every named node reports the same head, past block `above`."""
        return self.settle(orgs, wait_s, above, break_ties=False)[0]

    def settle(
        self, orgs: list[str], wait_s: float, above: int = 0, break_ties: bool = True
    ) -> tuple[tuple[int, str], list[str]]:
        """`wait_agreed`, a stall after an even split broken (`ledger.chain.stall`): once the heads
        have differed without moving for a few block periods and the heaviest are tied, the nodes
        on the losing branch are rewound to the block they share with the winner and redial its
        nodes, from which they fetch it. The agreed head and the nodes rewound."""
        deadline, patience, rewound = time.monotonic() + wait_s, 4 * self.period_s + 3, []
        seen, since, watch = None, time.monotonic(), stall.Watch()
        while time.monotonic() < deadline:
            heads = self.weighed_heads(orgs)
            if len(heads) == len(orgs) and len({h.hash for h in heads.values()}) == 1:
                if (h := next(iter(heads.values()))).number > above:
                    return (h.number, h.hash.removeprefix("0x")), rewound
            elif heads != seen:
                seen, since = heads, time.monotonic()
            elif break_ties and time.monotonic() - since > patience and (found := stall.tie(heads)):
                rewound += self._rewind_to(found[0], [o for o, h in heads.items() if h == found[0]], found[1])
                seen, since = None, time.monotonic()
            # a node still while a heavier chain moves on (or stands) without it: its links to it are gone
            for org in watch.behind(heads, time.monotonic(), patience) if break_ties else ():
                self.redial(org, [o for o, h in heads.items() if h.td > heads[org].td])
            time.sleep(0.25)
        heads = {o: (h.number, h.hash.removeprefix("0x")) for o, h in (seen or {}).items()}
        raise NodeUnavailable(f"nodes {', '.join(orgs)} did not agree on a head within {wait_s:.0f} s: {heads}")

    def _rewind_to(self, winner: stall.Head, winners: list[str], losers: list[str]) -> list[str]:
        judge = connect(self.nodes[winners[0]].url)
        for org in losers:
            w3 = connect(self.nodes[org].url)
            stall.rewind(w3, stall.shared_ancestor(w3, judge, min(winner.number, w3.eth.block_number)))
            self.redial(org, winners)
        return losers

    def redial(self, org: str, orgs: list[str]) -> None:
        """A new connection from `org`'s node to each of `orgs`' nodes (a stale one dropped first:
        adding a peer geth still holds does nothing) makes geth compare heads and fetch the heavier
        chain at once."""
        w3 = connect(self.nodes[org].url)
        for other in orgs:
            w3.provider.make_request("admin_removePeer", [self.nodes[other].enode])
            w3.provider.make_request("admin_addPeer", [self.nodes[other].enode])

    def propose(self, voter: str, address: str, authorize: bool = True) -> None:
        """`voter`'s validator votes `address` in (or out) as a signer (Clique `clique_propose`)."""
        w3 = connect(self.nodes[voter].url)
        w3.provider.make_request("clique_propose", [address, authorize])

    def signers(self, org: str) -> list[str]:
        w3 = connect(self.nodes[org].url)
        return [w3.to_checksum_address(a) for a in w3.provider.make_request("clique_getSigners", [])["result"]]
