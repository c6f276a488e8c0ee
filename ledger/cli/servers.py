"""`ledger network ...` and `ledger postgres ...`: the consortium's validator nodes and a
PostgreSQL of our own, both under the data directory."""

from __future__ import annotations

import argparse


def _cmd_postgres(args: argparse.Namespace) -> None:
    from ledger.paths import data_dir
    from ledger.store.servers import LocalPostgres

    server = LocalPostgres(data_dir() / "postgresql", args.port)
    if args.action == "start":
        print(server.start())
    else:
        server.stop()
        print(f"stopped PostgreSQL in {server.data}")


def _cmd_network(args: argparse.Namespace) -> None:
    from ledger.chain.network import Network
    from ledger.paths import data_dir

    net = Network(data_dir() / "network")
    if args.action == "init":
        net.init()
        print(f"genesis and keys in {net.root} (Besu QBFT files in {net.root / 'besu'})")
    elif args.action == "start":
        if not net.nodes:
            net.init()
        for line in net.start(wait_s=120):
            print(line)
        print(f"LEDGER_RPC_URL={','.join(net.urls)}")
    elif args.action == "stop":
        net.stop()
        print(f"stopped the nodes in {net.root}; their chains are kept")
    elif args.action == "urls":
        print(",".join(net.urls))
    elif args.action == "status":
        for org, (number, block_hash) in net.heads().items():
            print(f"{org}: block {number} {block_hash}")
    elif args.action == "add-node":
        spec = net.add_node(args.org)
        net.start([*net.nodes], wait_s=120)
        print(f"{spec.org}: {spec.url} full node, validator key {spec.validator}; vote it in with `propose`")
    elif args.action == "propose":
        address = net.nodes[args.org].validator if args.org in net.nodes else args.org
        for voter in args.voters.split(","):
            net.propose(voter, address, not args.remove)
        print(f"{args.voters} voted to {'remove' if args.remove else 'add'} {address}")


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("postgres", help="start (print its URL) or stop a PostgreSQL of our own in the data dir")
    p.add_argument("action", choices=["start", "stop"])
    p.add_argument("--port", type=int, default=5433)
    p.set_defaults(func=_cmd_postgres)
    p = sub.add_parser("network", help="the consortium's validator nodes (geth Clique) under the data dir")
    p.add_argument("action", choices=["init", "start", "stop", "status", "urls", "add-node", "propose"])
    p.add_argument("org", nargs="?", help="add-node: the new organisation; propose: it (or an address)")
    p.add_argument("--voters", default="platform,brands", help="propose: the signers who vote")
    p.add_argument("--remove", action="store_true", help="propose: vote the signer out")
    p.set_defaults(func=_cmd_network)
