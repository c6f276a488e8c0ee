"""The short soak (`make soak` runs the long one): a mixed load through the API while every kind
of fault is injected once or more, then every acknowledged write is found exactly once on chain and
in the tables, nothing half-written, the contracts' balances hold and reconciliation is clean.

The seed is printed (and `LEDGER_SOAK_SEED` replays it). Filling the data filesystem needs a tmpfs
of the run's own, so root; elsewhere that fault is left out and the test says so."""

from __future__ import annotations

import os
import random

from bench.soak.__main__ import soak
from bench.soak.faults import KINDS


def test_faults_under_load_lose_nothing_and_do_nothing_twice(tmp_path):
    seed = int(os.environ.get("LEDGER_SOAK_SEED") or random.SystemRandom().randrange(1, 10**6))
    print(f"soak seed {seed} (LEDGER_SOAK_SEED={seed} replays it)")
    problems, figures = soak(60, seed, tmp_path / "soak.json", tmp_path / "logs")
    assert not problems, f"seed {seed}: {problems}"
    kinds = {f["kind"] for f in figures["faults"]}
    expected = set(KINDS) if os.geteuid() == 0 else set(KINDS) - {"fill_disk"}
    assert kinds == expected, f"seed {seed}: faults injected {kinds}"
    assert all(f["recovery_s"] is not None for f in figures["faults"])
    assert figures["acknowledged_writes_lost"] == 0 and figures["duplicates"] == 0
    assert figures["reconciliation"] == "reconciled"
    acked = {k: v.get("ack", 0) for k, v in figures["outcomes"].items()}
    assert all(acked.get(k, 0) > 0 for k in ("capture", "codes", "scan", "order", "delivery", "deposit")), acked
