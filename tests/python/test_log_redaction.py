"""A session token sent as `?access_token=` (as WebSocket clients do) never reaches the server's
log: the access line and the WebSocket handshake line show `access_token=[redacted]`."""

from __future__ import annotations

import httpx
import pytest
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.sync.client import connect

from .helpers import login_over_http, served_on_chain


@pytest.mark.parametrize("workers", [None, 1])
def test_tokens_in_query_strings_are_not_logged(deployment, chain_node, tmp_path, members, workers):
    log = tmp_path / "api.log"
    with served_on_chain(deployment, chain_node, tmp_path, workers=workers) as url:
        token = login_over_http(url, members["auditor"])["Authorization"].split()[1]
        assert httpx.get(f"{url}/healthz", params={"access_token": token}).status_code == 200
        # the server decodes a percent-encoded parameter name: the log must not keep that spelling either
        assert httpx.get(f"{url}/healthz?acc%65ss%5Ftoken={token}").status_code == 200
        ws_url = url.replace("http", "ws") + f"/epcis/queries/none-such/events?stream=true&access_token={token}"
        # a refused subscription is accepted and closed (1008) with its reason (api.epcis.binding.sockets)
        with pytest.raises((InvalidStatus, ConnectionClosed)), connect(ws_url, open_timeout=30) as ws:
            ws.recv(timeout=5)
        http = httpx.Client(base_url=url, headers={"Authorization": f"Bearer {token}"}, timeout=30)
        assert http.post("/epcis/queries", json={"name": "all", "query": {}}).status_code == 201
        with connect(url.replace("http", "ws") + f"/epcis/queries/all/events?stream=true&access_token={token}",
                     open_timeout=30):  # fmt: skip
            pass
    text = log.read_text()
    assert token not in text and token[4:] not in text, text
    assert text.count("access_token=[redacted]") >= 3, text
    assert "acc%65ss%5Ftoken=[redacted]" in text, text
