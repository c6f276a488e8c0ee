"""The `ledger` command line. Errors print one line and exit 1."""

from __future__ import annotations

import argparse
import json
import os
import sys

from ledger.errors import LedgerError
from ledger.paths import api_url


def _cmd_compile(args: argparse.Namespace) -> None:
    from ledger.chain.compiler import BUILD_DIR, compile_contracts

    arts = compile_contracts(force=args.force)
    print(f"compiled {len(arts)} contracts into {BUILD_DIR}")


def _cmd_node(args: argparse.Namespace) -> None:
    from ledger.chain.client import rpc_url
    from ledger.devnet import node

    print(node.start(rpc_url()) if args.action == "start" else node.stop())


def _cmd_deploy(args: argparse.Namespace) -> None:
    from ledger.chain.client import connect
    from ledger.chain.deploy import deploy
    from ledger.paths import manifest_path

    dep, new = deploy(connect(), fresh=args.fresh)
    verb = "deployed" if new else "reusing deployment"
    print(f"{verb} on chain {dep.manifest['chain_id']}; manifest {manifest_path()}")
    for name, c in dep.manifest["contracts"].items():
        print(f"  {name:16} {c['address']}")


def _cmd_migrate(args: argparse.Namespace) -> None:
    from ledger.store.db import database_url, make_engine, migrate

    migrate(make_engine())
    print(f"database schema up to date: {database_url().split('@')[-1]}")


def _cmd_signin(args: argparse.Namespace) -> None:
    """Sign in to a running API as a development member; print the session token."""
    from datetime import UTC, datetime, timedelta

    import httpx
    from eth_account import Account
    from eth_account.messages import encode_defunct

    from ledger.access import siwe
    from ledger.chain.client import dev_accounts
    from ledger.chain.deploy import load_manifest

    member = load_manifest()["members"].get(args.member)
    if member is None:
        raise LedgerError(f"no bootstrap member {args.member!r} in the manifest")
    account = dev_accounts(20)[member["account_index"]]
    try:
        nonce = httpx.get(f"{args.url}/v1/auth/nonce", timeout=10).json()
    except httpx.HTTPError as exc:
        raise LedgerError(f"no API answers at {args.url} ({type(exc).__name__}); is it running? (--url)") from None
    except ValueError:
        raise LedgerError(f"{args.url} is not the ledger API (its /v1/auth/nonce is not JSON); see --url") from None
    now = datetime.now(UTC)
    message = siwe.build(
        domain=nonce["domain"],
        address=account.address,
        uri=args.url,
        chain_id=nonce["chain_id"],
        nonce=nonce["nonce"],
        issued_at=now,
        expiration_time=now + timedelta(minutes=10),
    )
    signature = "0x" + Account.sign_message(encode_defunct(text=message), account.key).signature.hex()
    try:
        r = httpx.post(f"{args.url}/v1/auth/login", json={"message": message, "signature": signature}, timeout=10)
    except httpx.HTTPError as exc:
        raise LedgerError(f"the API at {args.url} stopped answering ({type(exc).__name__})") from None
    if r.status_code != 200:
        raise LedgerError(f"sign-in refused ({r.status_code}): {r.json().get('detail')}")
    print(r.json()["token"])


def _cmd_index(args: argparse.Namespace) -> None:
    from ledger.chain.client import connect
    from ledger.chain.deploy import attach
    from ledger.chain.indexer import Indexer
    from ledger.store.db import make_engine, migrate

    engine = make_engine()
    migrate(engine)
    idx = Indexer(attach(connect()), engine, confirmations=args.confirmations, batch_blocks=args.batch_blocks)
    totals = idx.run(follow=args.follow, poll_s=args.poll)
    print(
        f"indexed {totals['indexed']} events up to block {idx.checkpoint()}; "
        f"{totals['finalized']} finalized, {totals['rolled_back']} rolled back by reorgs"
    )


