"""`ledger postgres ...`: a PostgreSQL of our own under the data directory (the consortium's
nodes: `ledger.cli.network`)."""

from __future__ import annotations

import argparse


def _cmd_postgres(args: argparse.Namespace) -> None:
    from ledger.devnet.servers import LocalPostgres
    from ledger.paths import data_dir

    server = LocalPostgres(data_dir() / "postgresql", args.port)
    if args.action == "start":
        print(server.start())
    else:
        server.stop()
        print(f"stopped PostgreSQL in {server.data}")


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("postgres", help="start (print its URL) or stop a PostgreSQL of our own in the data dir")
    p.add_argument("action", choices=["start", "stop"])
    p.add_argument("--port", type=int, default=5433)
    p.set_defaults(func=_cmd_postgres)
