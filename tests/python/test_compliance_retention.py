"""Retention through the CLI: `ledger compliance prune --before DATE` deletes only the records of
batches past their retention date (never ahead of time, never a pending event, never part of a
Merkle root whose other events stay, never an event also naming a batch still kept) and refuses a
named batch still within retention; `ledger backup` carries the compliance tables."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import tarfile
from datetime import UTC, datetime

import pytest

from .helpers import make_client
from .test_compliance import _cls, _doc, _made, _scene, _shipped


@pytest.fixture
def c(deployment, chain_node, tmp_path):
    return make_client(deployment, chain_node, tmp_path)


def _ledger(env: dict, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "ledger", *args], env=env, capture_output=True, text=True,
                          timeout=600, check=False)  # fmt: skip


def _old(gtin: str) -> tuple[dict, dict]:
    """Batch R made in 2023 with a shelf life ending 2023-06-01 (kept until 2023-12-01), and shipped."""
    made = _made(gtin, "R", eventTime="2023-01-01T08:00:00+08:00",
                 ilmd={"cbvmda:bestBeforeDate": "2023-06-01", "cbvmda:netContent": "500 g"})  # fmt: skip
    return made, _shipped(gtin, "R", eventTime="2023-02-01T08:00:00+08:00")


def _count(c, h, gtin: str, lot: str) -> int:
    r = c.get(f"/v1/compliance/batches/{gtin}/{lot}/report", headers=h)
    return r.json()["events"] if r.status_code == 200 else 0


def test_prune_deletes_only_what_is_past_retention_and_backup_keeps_compliance(
    c, members, tmp_path, deployment, chain_node
):
    h, gtin = _scene(c, members)
    env = {**os.environ, "LEDGER_DATABASE_URL": f"sqlite:///{tmp_path / 'api.sqlite3'}",
           "LEDGER_RPC_URL": chain_node.url, "LEDGER_MANIFEST": str(deployment[1]),
           "LEDGER_DATA_DIR": str(tmp_path / "data")}  # fmt: skip
    today = datetime.now(UTC).date().isoformat()
    assert c.post("/v1/epcis/capture", json=_doc(*_old(gtin)), headers=h).status_code == 201
    assert c.post("/v1/epcis/anchor", headers=h).status_code in (200, 201)  # root 1: R's two records alone
    received = _shipped(gtin, "R", bizStep="receiving", eventTime="2023-02-02T08:00:00+08:00")
    into_a = {"type": "TransformationEvent", "eventTime": "2026-11-02T08:00:00+08:00", "eventTimeZoneOffset": "+08:00",
              "bizStep": "commissioning", "inputQuantityList": _cls(gtin, "R"), "outputQuantityList": _cls(gtin, "A"),
              "bizLocation": {"id": "urn:epc:id:sgln:0614141.00001.0"}, "certificationInfo": "urn:cn:samr:qs:1",
              "ilmd": {"cbvmda:bestBeforeDate": "2027-03-01", "cbvmda:netContent": "250 g"}}  # fmt: skip
    assert c.post("/v1/epcis/capture", json=_doc(received, into_a), headers=h).status_code == 201
    assert _count(c, h, gtin, "R") == 4 and _count(c, h, gtin, "A") == 1

    # never ahead of time, never a batch within retention, never a bad date
    r = _ledger(env, "compliance", "prune", "--before", "2099-01-01")
    assert r.returncode == 1 and "after today" in r.stderr, r.stderr
    r = _ledger(env, "compliance", "prune", "--before", today, "--gtin", gtin, "--lot", "A")
    assert r.returncode == 1 and f"batch {gtin}/A is kept until 2027-09-01 (shelf life + 6 months)" in r.stderr
    assert _ledger(env, "compliance", "prune", "--before", "yesterday").returncode == 1
    # before the date R's retention ends: nothing of R is past it
    r = _ledger(env, "compliance", "prune", "--before", "2023-12-01", "--gtin", gtin, "--lot", "R")
    assert r.returncode == 1 and "kept until 2023-12-01" in r.stderr

    # root 2 not anchored yet: R's receipt waits for it
    plan = json.loads(_ledger(env, "compliance", "prune", "--before", today, "--dry-run").stdout)
    assert plan["past_retention"] == [{"gtin": gtin, "lot": "R", "retain_until": "2023-12-01"}]
    assert {"gtin": gtin, "lot": "A", "retain_until": "2027-09-01"} in plan["within_retention"]
    assert plan["events_deleted"] == 2 and plan["events_kept"] == {
        "names a batch within retention, or an item of no batch": 1, "not anchored yet": 1}  # fmt: skip
    assert _count(c, h, gtin, "R") == 4  # a dry run deletes nothing

    # root 2 holds R's receipt with A's records: it stays whole
    assert c.post("/v1/epcis/anchor", headers=h).status_code in (200, 201)
    r = _ledger(env, "compliance", "prune", "--before", today)
    assert r.returncode == 0, r.stderr
    done = json.loads(r.stdout)
    assert done["events_deleted"] == 2 and done["events_kept"] == {
        "names a batch within retention, or an item of no batch": 1,
        "shares a Merkle root with records still kept": 1,
    }
    assert _count(c, h, gtin, "R") == 2 and _count(c, h, gtin, "A") == 1
    report = c.get(f"/v1/compliance/batches/{gtin}/A/report", headers=h).json()
    assert report["anchored"] and report["unanchored_events"] == 0

    # `ledger backup` carries the compliance tables: parties, flags of every record kept
    archive = tmp_path / "backup.tar.gz"
    r = _ledger(env, "backup", str(archive))
    assert r.returncode == 0, r.stderr
    with tarfile.open(archive) as tar:
        (tmp_path / "restored.sqlite3").write_bytes(tar.extractfile("database.sqlite3").read())
    db = sqlite3.connect(tmp_path / "restored.sqlite3")
    try:
        parties = db.execute("select urn, credit_code from compliance_parties order by urn").fetchall()
        flags = db.execute("select count(*) from compliance_event_flags").fetchone()[0]
        events = db.execute("select count(*) from epcis_events").fetchone()[0]
    finally:
        db.close()
    assert [u for u, _ in parties] == ["urn:epc:id:pgln:0614141.00001", "urn:epc:id:pgln:0614141.00002"]
    assert flags == events == 2
