"""`ledger compliance prune --before DATE [--gtin G --lot L] [--dry-run]`: delete the trace records
of batches past their retention date (ledger.compliance.prune), refusing a named batch still within
it. Prints what was deleted and what stays, as JSON."""

from __future__ import annotations

import argparse
import json
from datetime import date

from ledger.errors import InvalidInput


def _gtin(value: str) -> str:
    from ledger.trace.gs1 import GtinError, normalize_gtin

    try:
        return normalize_gtin(value)
    except GtinError as exc:
        raise InvalidInput(f"--gtin: {exc}") from None


def _cmd(args: argparse.Namespace) -> None:
    from sqlalchemy.orm import Session

    from ledger.compliance import prune
    from ledger.store.db import make_engine, migrate

    try:
        before = date.fromisoformat(args.before)
    except ValueError:
        raise InvalidInput(f"--before {args.before!r}: expected a date, YYYY-MM-DD") from None
    if bool(args.gtin) != bool(args.lot):
        raise InvalidInput("--gtin and --lot go together (one batch), or neither (every batch)")
    engine = make_engine()
    migrate(engine)
    with Session(engine) as db:
        only = (_gtin(args.gtin), args.lot) if args.gtin else None
        done = prune.prune(db, before, only, dry_run=args.dry_run)
    print(json.dumps(done.as_json() | {"dry_run": args.dry_run}, indent=1, ensure_ascii=False))


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("compliance", help="trace records: prune those past their retention date")
    p.add_argument("action", choices=["prune"])
    p.add_argument("--before", required=True, help="delete records whose retention ended before this date (≤ today)")
    p.add_argument("--gtin", help="one batch only (with --lot): refused while it is within retention")
    p.add_argument("--lot")
    p.add_argument("--dry-run", action="store_true", help="say what would be deleted, delete nothing")
    p.set_defaults(func=_cmd)