def _cmd_reconcile(args: argparse.Namespace) -> None:
    from pathlib import Path

    from ledger.money.recon import pages as recon_pages
    from ledger.money.recon.inputs import chain_records, orders_from_csv, orders_from_db
    from ledger.money.recon.reconcile import reconcile
    from ledger.store.db import make_engine, migrate

    engine = make_engine()
    migrate(engine)
    if args.run:
        from ledger.chain.client import connect
        from ledger.chain.deploy import attach
        from ledger.money.recon import runs as recon_runs

        dep = attach(connect())
        with open(args.orders_csv or os.devnull, newline="", encoding="utf-8") as f:  # streamed, not read whole
            csv_in = f if args.orders_csv else None
            r = recon_runs.run(engine, dep, orders_csv=csv_in, cut_off=args.cut_off, confirmations=args.confirmations)
        print(f"run {r.id} (after {r.previous_id}): {r.verdict} at block {r.cut_off_block}; inputs {r.inputs_sha256}")
        for reason in json.loads(r.reasons):
            print(f"  {reason['reason']}: {reason['detail']}")
        sys.exit(0 if r.verdict.startswith("reconciled") else 1)
    orders = orders_from_csv(Path(args.orders_csv).read_text()) if args.orders_csv else orders_from_db(engine)
    report = reconcile(orders, chain_records(engine))
    text = {"json": report.to_json, "csv": report.to_csv, "html": lambda: recon_pages.orders_page(report, args.lang)}[
        args.format
    ]()
    if args.out:
        Path(args.out).write_text(text)
        t = report.totals
        print(f"wrote {args.out}: " + ", ".join(f"{c} {v['count']}" for c, v in t.items() if v["count"]))
    else:
        print(text, end="")


def _cmd_verify(args: argparse.Namespace) -> None:
    from urllib.parse import urlsplit

    import httpx

    from ledger.chain.client import connect
    from ledger.chain.deploy import attach
    from ledger.trace.verify import verify_code

    base = args.resolver or "{0.scheme}://{0.netloc}".format(urlsplit(args.uri))

    def fetch(link):  # type: ignore[no-untyped-def]
        url = f"{base}/v1/proofs/{link.key_path}"
        r = httpx.get(url, params={"t": link.params["t"]} if "t" in link.params else None, timeout=10)
        if r.status_code != 200:
            raise LedgerError(f"{url} answered {r.status_code}: {r.text[:120]}")
        return r.json()

    checks = verify_code(attach(connect(args.rpc)), args.uri, fetch)
    for c in checks:
        print(f"{'ok  ' if c.ok else 'FAIL'}  {c.name}: {c.detail}")
    if not all(c.ok for c in checks):
        sys.exit(1)


def _cmd_verify_events(args: argparse.Namespace) -> None:
    from pathlib import Path

    import httpx

    from ledger.chain.client import connect
    from ledger.chain.deploy import attach
    from ledger.trace.epcis import reading
    from ledger.trace.epcis.verify import verify_events

    def fetch(digest: str) -> dict:
        url = f"{args.resolver}/v1/epcis/proofs/{digest}"
        r = httpx.get(url, timeout=10)
        if r.status_code == 404:
            return {"status": "unknown to the service"}
        if r.status_code != 200:
            raise LedgerError(f"{url} answered {r.status_code}: {r.text[:120]}")
        return r.json()

    doc = reading.parse(Path(args.file).read_bytes())
    checks = verify_events(doc, attach(connect(args.rpc)), fetch)
    for c in checks:
        print(f"{'ok  ' if c.ok else 'FAIL'}  {c.name}: {c.detail}")
    if not checks or not all(c.ok for c in checks):
        sys.exit(1)


