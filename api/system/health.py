"""What `/healthz` judges: what a user of the API depends on, each against a threshold.

- chain: the node answers, the manifest's contracts are on it, and its head block is recent (head
  age over `health_head_age_s`, 60 s unless set: the chain has stalled). A node that mines only a
  block per transaction (anvil automining, as the tests run it; `make run`'s mines every 2 s too)
  has no clock to fall behind, so there the age is reported only, unless LEDGER_HEALTH_HEAD_AGE_S
  is set.
- database: it answers.
- anchorer: the oldest captured EPCIS event still waiting for its anchor, judged against
  `health_anchor_lag_s` where this deployment anchors in the background (any worker's anchorer: the
  age is read from the shared database).
- indexer: how long the first block the indexer has not read has been waiting (blocks and seconds
  behind the head), judged against `health_indexer_lag_s` once an indexer has run against this
  database (its checkpoints exist); reported as not started otherwise.

Each check is `{"ok": bool, ...figures, "error"?: reason}`; any not ok makes the answer 503."""

from __future__ import annotations

import time
from typing import Any

from sqlalchemy import func, select
from web3 import Web3

from ledger.chain.client import connect, without_credentials
from ledger.chain.deploy import attach
from ledger.clock import as_utc
from ledger.store.db import ping
from ledger.store.models import EpcisEvent, IndexerCheckpoint

from ..core.services import Services

DEFAULT_HEAD_AGE_S = 60.0


def _first_line(exc: BaseException) -> str:
    return without_credentials((str(exc).splitlines() or [type(exc).__name__])[0])[:300]


def _chain(svc: Services, now: float) -> tuple[dict[str, Any], Web3 | None]:
    s = svc.settings
    try:
        w3 = connect(s.rpc_url, timeout=s.rpc_timeout_s)
        chain_id = w3.eth.chain_id
        head = w3.eth.get_block("latest")
    except Exception as exc:  # noqa: BLE001 - any failure is reported, not raised
        return {"ok": False, "error": _first_line(exc)}, None
    age = round(max(now - int(head["timestamp"]), 0.0), 1)
    check: dict[str, Any] = {"ok": True, "chain_id": chain_id, "block": int(head["number"]), "head_age_s": age}
    limit = s.health_head_age_s
    if limit is None and not _mines_only_per_transaction(w3):
        limit = DEFAULT_HEAD_AGE_S
    check["head_age_limit_s"] = limit
    if limit is not None and age > limit:
        check |= {"ok": False, "error": f"the chain's head block is {age:.0f} s old (limit {limit:g} s): stalled"}
    return check, w3


def _mines_only_per_transaction(w3: Web3) -> bool:
    """Whether the node is an anvil that mines a block per transaction and none on a clock (other
    nodes do not know the method: they seal on a clock)."""
    try:
        return w3.provider.make_request("anvil_getAutomine", []).get("result") is True
    except Exception:  # noqa: BLE001 - not anvil
        return False


def _contracts(svc: Services, w3: Web3) -> dict[str, Any]:
    try:
        attach(w3, svc.settings.manifest_path)
        return {"ok": True}
    except Exception as exc:  # noqa: BLE001
        return {"ok": False, "error": _first_line(exc)}


def _anchorer(svc: Services, now: float) -> dict[str, Any]:
    s = svc.settings
    if s.anchor_interval_s <= 0:
        return {"ok": True, "running": False}  # anchoring is off here (the CLI or the API anchors)
    with svc.sessions() as db:  # the oldest pending event: one index seek, however many wait
        oldest = db.scalar(
            select(EpcisEvent.record_time).where(EpcisEvent.anchor_id.is_(None)).order_by(EpcisEvent.id).limit(1)
        )
    lag = 0.0 if oldest is None else round(max(now - _epoch(oldest), 0.0), 1)
    check: dict[str, Any] = {"ok": True, "running": True, "lag_s": lag, "lag_limit_s": s.health_anchor_lag_s}
    if lag > s.health_anchor_lag_s:
        check |= {
            "ok": False,
            "error": f"a captured event has waited {lag:.0f} s for its anchor (limit {s.health_anchor_lag_s:g} s)",
        }
    return check


def _indexer(svc: Services, w3: Web3 | None, now: float) -> dict[str, Any]:
    s = svc.settings
    with svc.sessions() as db:
        checkpoint = db.scalar(select(func.min(IndexerCheckpoint.block_number)))
    if checkpoint is None:
        return {"ok": True, "started": False}
    check: dict[str, Any] = {
        "ok": True,
        "started": True,
        "block": int(checkpoint),
        "lag_limit_s": s.health_indexer_lag_s,
    }
    if w3 is None:
        return check  # the chain check says why
    try:
        head = w3.eth.block_number
        behind = max(head - int(checkpoint), 0)
        lag = 0.0
        if behind:
            waiting = w3.eth.get_block(int(checkpoint) + 1)
            lag = round(max(now - int(waiting["timestamp"]), 0.0), 1)
    except Exception as exc:  # noqa: BLE001
        return check | {"ok": False, "error": _first_line(exc)}
    check |= {"blocks_behind": behind, "lag_s": lag}
    if lag > s.health_indexer_lag_s:
        check |= {
            "ok": False,
            "error": f"the indexer is {behind} blocks behind the head, the oldest waiting {lag:.0f} s "
            f"(limit {s.health_indexer_lag_s:g} s)",
        }
    return check


def _epoch(when: Any) -> float:
    return as_utc(when).timestamp()


def health(svc: Services) -> tuple[bool, dict[str, Any]]:
    """(healthy, each check)."""
    now = time.time()
    checks: dict[str, Any] = {}
    checks["chain"], w3 = _chain(svc, now)
    if w3 is not None:
        checks["contracts"] = _contracts(svc, w3)
    for name, check in (
        ("database", lambda: {"ok": True, "dialect": ping(svc.engine)}),
        ("anchorer", lambda: _anchorer(svc, now)),
        ("indexer", lambda: _indexer(svc, w3, now)),
    ):
        try:
            checks[name] = check()
        except Exception as exc:  # noqa: BLE001 - a database failure is reported, not raised
            checks[name] = {"ok": False, "error": _first_line(exc)}
    ok = all(c["ok"] for c in checks.values()) and "contracts" in checks
    return ok, checks
