"""The consortium on four hosts against single-node anvil, in the same run, under the same load
through the API (`bench.consortium_load`: whole order lifecycles, EPCIS captures anchored, writes
timed from sending to final).

The consortium: platform, brand, carrier and regulator each on a host of their own (a network
namespace, `ledger.devnet.hosts`; on a machine where namespaces cannot be made, the same four nodes
on loopback, `consortium.namespaced` 0), geth Clique, 1 s blocks, final at `confirmations(4)` (2)
blocks deep; the platform's API runs on the platform's host against its own node. Phases:

- `consortium.*`: all four sealing;
- `consortium.one_down.*`: the brand's validator killed (SIGKILL), three sealing;
- `consortium.partitioned.*`: the carrier's host partitioned from the others (then healed, the
  reorg it caused measured: `consortium.partition_reorg_depth`).

Baseline `baseline.anvil.*`: the same load on a fresh anvil of its own (a mined block is final there). The
goal (issue 32) is ≥ 500 lifecycles/s for 5 minutes: the steady phase runs 5 minutes, its worst
minute printed beside its average (`consortium.lifecycles_per_s_worst_minute`); the faulted phases
run 15 s each.
"""

from __future__ import annotations

import signal
import subprocess
import tempfile
from pathlib import Path

from ledger.access.sealed import unseal
from ledger.chain.client import connect
from ledger.chain.deploy import deploy
from ledger.chain.finality import chain_tail, confirmations, dropped
from ledger.devnet import node
from ledger.devnet.hosts import Hosts, unavailable
from ledger.devnet.hosts_network import HostsNetwork
from ledger.devnet.network import Network

from .consortium_check import lost_and_duplicated
from .consortium_load import Load, prepare, served
from .server import free_port

BUDGETS = {
    "consortium.final_p99_s": 10,
    **{f"consortium.orders_{step}_{bad}": 0 for step in ("escrowed", "settled") for bad in ("lost", "duplicated")},
}  # the promise to shoppers and merchants (2 s blocks gave 8.98)
INFO_BUDGETS = {"consortium.one_down.final_p99_s": 10}
TARGETS = {"consortium.lifecycles_per_s": 500}  # issue 32's goal, information on this machine
ORGS = ("platform", "brand", "carrier", "regulator")
STEADY_S, FAULT_S, ANVIL_S = 300, 15, 15  # issue 32: sustained for 5 minutes


def _anvil(manifest: Path) -> dict[str, float]:
    """The same load on an anvil of its own, fresh as the consortium's network is: the run's anvil
    holds every earlier part's blocks and state (on it, the phase read 167.6 lifecycles/s in a full
    `make bench` on 2026-12-07; 859-1,173/s on a fresh one)."""
    port = free_port()
    proc = subprocess.Popen(node.anvil_command(port, None), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        url = f"http://127.0.0.1:{port}"
        node.wait_until_up(url)
        dep, _ = deploy(connect(url), manifest)
        prepare(dep)
        with served([], "127.0.0.1", url, manifest, "anvil-api", free_port()) as base:
            return Load(base, dep, [url], 0).run(ANVIL_S, "baseline.anvil")
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def _consortium(root: Path) -> dict[str, float]:
    why_not = unavailable()
    hosts = Hosts() if why_not is None else None
    net = HostsNetwork(root, hosts, period_s=1) if hosts else Network(root, period_s=1)
    out: dict[str, float] = {"consortium.namespaced": int(hosts is not None), "consortium.validators": len(ORGS)}
    try:
        if hosts:
            net.init(ORGS)
        else:
            net.init(ORGS, base_port=None)
        net.start(wait_s=120)
        manifest = root / "deployment.json"
        platform = net.nodes["platform"]
        dep, _ = deploy(connect(platform.url), manifest)
        prepare(dep)
        depth = confirmations(len(ORGS))
        out["consortium.confirmations"] = depth
        prefix = hosts.prefix("platform") if hosts else []
        sealed = (root / "platform" / "custodial.sealed").read_bytes()  # the operator's keys, sealed at init
        keys = unseal(sealed).decode()  # (under this process's passphrase; handed to its API in its environment)
        port = 8000 if hosts else free_port()
        everyone = ",".join(net.nodes[o].url for o in ORGS)  # its own node first, then the others'
        with served(prefix, platform.host, everyone, manifest, "platform-api", port, LEDGER_SIGNER_MNEMONIC=keys) as b:
            load = Load(b, dep, [net.nodes[o].url for o in ("platform", "regulator", "carrier")], depth)
            load.peers = [net.nodes[o].url for o in ORGS]
            out |= load.run(STEADY_S, "consortium")
            net.stop("brand", signal.SIGKILL)
            out |= load.run(FAULT_S, "consortium.one_down")
            net.start(["brand"], wait_s=120)
            net.wait_agreed(list(ORGS), 60)
            if hosts:
                load.urls = [net.nodes[o].url for o in ("platform", "regulator", "brand")]  # not the cut-off one
                load.peers = load.urls  # nor handing writes to it
                hosts.partition(["carrier"], ["platform", "brand", "regulator"])
                try:
                    out |= load.run(FAULT_S, "consortium.partitioned")
                    tail = chain_tail(connect(net.nodes["carrier"].url))
                finally:
                    hosts.heal()
                net.redial("carrier", ["platform", "brand", "regulator"])  # now, not on geth's timer
                net.settle(list(ORGS), 60, above=tail[0])  # a node left behind by a stale link is redialled
                out["consortium.partition_reorg_depth"] = dropped(tail, connect(platform.url))
            for name, n in lost_and_duplicated(connect(platform.url), dep, load.acked).items():
                out[f"consortium.orders_{name}"] = n
    finally:
        net.stop()
        if hosts:
            hosts.close()
    return out


def measure(url: str, workdir: Path) -> dict[str, float]:
    out = _anvil(workdir.with_suffix(".anvil.json"))  # (not the run's anvil at `url`)
    with tempfile.TemporaryDirectory(prefix="netns-bench-") as tmp:
        out |= _consortium(Path(tmp) / "network")
    for name in ("lifecycles_per_s", "events_anchored_per_s"):
        base = out[f"baseline.anvil.{name}"]
        out[f"ratio.consortium_vs_anvil_{name.removesuffix('_per_s')}"] = round(out[f"consortium.{name}"] / base, 3)
    return out
