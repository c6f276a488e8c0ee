"""`ledger verify-footprint <uri>`: fetch a footprint's evidence from the service that published
it and check it against a chain node (ledger.carbon.verify); exit 1 when anything fails. `<uri>`:
the batch's GS1 Digital Link (its current footprint), or a footprint's URL
(`.../pact/3/footprints/<id>` or `.../v1/carbon/footprints/<id>`)."""

from __future__ import annotations

import argparse
import re
import sys
from urllib.parse import urlsplit

from ledger.errors import InvalidInput, LedgerError

_DL = re.compile(r"/01/(\d{14})/10/([^/?#]{1,20})")
_ID = re.compile(r"/(?:pact/3|v1/carbon)/footprints/([0-9a-fA-F-]{36})")


def evidence_url(uri: str, service: str | None = None) -> str:
    parts = urlsplit(uri)
    base = (service or f"{parts.scheme}://{parts.netloc}").rstrip("/")
    if m := _ID.search(parts.path):
        return f"{base}/v1/carbon/footprints/{m.group(1)}/evidence"
    if m := _DL.search(parts.path):
        return f"{base}/v1/carbon/batches/{m.group(1)}/{m.group(2)}/evidence"
    raise InvalidInput(f"{uri}: neither a batch's GS1 Digital Link (/01/<GTIN>/10/<lot>) nor a footprint's URL")


def _cmd(args: argparse.Namespace) -> None:
    import httpx

    from ledger.carbon.verify import verify_evidence
    from ledger.chain.client import connect
    from ledger.chain.deploy import attach

    url = evidence_url(args.uri, args.service)
    r = httpx.get(url, timeout=30)
    if r.status_code != 200:
        raise LedgerError(f"{url} answered {r.status_code}: {r.text[:160]}")
    checks = verify_evidence(attach(connect(args.rpc)), r.json())
    for c in checks:
        print(f"{'ok  ' if c.ok else 'FAIL'}  {c.name}: {c.detail}")
    if not all(c.ok for c in checks):
        sys.exit(1)


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "verify-footprint", help="recompute a batch's carbon footprint from Merkle-proven inputs, against the chain"
    )
    p.add_argument("uri", help="the batch's GS1 Digital Link, or a footprint's URL")
    p.add_argument("--service", help="where to fetch the evidence (default: the URI's own host)")
    p.add_argument("--rpc", help="the node to check against, e.g. your own (default: LEDGER_RPC_URL)")
    p.set_defaults(func=_cmd)
