"""`ledger worker`: the background loops (anchorer, webhooks, code-issue catch-up) in a process of
their own (`ledger.worker`)."""

from __future__ import annotations

import argparse
import sys


def _cmd_worker(args: argparse.Namespace) -> None:
    from ledger.worker.process import main

    sys.exit(main())


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "worker",
        help="run the background loops (anchorer, webhooks, code-issue catch-up), one leader per loop "
        "among all workers of the deployment; SIGTERM stops it",
    )
    p.set_defaults(func=_cmd_worker)
