"""`make bench`: every benchmark in one run on a fresh local anvil, each with its baseline
measured in the same run; prints each figure with its budget or target and writes
`bench/results.json` as {"metrics": {name: value}, "limits": {kind: {name: limit}}}.
Exits 1 if a budget (gas, bytes) or a ratio to a same-run baseline is missed; absolute speed
figures are printed for information, since these machines differ 2-3x in speed between days.

`python -m bench.run gas indexer` runs only the named parts. Each part runs in a process of its
own (`python -m bench.run --part NAME RPC_URL MANIFEST`, its figures as JSON on its last line of
output): a peak-memory figure is then its part's, never raised by an earlier part's (the in-memory
reconciliation of 1,000,000 orders held ~1 GB and the database one read that as its own peak).
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from ledger.devnet import node
from ledger.paths import ROOT

from . import (
    carbon,
    codes,
    console,
    consortium,
    epcis,
    epcis_binding,
    gas,
    indexer,
    iot,
    order_gas,
    peers,
    recon_db,
    reconcile,
    scan,
    settle,
    trace,
    zk,
)

RESULTS = Path(__file__).resolve().parent / "results.json"
PARTS = {
    "gas": gas,
    "orders": order_gas,
    "indexer": indexer,
    "reconcile": reconcile,
    "reconcile_db": recon_db,
    "settle": settle,
    "codes": codes,
    "epcis": epcis,
    "epcis_binding": epcis_binding,
    "scan": scan,
    "consortium": consortium,
    "console": console,
    "trace": trace,
    "carbon": carbon,
    "peers": peers,
    "zk": zk,
    "iot": iot,
}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


#: what each benchmark module may declare, and how it is judged
KINDS = {
    "BUDGETS": ("budget", "<="),  # absolute: gas, bytes (the same on any machine)
    "RATIO_TARGETS": ("target", ">="),  # speed, as a ratio to a baseline measured in the same run
    "RATIO_BUDGETS": ("budget", "<="),
    "TARGETS": ("info", ">="),  # absolute speed on the machine the figure was set on: printed only
    "INFO_BUDGETS": ("info", "<="),
}


def judge(metrics: dict[str, float], limits: dict[str, dict[str, float]]) -> tuple[list[str], list[str]]:
    """(lines to print, names that missed). Only BUDGETS and the RATIO_ kinds can miss: machines here
    differ 2-3x in speed between days, so absolute speed figures are information."""
    lines, missed = [], []
    width = max(map(len, metrics), default=0)
    for name, value in metrics.items():
        verdict = ""
        for kind, (word, op) in KINDS.items():
            if name not in limits.get(kind, {}):
                continue
            limit = limits[kind][name]
            ok = value <= limit if op == "<=" else value >= limit
            if word == "info":
                verdict = f"  (info: {op} {limit:,} on the reference machine{'' if ok else ', not here'})"
            else:
                verdict = f"  {word} {op} {limit:,}: {'ok' if ok else 'MISSED'}"
                if not ok:
                    missed.append(name)
        shown = f"{value:,.2f}" if isinstance(value, float) and not value.is_integer() else f"{int(value):,}"
        lines.append(f"{name:<{width}}  {shown:>14}{verdict}")
    return lines, missed


def _part(name: str, url: str, manifest: Path) -> dict[str, float]:
    """One part measured in a child process of its own (stderr passes through)."""
    out = subprocess.run([sys.executable, "-m", "bench.run", "--part", name, url, str(manifest)], cwd=ROOT,
                         env=os.environ, stdout=subprocess.PIPE, text=True, check=True)  # fmt: skip
    return json.loads(out.stdout.strip().splitlines()[-1])


def main(argv: list[str]) -> int:
    if argv[:1] == ["--part"]:  # in the child: measure one part, print its figures
        name, url, manifest = argv[1:4]
        print(json.dumps(PARTS[name].measure(url, Path(manifest))))
        return 0
    parts = argv or list(PARTS)
    metrics: dict[str, float] = {}
    limits: dict[str, dict[str, float]] = {kind: {} for kind in KINDS}
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    with tempfile.TemporaryDirectory() as tmp:
        proc = subprocess.Popen(node.anvil_command(port, None), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            node.wait_until_up(url)
            for name in parts:
                module = PARTS[name]
                started = time.perf_counter()
                metrics.update(_part(name, url, Path(tmp) / f"{name}.json"))
                for kind in KINDS:
                    limits[kind].update(getattr(module, kind, {}))
                print(f"[{name} took {time.perf_counter() - started:.1f} s]", file=sys.stderr)
        finally:
            proc.terminate()
            proc.wait(timeout=30)
    lines, missed = judge(metrics, limits)
    print("\n".join(lines))
    old = json.loads(RESULTS.read_text())["metrics"] if RESULTS.exists() and argv else {}
    RESULTS.write_text(json.dumps({"metrics": {**old, **metrics}, "limits": limits}, indent=1))
    print(f"wrote {RESULTS}")
    if missed:
        print(f"missed: {', '.join(missed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
