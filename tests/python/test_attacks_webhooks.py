"""Attacks on webhook destinations through the API served by uvicorn with private receivers NOT
allowed (as deployed): every spelling of a loopback, private or embedded address (decimal, octal
and hexadecimal IPv4, short forms, IPv4-mapped and 6to4 IPv6, a trailing dot, a name that
resolves to loopback, a second host after a backslash or in user information) is refused with a
4xx and nothing registered, and a receiver listening on loopback is never called. The refusal
names no address a host resolved to (it would make the API an oracle of internal DNS)."""

from __future__ import annotations

import httpx
import pytest

from bench.webhook_receiver import WebhookReceiver

from .helpers import login_over_http, served_on_chain


@pytest.fixture(scope="module")
def server(deployment, chain_node, tmp_path_factory, members):
    tmp_path = tmp_path_factory.mktemp("attacks-webhooks")
    with served_on_chain(deployment, chain_node, tmp_path, LEDGER_WEBHOOK_ALLOW_PRIVATE="") as url:  # as deployed
        yield url, login_over_http(url, members["producer"])


def spellings(port: int) -> list[str]:
    """Ways to write an address of this machine (or of a private network) as a webhook URL."""
    return [
        f"http://127.0.0.1:{port}/hook",
        f"http://2130706433:{port}/hook",  # decimal
        f"http://0x7f.1:{port}/hook",  # hexadecimal, short form
        f"http://0177.0.0.1:{port}/hook",  # octal
        f"http://127.1:{port}/hook",
        f"http://0:{port}/hook",
        f"http://[::ffff:127.0.0.1]:{port}/hook",
        f"http://[::ffff:7f00:1]:{port}/hook",
        f"http://[0:0:0:0:0:ffff:127.0.0.1]:{port}/hook",
        f"http://[::127.0.0.1]:{port}/hook",
        f"http://[2002:7f00:1::]:{port}/hook",  # 6to4 of 127.0.0.1
        f"http://[64:ff9b::7f00:1]:{port}/hook",  # NAT64 of 127.0.0.1
        f"http://localhost:{port}/hook",
        f"http://localhost.:{port}/hook",  # trailing dot
        f"http://127.0.0.1.:{port}/hook",
        f"http://LOCALHOST:{port}/hook",
        f"http://127.0.0.1:{port}\\@1.1.1.1/hook",
        f"http://1.1.1.1@127.0.0.1:{port}/hook",
        f"http://127.0.0.1:{port}#@1.1.1.1/hook",
        "http://169.254.169.254/latest/meta-data/",
        "http://100.100.100.200/latest/meta-data/",  # 100.64.0.0/10
        "http://10.0.0.1/",
        "http://[fd00::1]/",
        "http://１２７.0.0.1/",  # fullwidth digits
        "http://127。0。0。1/",  # ideographic full stops
    ]


def test_no_spelling_of_a_private_address_is_registered_or_called(server):
    url, h = server
    receiver = WebhookReceiver()
    try:
        port = receiver.server.server_port
        c = httpx.Client(base_url=url, timeout=30)
        query = {"name": "attacks", "query": {"eventType": ["ObjectEvent"]}}
        assert c.post("/epcis/queries", json=query, headers=h).status_code == 201
        for dest in spellings(port):
            r = c.post("/epcis/queries/attacks/subscriptions", json={"dest": dest, "stream": True}, headers=h)
            assert 400 <= r.status_code < 500, (dest, r.status_code, r.text)
            detail = r.json()["detail"]
            for address in ("127.0.0.1", "::ffff", "169.254", "100.100", "10.0.0.1", "fd00"):
                if address not in dest:  # the answer reveals no address the caller did not send
                    assert address not in detail, (dest, detail)
        assert _members(c.get("/epcis/queries/attacks/subscriptions", headers=h).json()) == []
        assert receiver.deliveries == [] and receiver.refused == 0
    finally:
        receiver.close()
        httpx.delete(f"{url}/epcis/queries/attacks", headers=h, timeout=30)


def _members(listing) -> list:
    return listing.get("member", []) if isinstance(listing, dict) else listing
