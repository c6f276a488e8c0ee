"""The `ledger` command line. Errors print one line and exit 1."""

from __future__ import annotations

import argparse
import json
import sys

from .errors import LedgerError


def _cmd_compile(args: argparse.Namespace) -> None:
    from .compiler import BUILD_DIR, compile_contracts

    arts = compile_contracts(force=args.force)
    print(f"compiled {len(arts)} contracts into {BUILD_DIR}")


def _cmd_node(args: argparse.Namespace) -> None:
    from . import node
    from .chain import rpc_url

    print(node.start(rpc_url()) if args.action == "start" else node.stop())


def _cmd_deploy(args: argparse.Namespace) -> None:
    from .chain import connect
    from .deploy import deploy
    from .paths import manifest_path

    dep, new = deploy(connect(), fresh=args.fresh)
    verb = "deployed" if new else "reusing deployment"
    print(f"{verb} on chain {dep.manifest['chain_id']}; manifest {manifest_path()}")
    for name, c in dep.manifest["contracts"].items():
        print(f"  {name:16} {c['address']}")


def _cmd_contracts(args: argparse.Namespace) -> None:
    from .deploy import load_manifest

    m = load_manifest()
    print(json.dumps({n: c["address"] for n, c in m["contracts"].items()}, indent=1))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="ledger", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("compile", help="compile contracts/ into build/ledger")
    p.add_argument("--force", action="store_true")
    p.set_defaults(func=_cmd_compile)
    p = sub.add_parser("node", help="start or stop the local anvil node")
    p.add_argument("action", choices=["start", "stop"])
    p.set_defaults(func=_cmd_node)
    p = sub.add_parser("deploy", help="deploy the contracts (reuses the manifest's deployment)")
    p.add_argument("--fresh", action="store_true", help="deploy anew even if a manifest exists")
    p.set_defaults(func=_cmd_deploy)
    p = sub.add_parser("contracts", help="print the deployed addresses")
    p.set_defaults(func=_cmd_contracts)
    args = parser.parse_args(argv)
    try:
        args.func(args)
    except LedgerError as exc:
        print(f"ledger: {exc}", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
