"""`ledger zk build|deploy|anchor|verify`: the purchase proofs (docs/zk.md).

- build: the circuit's artefacts into build/zk (development powers-of-tau made once per machine)
- deploy: the generated verifier and PurchaseProofs, added to the deployment manifest; the
  development governors vote in its paying proven claims from GuaranteeVault
- anchor: add delivered purchases' commitments to the tree, zero refunded ones, anchor the root
- verify: recompute every anchored root from the chain's logs; exit 1 naming any wrong one not revoked
  (`--revoke`: the platform's key voids it on chain; `--confirm`: the auditor's key confirms each
  right one still unconfirmed, which claims and disputes need)
- ceremony: the members' phase-2 round and the phase-1 file's check (ledger/cli/zk_ceremony.py)"""

from __future__ import annotations

import argparse
import json
import sys


def _platform(label: str = "platform"):  # type: ignore[no-untyped-def]
    """The deployment and the development member `label`'s sender."""
    from ledger.chain.client import connect, dev_accounts
    from ledger.chain.deploy import attach

    dep = attach(connect())
    index = dep.manifest["members"][label]["account_index"]
    return dep, dep.sender(dev_accounts(index + 1)[index])


def _cmd(args: argparse.Namespace) -> None:
    from ledger.privacy import build, onchain, tree

    if args.action == "ceremony":
        from . import zk_ceremony

        zk_ceremony.main(args.rest)
        return
    extra = set(args.rest) - {"--confirm", "--revoke", "--force"}
    if extra:  # after the action, argparse leaves every word to `rest` (the ceremony's)
        sys.exit(f"ledger zk {args.action}: unknown arguments {' '.join(sorted(extra))}")
    for flag in ("confirm", "revoke", "force"):
        setattr(args, flag, getattr(args, flag) or f"--{flag}" in args.rest)
    if args.action == "build":
        m = build.build(force=args.force)
        print(json.dumps({k: m[k] for k in ("constraints", "depth", "ptau", "contributions", "sha256")}, indent=1))
        return
    dep, platform = _platform()
    if args.action == "deploy":
        for name, addr in onchain.deploy(dep, platform).items():
            print(f"  {name:16} {addr}")
        from ledger.chain.client import dev_accounts
        from ledger.chain.deploy import GOVERNOR_INDEXES

        accounts = dev_accounts(max(GOVERNOR_INDEXES) + 1)  # the development governors vote it in
        onchain.wire_claims(dep, [dep.sender(accounts[i]) for i in GOVERNOR_INDEXES])
        print(f"  claims paid from GuaranteeVault, a root pays {onchain.DEV_CLAIM_DELAY_S} s after its anchor")
        return
    if args.action == "anchor":
        from sqlalchemy.orm import Session

        from ledger.store.db import make_engine, migrate

        engine = make_engine()
        migrate(engine)
        with Session(engine) as db:
            print(json.dumps(tree.anchor(db, dep, platform) or {"added": 0, "zeroed": 0}))
        return
    checked = tree.verify_roots(dep)
    wrong = [r for r in checked if not r["ok"] and not r["revoked"]]  # one revoked already proves nothing
    for r in wrong:
        print(f"anchor {r['seq']}: root {r['root']} is wrong: the logs give {r['expected']}", file=sys.stderr)
        if args.revoke:
            c = dep.contract("PurchaseProofs")
            platform.transact(c.functions.revokeRoot(int(r["root"])))
            print(f"anchor {r['seq']}: root revoked on chain", file=sys.stderr)
    right = sum(r["ok"] for r in checked)
    print(f"{right} of {len(checked)} purchase roots recomputed from the logs and found right, {len(wrong)} wrong")
    if args.confirm:
        _, auditor = _platform("auditor")
        done = tree.confirm_roots(dep, auditor)
        print(f"{len(done['confirmed'])} root(s) confirmed on chain by the auditor {auditor.address}")
    if wrong:
        sys.exit(1)


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("zk", help="shoppers' purchase proofs: build, deploy, anchor the tree, verify its roots")
    p.add_argument("action", choices=["build", "deploy", "anchor", "verify", "ceremony"])
    p.add_argument("rest", nargs=argparse.REMAINDER, help="ceremony: its step and arguments (ledger zk ceremony -h)")
    p.add_argument("--force", action="store_true", help="build: rebuild the circuit's artefacts")
    p.add_argument("--revoke", action="store_true", help="verify: void a wrong root on chain")
    p.add_argument("--confirm", action="store_true", help="verify: confirm the right roots with the auditor's key")
    p.set_defaults(func=_cmd)
