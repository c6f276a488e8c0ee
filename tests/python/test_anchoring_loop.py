"""The API's background anchorer when anchoring keeps failing: one traceback, then quiet, with
the waits between tries growing; a round with nothing due asks the node nothing; on a real node
and database."""

from __future__ import annotations

import logging
import random
import time
from datetime import UTC, datetime, timedelta

from fastapi.testclient import TestClient

from ledger.trace.epcis.samples import document

from .helpers import login, make_client


def test_an_anchorer_without_a_signing_key_logs_once_and_backs_off(deployment, chain_node, tmp_path, members, caplog):
    # a gateway that signs for nobody: every try to anchor the captured event fails the same way
    c = make_client(deployment, chain_node, tmp_path, anchor_interval_s=0.05, anchor_max_age_s=0, custodial=False)
    producer = login(c, members["producer"])
    with caplog.at_level(logging.INFO, logger="ledger.trace.epcis.anchoring"), TestClient(c.app) as live:
        r = live.post("/v1/epcis/capture", json=document(random.Random(33)), headers=producer)
        assert r.status_code == 201, r.text
        time.sleep(4)  # 80 tries at the configured 0.05 s; with back-off from 0.05 s, six
    failed = [x for x in caplog.records if x.levelno >= logging.WARNING]
    assert len(failed) == 1, [x.getMessage() for x in failed]
    assert failed[0].exc_info is not None and "signs for nobody" in failed[0].getMessage()


def test_a_round_with_nothing_due_asks_the_node_nothing(deployment, chain_node, tmp_path, members):
    c = make_client(deployment, chain_node, tmp_path, anchor_interval_s=0, anchor_max_events=4, anchor_max_age_s=60)
    producer = login(c, members["producer"])
    anchorer = c.app.state.services.anchorer
    asked: list[int] = []
    real = anchorer.deployment
    anchorer.deployment = lambda: asked.append(1) or real()  # the real deployment, its uses counted
    assert anchorer.anchor_once() is None and asked == []  # nothing pending
    assert c.post("/v1/epcis/capture", json=document(random.Random(41), 3), headers=producer).status_code == 201
    assert anchorer.anchor_once() is None and asked == []  # 3 < 4 and young: not due
    assert anchorer.anchor_once(now=datetime.now(UTC) + timedelta(seconds=59)) is None and asked == []
    aged = anchorer.anchor_once(now=datetime.now(UTC) + timedelta(seconds=61))  # the first waited 60 s
    assert aged is not None and aged.leaf_count == 3 and asked
    assert c.post("/v1/epcis/capture", json=document(random.Random(42), 4), headers=producer).status_code == 201
    counted = anchorer.anchor_once()  # 4 pending, young: due by count
    assert counted is not None and counted.leaf_count == 4 and anchorer.pending() == 0
