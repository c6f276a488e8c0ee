"""`ledger network ...`: the consortium's validator nodes under `<data dir>/network` (ports from
`--base-port` or `LEDGER_NETWORK_PORT`, 8645 by default); `ledger auditor-node ...`: an auditor's
own read-only node, set up from the files the consortium hands over (`network handover`)."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from ledger.config import env
from ledger.errors import LedgerError


def _follow_governance(net, org: str | None) -> list[str]:
    """Each organisation's node (or `org`'s only) votes as governance decided; a node governance
    voted out that no longer seals is taken out of the network, so no later start brings it back."""
    from ledger.chain.client import connect
    from ledger.chain.deploy import attach
    from ledger.devnet import validators

    manifest = Path(env().manifest_path or net.root / "deployment.json")  # as make run's
    lines = []
    for name in [org] if org else list(net.nodes):
        node = connect(net.nodes[name].url)
        dep = attach(node, manifest)  # the governance decisions as this organisation's own node has them
        for vote in validators.follow(dep, node):
            lines.append(f"{name} voted to {'add' if vote['authorize'] else 'remove'} {vote['validator']}")
    if org is None and net.nodes:
        dep = attach(connect(",".join(net.urls)), manifest)
        out = {v for v, authorized in validators.decided(dep).items() if not authorized}
        sealing = set(validators.signers(dep.w3))
        for name, spec in list(net.nodes.items()):
            if spec.validator in out and spec.validator not in sealing:
                net.remove_node(name)
                lines.append(f"{name} was voted out: its node is stopped and out of the network")
    return lines


def _cmd_network(args: argparse.Namespace) -> None:
    from ledger.devnet.network import Network, base_port
    from ledger.paths import network_dir

    net = Network(network_dir())
    port = args.base_port or base_port()
    if args.action == "init" or (args.action == "start" and not net.nodes):
        net.init(base_port=port)
        print(f"genesis and keys in {net.root} (Besu QBFT files in {net.root / 'besu'})")
    if args.action == "start":
        net.seal_operator_keys()  # a network made before the operator's keys were sealed gets them
        for line in net.start(wait_s=120):
            print(line)
        print(f"LEDGER_RPC_URL={','.join(net.urls)}")
    elif args.action == "stop":
        net.stop()
        print(f"stopped the nodes in {net.root}; their chains are kept")
    elif args.action == "urls":
        print(",".join(net.urls))
    elif args.action == "status":
        for org, head in net.weighed_heads(list(net.nodes)).items():
            print(f"{org}: block {head.number} {head.hash} total difficulty {head.td}")
    elif args.action == "settle":
        (number, block_hash), rewound = net.settle(list(net.nodes), args.wait)
        said = f"; rewound {', '.join(rewound)} off a tied branch" if rewound else ""
        print(f"all nodes at block {number} {block_hash}{said}")
    elif args.action == "add-node":
        spec = net.add_node(args.org)
        net.start([*net.nodes], wait_s=120)
        print(f"{spec.org}: {spec.url} full node, validator key {spec.validator}; governance decides whether it seals")
    elif args.action == "remove-node":
        net.remove_node(args.org)
        print(f"{args.org}'s node is stopped and out of the network")
    elif args.action == "handover":
        out = Path(args.out)
        out.mkdir(parents=True, exist_ok=True)
        (out / "genesis.json").write_text((net.root / "genesis.json").read_text())
        (out / "enodes.txt").write_text("".join(f"{n.enode}\n" for n in net.nodes.values()))
        print(f"wrote {out / 'genesis.json'} and {out / 'enodes.txt'}: `ledger auditor-node init` takes them")
    elif args.action == "follow-governance":
        while True:
            try:
                for line in _follow_governance(net, args.org):
                    print(line, flush=True)
            except (LedgerError, OSError, ValueError) as exc:  # a node down for a while: said, tried again
                if not args.follow:
                    raise
                print(f"follow-governance: {exc}", file=sys.stderr, flush=True)
            if not args.follow:
                break
            time.sleep(args.poll)


def _cmd_auditor_node(args: argparse.Namespace) -> None:
    from ledger.devnet.auditor_node import AuditorNode
    from ledger.paths import data_dir

    node = AuditorNode(Path(args.dir) if args.dir else data_dir() / "auditor-node")
    if args.action == "init":
        if not (args.genesis and args.enodes):
            raise SystemExit("ledger: auditor-node init needs --genesis and --enodes (from `ledger network handover`)")
        spec = node.init(Path(args.genesis), Path(args.enodes), args.http_port)
        print(f"auditor node in {node.root}: {spec.url}, chain id {node.chain_id}, {len(node.peers)} peers, no key")
    elif args.action == "start":
        print(node.start(wait_s=120))
    elif args.action == "stop":
        node.stop()
        print(f"stopped the auditor node in {node.root}")


def add_parser(sub: argparse._SubParsersAction) -> None:
    from ledger.devnet.auditor_node import DEFAULT_HTTP_PORT

    p = sub.add_parser("network", help="the consortium's validator nodes (geth Clique) under the data dir")
    actions = ["init", "start", "stop", "status", "settle", "urls", "add-node", "remove-node", "handover"]
    actions.append("follow-governance")
    p.add_argument("action", choices=actions)
    p.add_argument("org", nargs="?", help="add-node, remove-node: the organisation; follow-governance: its node only")
    p.add_argument("--base-port", type=int, help="init: the first node's JSON-RPC port (default 8645)")
    p.add_argument("--out", default=".", help="handover: the folder to write genesis.json and enodes.txt to")
    p.add_argument("--follow", action="store_true", help="follow-governance: keep following")
    p.add_argument("--poll", type=float, default=2.0, help="follow-governance --follow: seconds between looks")
    p.add_argument("--wait", type=float, default=120, help="settle: seconds to wait for the nodes to agree")
    p.set_defaults(func=_cmd_network)
    p = sub.add_parser("auditor-node", help="an auditor's own read-only node of the consortium chain")
    p.add_argument("action", choices=["init", "start", "stop"])
    p.add_argument("--genesis", help="init: the consortium's genesis.json")
    p.add_argument("--enodes", help="init: the validators' enode URLs, one a line")
    p.add_argument("--dir", help="the node's folder (default: <data dir>/auditor-node)")
    p.add_argument("--http-port", type=int, default=DEFAULT_HTTP_PORT, help="init: its JSON-RPC port (p2p +100)")
    p.set_defaults(func=_cmd_auditor_node)
