"""`ledger gov ...`: governance through the API, signed with the governor's own keystore key.

    python -m ledger gov proposals --keystore governor.json
    python -m ledger gov propose --keystore governor.json --reason "new tea farm" \\
        --action '{"type": "admit_member", "address": "0x...", "roles": ["producer"]}'
    python -m ledger gov approve 7 --keystore governor.json
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from ledger.errors import LedgerError
from ledger.paths import api_url

from .keys import _password, call, load_keystore


def _cmd_gov(args: argparse.Namespace) -> None:
    import httpx

    account = load_keystore(Path(args.keystore), _password())
    if args.action == "show":
        method, path, body = "GET", "/v1/governance", None
    elif args.action == "proposals":
        method, path, body = "GET", "/v1/governance/proposals", None
    elif args.action == "propose":
        if not args.json or not args.reason:
            raise LedgerError("propose needs --action JSON and --reason")
        try:
            action = json.loads(args.json)
        except ValueError as exc:
            raise LedgerError(f"--action is not JSON: {exc}") from None
        method, path, body = "POST", "/v1/governance/proposals", {"action": action, "reason": args.reason}
    else:
        if args.id is None:
            raise LedgerError("approve needs the proposal's id")
        method, path, body = "POST", f"/v1/governance/proposals/{args.id}/approvals", None
    with httpx.Client(base_url=args.url, timeout=120) as client:
        r = call(client, account, method, path, body)
    print(
        json.dumps(r.json(), indent=1) if r.headers.get("content-type", "").startswith("application/json") else r.text
    )
    if r.status_code >= 400:
        sys.exit(1)


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("gov", help="governance through the API, signed with your own keystore key")
    p.add_argument("action", choices=["show", "proposals", "propose", "approve"])
    p.add_argument("id", nargs="?", type=int, help="approve: the proposal's id")
    p.add_argument("--keystore", required=True)
    p.add_argument("--action", dest="json", help="propose: the action as JSON")
    p.add_argument("--reason", help="propose: why (recorded on chain)")
    p.add_argument("--url", default=api_url())
    p.set_defaults(func=_cmd_gov)
