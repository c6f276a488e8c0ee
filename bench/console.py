"""First paint of the console's pages with 10,000 orders and 100,000 codes in the database, in a
real browser (Debian chromium, npm playwright-core), p95 over repeated loads of each page.

Per load two moments, from navigation start: the first contentful paint, and the meaningful paint
(the page shows its data: the merchant's deposit, orders and products; the auditor's on-chain
records, runs and audit log; the governor's proposals, members and parameters). Baseline, same run,
same chain and browser: the same pages served from an empty database. The issue's target is an
absolute 1 s (printed for information, as every absolute speed here); the budget is the ratio of
the loaded database's p95 to the empty one's.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
from contextlib import ExitStack
from pathlib import Path

import httpx

from ledger.access import keystore as keystore_file
from ledger.paths import ROOT

from .fresh import fresh_deployment
from .server import free_port, login, ok, served

ORDERS, CODES, ISSUE, BATCH, REPS, ROUNDS = 10_000, 100_000, 10_000, 500, 10, 2
INFO_BUDGETS = {"console.meaningful_paint_p95_ms": 1000, "console.first_paint_p95_ms": 1000}
RATIO_BUDGETS = {"ratio.console_paint_loaded_vs_empty_p95": 1.5}
PASSWORD = "bench"
READY = {
    "signin": ["#keystore-form"],
    "merchant": ["#deposit dd", "#orders tbody tr td", "#products tbody tr td", "#payouts dd"],
    "auditor": ["#records tbody tr td", "#recon tbody tr td", "#audit tbody tr td"],
    "governor": ["#proposals tbody tr td", "#members tbody tr td", "#parameters dd"],
}


def _populate(base: str, members: dict) -> None:
    """10,000 orders escrowed through the API in batches and 100,000 codes issued for one batch."""
    merchant, platform = login(base, members["merchant_a"]), login(base, members["platform"])
    with httpx.Client(base_url=base, timeout=600) as c:
        ok(c.post("/v1/products", json={"gtin": "06901234567892", "name": "bench tea"}, headers=merchant))
        ok(c.post("/v1/batches", json={"gtin": "06901234567892", "lot": "CONSOLE"}, headers=merchant))
        for _ in range(CODES // ISSUE):
            ok(c.post("/v1/batches/06901234567892/CONSOLE/codes", json={"count": ISSUE}, headers=merchant))
        payees = [members["merchant_a"].address, members["merchant_b"].address]
        for b in range(ORDERS // BATCH):
            orders = [
                {"order_id": f"C-{b:03d}-{i:04d}", "merchant": payees[i % 2], "amount_fen": 1_000 + i}
                for i in range(BATCH)
            ]
            ok(c.post("/v1/orders/batch", json={"orders": orders}, headers={**platform, "Idempotency-Key": f"c{b}"}))


def _paint(base: str, specs: list[dict]) -> dict[str, dict[str, list[float]]]:
    """Each page painted REPS times in chromium: its first and meaningful paints, in ms."""
    node, chromium = shutil.which("node"), shutil.which("chromium") or "/usr/bin/chromium"
    if not node or not os.path.exists(chromium):
        raise RuntimeError("the console benchmark needs node and Debian chromium (`make bench` installs them)")
    out = subprocess.run(
        [node, str(ROOT / "bench" / "console_paint.mjs"), base, str(REPS), json.dumps(specs)],
        capture_output=True, text=True, timeout=900, cwd=ROOT, env={**os.environ, "CHROMIUM": chromium}, check=False,
    )  # fmt: skip
    if out.returncode:
        raise RuntimeError(f"console_paint.mjs failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout)


def _p95(values: list[float]) -> float:
    ordered = sorted(v for v in values if v is not None)
    return ordered[min(len(ordered) - 1, int(round(0.95 * (len(ordered) - 1))))]


def measure(url: str, manifest: Path) -> dict[str, float]:
    _, dep, accounts, who = fresh_deployment(url, manifest)
    members = {label: accounts[m["account_index"]] for label, m in dep.manifest["members"].items()}
    token = dep.contract("SettlementToken")
    who["issuer"].transact(token.functions.mint(members["platform"].address, 10**13))
    governor = next(a for a in accounts if a.address in dep.manifest["governance"]["governors"])
    roles = {"merchant": members["merchant_a"], "auditor": members["auditor"], "governor": governor}
    with tempfile.TemporaryDirectory() as tmp:
        keystores = {}
        for page, account in roles.items():
            path = Path(tmp) / f"{page}.json"
            path.write_text(json.dumps(keystore_file.seal(account.key, PASSWORD, kdf="scrypt", iterations=2**14)))
            keystores[page] = str(path)
        specs = [{"page": "signin", "ready": READY["signin"]}] + [
            {"page": p, "keystore": keystores[p], "password": PASSWORD, "ready": READY[p]} for p in roles
        ]
        with ExitStack() as stack:
            bases = {}
            for name, fill in (("empty", False), ("loaded", True)):
                port = free_port()
                bases[name] = stack.enter_context(
                    served(url, manifest, f"console-{name}", port, LEDGER_ANCHOR_INTERVAL="0")
                )
                if fill:
                    _populate(bases[name], members)
                _seed_views(bases[name], members, governor, dep, manifest.parent / f"console-{name}.sqlite3")
            # empty and loaded painted in turns, so that a change in the machine's load between the
            # two (seen: another job starting) falls on both sides of the ratio
            paints: dict[str, dict[str, dict[str, list[float]]]] = {"empty": {}, "loaded": {}}
            for _ in range(ROUNDS):
                for name, base in bases.items():
                    for page, series in _paint(base, specs).items():
                        for kind, values in series.items():
                            paints[name].setdefault(page, {}).setdefault(kind, []).extend(values)
    loaded = {k: _p95(v["meaningful"]) for k, v in paints["loaded"].items()}
    empty = {k: _p95(v["meaningful"]) for k, v in paints["empty"].items()}
    fcp = max(_p95(v["fcp"]) for v in paints["loaded"].values())
    worst = max(loaded, key=loaded.get)
    out = {f"console.{page}_meaningful_p95_ms": round(ms, 1) for page, ms in loaded.items()}
    out |= {f"baseline.console.{page}_meaningful_p95_ms": round(ms, 1) for page, ms in empty.items()}
    return out | {
        "console.meaningful_paint_p95_ms": round(loaded[worst], 1),
        "console.first_paint_p95_ms": round(fcp, 1),
        "ratio.console_paint_loaded_vs_empty_p95": round(max(loaded[p] / max(empty[p], 1.0) for p in loaded), 2),
    }


def _seed_views(base: str, members: dict, governor, dep, db: Path) -> None:  # type: ignore[no-untyped-def]
    """What every page lists at least one of, on both databases: an audited write, a reconciliation
    run (over the chain indexed into this database), a proposal, so the meaningful paint waits for
    data, not for an empty table."""
    from sqlalchemy import create_engine

    from ledger.chain.indexer import Indexer

    Indexer(dep, create_engine(f"sqlite:///{db}"), confirmations=0).run()
    auditor = login(base, members["auditor"])
    with httpx.Client(base_url=base, timeout=120) as c:
        ok(c.post("/v1/audit/reconciliation/runs", json={}, headers=auditor))
        if not ok(c.get("/v1/governance/proposals", headers=auditor)):
            action = {"type": "set_return_window", "seconds": 7 * 24 * 3600}
            body = {"action": action, "reason": "benchmark"}
            ok(c.post("/v1/governance/proposals", json=body, headers=login(base, governor)))
