"""/healthz judges what users depend on (api/system/health.py): a stopped node, a stalled head, an indexer
fallen behind and a captured event waiting too long for its anchor each answer 503 with the reason;
/livez stays a liveness probe."""

from __future__ import annotations

import shutil
import time

from fastapi.testclient import TestClient

from api.app import create_app
from api.core.settings import Settings
from ledger.chain.client import connect
from ledger.chain.deploy import attach, deploy
from ledger.chain.indexer import Indexer
from ledger.store.db import make_engine

from .helpers import DOMAIN, delivery_doc, login


def _node_and_client(anvil_factory, tmp_path, node=None, **overrides):
    tmp_path.mkdir(exist_ok=True)
    path = tmp_path / "deployment.json"
    if node is None:
        node = anvil_factory()
        deploy(connect(node.url), path)
    else:
        shutil.copy(tmp_path.parent / "deployment.json", path)
    db = f"sqlite:///{tmp_path / 'api.sqlite3'}"
    settings = Settings(rpc_url=node.url, manifest_path=path, database_url=db, siwe_domain=DOMAIN, **overrides)
    return node, path, db, TestClient(create_app(settings))


def _until(c: TestClient, status: int, timeout_s: float = 60):
    deadline = time.monotonic() + timeout_s
    while True:
        r = c.get("/healthz")
        if r.status_code == status or time.monotonic() > deadline:
            return r
        time.sleep(0.2)


def test_a_stopped_node_is_503_naming_the_chain(anvil_factory, tmp_path):
    node, _, _, c = _node_and_client(anvil_factory, tmp_path)
    r = c.get("/healthz")
    assert r.status_code == 200, r.text
    assert r.json()["checks"]["chain"]["head_age_limit_s"] is None  # a block per transaction: no clock
    node.stop()
    r = c.get("/healthz")
    assert r.status_code == 503 and r.json()["status"] == "degraded"
    assert r.json()["checks"]["chain"]["ok"] is False
    assert any(reason.startswith("chain: ") for reason in r.json()["reasons"]), r.json()
    assert c.get("/livez").status_code == 200  # liveness is not health


def test_a_stalled_head_is_503(anvil_factory, tmp_path):
    node, _, _, c = _node_and_client(anvil_factory, tmp_path)
    w3 = connect(node.url)
    w3.provider.make_request("evm_setIntervalMining", [1])  # a block a second, as a consortium seals
    assert c.get("/healthz").json()["checks"]["chain"]["head_age_limit_s"] == 60  # judged by default
    _, _, _, c = _node_and_client(anvil_factory, tmp_path / "short", health_head_age_s=3.0, node=node)
    time.sleep(3.5)
    r = c.get("/healthz")
    assert r.status_code == 200 and r.json()["checks"]["chain"]["head_age_s"] <= 3, r.text
    w3.provider.make_request("evm_setIntervalMining", [0])  # the chain stalls; the node still answers
    r = _until(c, 503)
    assert r.status_code == 503, r.text
    assert "stalled" in r.json()["checks"]["chain"]["error"]
    assert c.get("/livez").status_code == 200


def test_an_indexer_behind_its_threshold_is_503(anvil_factory, tmp_path):
    node, path, db, c = _node_and_client(anvil_factory, tmp_path, health_indexer_lag_s=1.0)
    assert c.get("/healthz").json()["checks"]["indexer"] == {"ok": True, "started": False}
    w3 = connect(node.url)
    dep = attach(w3, path)
    engine = make_engine(db)
    try:
        indexer = Indexer(dep, engine, confirmations=1)
        indexer.run()
        r = c.get("/healthz")
        assert r.status_code == 200 and r.json()["checks"]["indexer"]["blocks_behind"] == 0, r.text
        w3.eth.send_transaction({"from": w3.eth.accounts[0], "to": w3.eth.accounts[1], "value": 1})
        r = _until(c, 503)
        assert r.status_code == 503, r.text
        check = r.json()["checks"]["indexer"]
        assert check["blocks_behind"] == 1 and "indexer" in r.json()["reasons"][0], r.json()
        indexer.run()
        assert c.get("/healthz").status_code == 200
    finally:
        engine.dispose()


def test_an_event_waiting_for_its_anchor_beyond_the_threshold_is_503(anvil_factory, tmp_path, accounts):
    # the anchorer signs with a key that holds no recorder role: it fails every round, never anchors
    stranger = accounts[19].address
    node, path, _, c = _node_and_client(
        anvil_factory,
        tmp_path,
        health_anchor_lag_s=1.0,
        anchor_interval_s=0.2,
        anchor_max_age_s=0.5,
        anchor_one_by_one_max=0,
        anchor_account=stranger,
    )
    with c:
        dep = attach(connect(node.url), path)
        producer = accounts[dep.manifest["members"]["producer"]["account_index"]]
        r = c.post("/v1/epcis/capture", json=delivery_doc("SO-health-1"), headers=login(c, producer))
        assert r.status_code == 201, r.text
        r = _until(c, 503)
        assert r.status_code == 503, r.text
        assert "waited" in r.json()["checks"]["anchorer"]["error"]
        first = r.json()["checks"]["anchorer"]["lag_s"]
        time.sleep(2)  # the anchorer keeps failing: the event keeps waiting
        r = c.get("/healthz")
        assert r.status_code == 503 and r.json()["checks"]["anchorer"]["lag_s"] >= first + 1.5, r.text


def test_a_node_down_names_no_credential_of_its_url_to_anyone(deployment, tmp_path):
    """A node's URL may carry its credentials (user information, a provider's key in the path): a
    node that did not answer was named by its whole URL to any caller, /healthz's and every public
    route's 503 alike (outside probe)."""
    _, path = deployment
    url = "http://probe:s3cretpw@127.0.0.1:9/v3/k3yInPath"
    settings = Settings(rpc_url=url, manifest_path=path, database_url=f"sqlite:///{tmp_path / 'api.sqlite3'}")
    c = TestClient(create_app(settings))
    for route in ("/healthz", "/v1/contracts", "/v1/auth/nonce"):
        r = c.get(route)
        assert r.status_code == 503, (route, r.text)
        assert "s3cretpw" not in r.text and "k3yInPath" not in r.text, (route, r.text)
        assert "127.0.0.1:9" in r.text, (route, r.text)  # which node still said
