"""`ledger recon runs|show|breaks|report`: reading stored reconciliation runs from the database
(`ledger reconcile --run` makes one): the runs with their verdicts, one run as JSON, its breaks as
CSV, or its report as HTML in Chinese or English."""

from __future__ import annotations

import argparse
import json
import sys


def _cmd(args: argparse.Namespace) -> None:
    from sqlalchemy import select
    from sqlalchemy.orm import Session

    from ledger.money.recon import pages as recon_pages
    from ledger.money.recon import report as recon_report
    from ledger.store.db import make_engine, migrate
    from ledger.store.models import ReconRun

    engine = make_engine()
    migrate(engine)
    with Session(engine) as db:
        if args.action == "runs":
            for r in db.scalars(select(ReconRun).order_by(ReconRun.id.desc()).limit(args.limit)):
                out = recon_report.run_out(db, r)
                print(f"{r.id:>5}  {r.created_at:%Y-%m-%d %H:%M}  block {r.cut_off_block:>9}  {r.verdict:<24} "
                      f"{r.source:<13} breaks new {out['breaks']['new']}, persisting {out['breaks']['persisting']}, "
                      f"resolved {out['breaks']['resolved']}")  # fmt: skip
            return
        run = db.get(ReconRun, args.run) if args.run else None
        if run is None:
            sys.exit(f"no reconciliation run {args.run}")
        if args.action == "show":
            text = json.dumps(recon_report.run_out(db, run), indent=1, ensure_ascii=False)
        elif args.action == "breaks":
            text = recon_report.breaks_csv(recon_report.breaks_of_run(db, run.id))
        else:
            text = recon_pages.run_page(db, run, args.lang)
    if args.out:
        with open(args.out, "w", encoding="utf-8") as f:
            f.write(text)
        print(f"wrote {args.out}")
    else:
        print(text)


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("recon", help="stored reconciliation runs: list them, show one, its breaks (CSV), its report")
    p.add_argument("action", choices=["runs", "show", "breaks", "report"])
    p.add_argument("run", nargs="?", type=int, help="the run (show, breaks, report)")
    p.add_argument("--limit", type=int, default=20)
    p.add_argument("--lang", choices=["en", "zh"], default="en")
    p.add_argument("--out", help="write here instead of standard output")
    p.set_defaults(func=_cmd)
