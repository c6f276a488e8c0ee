"""Forged paging positions are clear 4xx answers, never 500s: EPCIS page tokens whose position is
not a time or not an id in range (their fingerprint is no secret: anyone can compute it from the
query), repository listing tokens holding a NUL, explorer windows past the head or too wide."""

from __future__ import annotations

import base64
import json
import random

import pytest

from ledger.trace.epcis.samples import document

from .helpers import login, make_client
from .test_epcis_rest import events_of


def _b64(value: bytes) -> str:
    return base64.urlsafe_b64encode(value).decode().rstrip("=")


@pytest.fixture
def client(deployment, chain_node, tmp_path, members):
    c = make_client(deployment, chain_node, tmp_path, anchor_interval_s=0)
    return c, login(c, members["auditor"])


def test_forged_epcis_page_tokens(client, members):
    c, auditor = client
    producer = login(c, members["producer"])
    assert c.post("/epcis/capture", json=document(random.Random(7), 3), headers=producer).status_code == 202
    for params in ({"orderBy": "eventTime", "perPage": "1"}, {"perPage": "1"}):
        r = c.get("/epcis/events", params=params, headers=auditor)
        assert r.status_code == 200 and "link" in r.headers, r.text
        link = r.headers["link"]
        token = link[link.index("nextPageToken=") + 14 : link.index(">")]
        # the fingerprint is the query's, which anyone can compute: keep it, forge the position
        fingerprint = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))["f"]
        for body in (
            {"i": 2**70, "n": 0, "k": "2026-01-01T00:00:00+00:00"},
            {"i": 1, "n": 2**70, "k": "2026-01-01T00:00:00+00:00"},
            {"i": -1, "n": 0, "k": "2026-01-01T00:00:00+00:00"},
            {"i": True, "n": 0, "k": "2026-01-01T00:00:00+00:00"},
            *(
                [{"i": 1, "n": 0, "k": "not a date"}, {"i": 1, "n": 0, "k": 5}, {"i": 1, "n": 0}]
                if "orderBy" in params
                else []
            ),
        ):
            forged = _b64(json.dumps({"f": fingerprint, **body}).encode())
            r = c.get("/epcis/events", params={**params, "nextPageToken": forged}, headers=auditor)
            assert r.status_code == 400 and "nextPageToken" in r.text, (params, body, r.status_code, r.text)
        r = c.get("/epcis/events", params={**params, "nextPageToken": token}, headers=auditor)
        assert r.status_code == 200 and len(events_of(r)) == 1  # the real token still leads on
    r = c.get("/epcis/epcs", params={"nextPageToken": _b64(b"urn:epc\x00")}, headers=auditor)
    assert r.status_code == 400, r.text


def test_explorer_windows_past_the_head(client, deployment):
    c, auditor = client
    dep, _ = deployment
    head = dep.w3.eth.block_number
    for params in (
        {"to_block": 2**62},
        {"from_block": 2**62},
        {"from_block": 0},
        {"from_block": 2**62, "to_block": 2**62},
        {"to_block": head + 10**6, "before_log_index": 2**31},
        {"from_block": head, "to_block": 2**62},
    ):
        r = c.get("/v1/chain/records", params=params, headers=auditor)
        assert r.status_code in (200, 422), (params, r.status_code, r.text)
