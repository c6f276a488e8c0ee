"""`python -m bench.soak [--seconds N] [--seed S]`: one soak run; prints the seed, each fault with
its recovery time, the figures and every problem found; exits 1 if any. `make soak` runs 10 minutes;
the test suite runs a short one. `--seed` replays a run's faults and its clients' choices (the
interleaving of requests with faults follows the machine's timing, so it is close, not identical).
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from .checks import check, drain
from .faults import Injector
from .load import Load
from .stack import Stack

LOGS = Path(__file__).resolve().parents[2] / "build" / "soak-logs"


def _p99(values: list[float]) -> float | None:
    if not values:
        return None
    values = sorted(values)
    return values[min(len(values) - 1, int(0.99 * len(values)))]


def soak(seconds: float, seed: int, out: Path | None = None, logs: Path = LOGS) -> tuple[list[str], dict[str, Any]]:
    print(f"soak: seed {seed}, {seconds:.0f} s of load with faults; logs in {logs}", flush=True)
    shutil.rmtree(logs, ignore_errors=True)
    with tempfile.TemporaryDirectory(prefix="soak-") as tmp:
        Path(tmp).chmod(0o755)  # PostgreSQL runs as its own user
        stack = Stack(Path(tmp) / "stack", logs)
        try:
            stack.start()
            load = Load(stack, seed)
            load.prepare()
            injector = Injector(stack, seed, seconds)
            stop, abort = threading.Event(), threading.Event()
            t0 = time.monotonic()
            clients = threading.Thread(target=load.run, args=(stop,), daemon=True)
            clients.start()
            injector.run(abort)  # every scheduled fault, however long the earlier ones took
            time.sleep(max(0.0, seconds - (time.monotonic() - t0)))
            stop.set()
            clients.join()
            elapsed = time.monotonic() - t0
            drain(stack, load.journal, load.headers)
            problems, figures = check(stack, load.journal)
        finally:
            stack.stop()
    acked = sum(1 for o in load.journal.outcomes if o.outcome == "ack")
    recoveries = [f.recovery_s for f in injector.faults if f.recovery_s is not None]
    figures.update(
        {
            "seed": seed,
            "seconds": round(elapsed, 1),
            "requests": load.journal.requests,
            "acknowledged_per_s": round(acked / elapsed, 1),
            "faults": [vars(f) for f in injector.faults],
            "recovery_p99_s": _p99(recoveries),
            "recovery_max_s": max(recoveries, default=None),
            "restarts": stack.restarts,
            "not_acknowledged": [vars(o) for o in load.journal.outcomes if o.outcome != "ack"],
        }
    )
    for f in injector.faults:
        problems += [f"{f.kind} at {f.at_s} s: {f.detail}"] if "not recovered" in f.detail else []
    if out is not None:
        out.write_text(json.dumps({"problems": problems, "figures": figures}, indent=1, default=str))
    return problems, figures


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.soak", description=__doc__.split("\n\n")[0])
    p.add_argument("--seconds", type=float, default=600)
    p.add_argument("--seed", type=int, default=None)
    p.add_argument("--out", type=Path, default=None, help="write figures and problems here (JSON)")
    args = p.parse_args(argv)
    seed = args.seed if args.seed is not None else random.SystemRandom().randrange(1, 10**6)
    problems, figures = soak(args.seconds, seed, args.out)
    for f in figures["faults"]:
        print(f"  {f['at_s']:7.1f} s  {f['kind']:<17} {f['detail']}  recovered in {f['recovery_s']} s")
    for name in ("outcomes", "requests", "scans", "acknowledged_per_s", "acknowledged_writes_lost", "duplicates",
                 "recovery_p99_s", "recovery_max_s", "restarts", "reconciliation"):  # fmt: skip
        print(f"  {name}: {figures.get(name)}")
    for line in problems:
        print(f"PROBLEM: {line}")
    print(f"soak: seed {seed}: {'ok' if not problems else f'{len(problems)} problem(s)'}")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
