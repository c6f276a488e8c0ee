"""`make bench`: every benchmark in one run on a fresh local anvil, each with its baseline
measured in the same run; prints each figure with its budget or target and writes
`bench/results.json` as {"metrics": {name: value}, "budgets": {...}, "targets": {...}}.
Exits 1 if a gas budget is exceeded or a throughput target is missed.

`python -m bench.run gas indexer` runs only the named parts.
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from ledger.chain import node

from . import codes, epcis, gas, indexer, reconcile, scan, settle

RESULTS = Path(__file__).resolve().parent / "results.json"
PARTS = {
    "gas": gas,
    "indexer": indexer,
    "reconcile": reconcile,
    "settle": settle,
    "codes": codes,
    "epcis": epcis,
    "scan": scan,
}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main(argv: list[str]) -> int:
    parts = argv or list(PARTS)
    metrics: dict[str, float] = {}
    budgets: dict[str, int] = {}
    targets: dict[str, int] = {}
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    with tempfile.TemporaryDirectory() as tmp:
        proc = subprocess.Popen(node.anvil_command(port, None), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            node.wait_until_up(url)
            for name in parts:
                module = PARTS[name]
                started = time.perf_counter()
                metrics.update(module.measure(url, Path(tmp) / f"{name}.json"))
                budgets.update(getattr(module, "BUDGETS", {}))
                targets.update(getattr(module, "TARGETS", {}))
                print(f"[{name} took {time.perf_counter() - started:.1f} s]", file=sys.stderr)
        finally:
            proc.terminate()
            proc.wait(timeout=30)
    failed = []
    width = max(map(len, metrics))
    for name, value in metrics.items():
        verdict = ""
        if name in budgets:
            ok = value <= budgets[name]
            verdict = f"  budget <= {budgets[name]:,}: {'ok' if ok else 'OVER'}"
        elif name in targets:
            ok = value >= targets[name]
            verdict = f"  target >= {targets[name]:,}: {'ok' if ok else 'MISSED'}"
        else:
            ok = True
        if not ok:
            failed.append(name)
        shown = f"{value:,.2f}" if isinstance(value, float) and not value.is_integer() else f"{int(value):,}"
        print(f"{name:<{width}}  {shown:>14}{verdict}")
    old = json.loads(RESULTS.read_text())["metrics"] if RESULTS.exists() and argv else {}
    RESULTS.write_text(json.dumps({"metrics": {**old, **metrics}, "budgets": budgets, "targets": targets}, indent=1))
    print(f"wrote {RESULTS}")
    if failed:
        print(f"missed: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