def _cmd_anchor(args: argparse.Namespace) -> None:
    from ledger.chain.client import connect, dev_accounts
    from ledger.chain.deploy import attach
    from ledger.paths import data_dir
    from ledger.store.db import make_engine, migrate, session_factory
    from ledger.store.locks import Locks
    from ledger.trace.epcis.anchoring import Anchorer

    dep = attach(connect())
    engine = make_engine()
    migrate(engine)
    index = dep.manifest["members"]["platform"]["account_index"]
    sender = dep.sender(dev_accounts(index + 1)[index])
    locks = Locks(engine, data_dir())  # takes turns with a running API's or worker's anchorer
    sender.nonce_lock = lambda address: locks.exclusive(f"nonces/{address.lower()}")
    anchors = Anchorer(session_factory(engine), lambda: dep, lambda: sender, locks=locks).drain()
    for a in anchors:
        print(f"anchored {a.leaf_count} events in root {a.root} (tx {a.tx_hash}, block {a.block_number})")
    print(f"{len(anchors)} roots anchored")


def _cmd_contracts(args: argparse.Namespace) -> None:
    from ledger.chain.deploy import load_manifest

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
    p = sub.add_parser("migrate", help="apply database migrations (LEDGER_DATABASE_URL)")
    p.set_defaults(func=_cmd_migrate)
    p = sub.add_parser("signin", help="development: sign in to the API as a bootstrap member, print a token")
    p.add_argument("member", help="merchant_a, merchant_b, auditor, platform, producer, ...")
    p.add_argument("--url", default=api_url(), help="the API (default: LEDGER_RESOLVER_URL, as make run serves it)")
    p.set_defaults(func=_cmd_signin)
    p = sub.add_parser("index", help="index contract events into the database (exactly once, reorg-safe)")
    p.add_argument("--follow", action="store_true", help="keep polling for new blocks")
    p.add_argument("--confirmations", type=int, default=6, help="blocks deep before an event is final")
    p.add_argument("--batch-blocks", type=int, default=2000, help="blocks per eth_getLogs range")
    p.add_argument("--poll", type=float, default=1.0, help="seconds between polls with --follow")
    p.set_defaults(func=_cmd_index)
    p = sub.add_parser("reconcile", help="match orders against indexed on-chain settlement")
    p.add_argument(
        "--orders-csv",
        help="orders export (order_id, merchant, amount_fen, status, referrers, time); default: the orders table",
    )
    p.add_argument("--format", choices=["json", "csv", "html"], default="json")
    p.add_argument("--lang", choices=["en", "zh"], default="en", help="the HTML report's language")
    p.add_argument("--out", help="write the report here instead of standard output")
    p.add_argument("--run", action="store_true", help="a stored run: cut-off, verdict, balances, breaks across runs")
    p.add_argument("--cut-off", type=int, help="with --run: the cut-off block (default: as far as indexed)")
    p.add_argument("--confirmations", type=int, default=6, help="with --run: the indexer's confirmations")
    p.set_defaults(func=_cmd_reconcile)
    from ledger.cli import backup, carbon, compliance, gov, keys, money, network, orders, recon, servers, worker, zk

    for module in (money, orders, backup, recon, compliance, carbon, zk, keys, gov, network, servers, worker):
        module.add_parser(sub)
    p = sub.add_parser("verify", help="check a scanned code against the chain (signature, anchor, proof, recall)")
    p.add_argument("uri", help="the GS1 Digital Link URI from the QR code")
    p.add_argument("--resolver", help="where to fetch the Merkle path (default: the URI's own host)")
    p.add_argument("--rpc", help="the node to check against, e.g. your own (default: LEDGER_RPC_URL)")
    p.set_defaults(func=_cmd_verify)
    p = sub.add_parser("verify-events", help="check EPCIS events (a document or event file) against the chain")
    p.add_argument("file")
    p.add_argument("--resolver", default=api_url(), help="where to fetch Merkle paths (default: LEDGER_RESOLVER_URL)")
    p.add_argument("--rpc", help="the node to check against, e.g. your own (default: LEDGER_RPC_URL)")
    p.set_defaults(func=_cmd_verify_events)
    p = sub.add_parser("anchor", help="anchor every pending EPCIS event now (signed by the platform operator)")
    p.set_defaults(func=_cmd_anchor)
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
