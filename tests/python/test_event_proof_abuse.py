"""What one anonymous view of an event's proof page may cost, and what it may show: the chain is
asked about each product an event names once, not once per item of it (an event naming 400
serials of one product cost 800 calls to the node per view)."""

from __future__ import annotations

import time

from . import test_resolver as resolver
from .helpers import login
from .test_resolver import epcis_event

scene = resolver.scene


def _calls(c):
    """A counter of the JSON-RPC requests the app's chain node is sent (method => count)."""
    w3 = c.app.state.services.chain.deployment().w3
    counts: dict[str, int] = {}
    real = w3.provider.make_request

    def counted(method, params):
        counts[method] = counts.get(method, 0) + 1
        return real(method, params)

    w3.provider.make_request = counted
    w3.provider._request_func_cache = ((), None)  # web3 keeps the function it built around the real one
    return counts


def _anchored(c, headers, digest: str) -> None:
    assert c.post("/v1/epcis/anchor", headers=headers).status_code == 200
    for _ in range(200):
        if c.get(f"/v1/epcis/proofs/{digest}").json().get("status") == "anchored":
            return
        time.sleep(0.05)
    raise AssertionError("not anchored")


def test_an_event_naming_many_items_of_one_product_costs_a_few_chain_calls_per_view(scene, members):
    c, gtin, _, _, _ = scene
    h = login(c, members["logistics"])
    event = epcis_event("shipping", "2026-11-04T09:00:00+08:00", "OBSERVE")
    event["epcList"] = [f"https://id.gs1.org/01/{gtin}/21/MANY-{i}" for i in range(400)]
    r = c.post("/v1/epcis/capture", json=event, headers=h)
    assert r.status_code == 201, r.text
    digest = r.json()["events"][0]["hashId"].split(";")[1][:64]
    _anchored(c, h, digest)
    counts = _calls(c)
    page = c.get(f"/scan/events/{digest}", params={"lang": "en"})
    assert page.status_code == 200 and 'data-state="holds"' in page.text, page.text[-2000:]
    assert sum(counts.values()) <= 10, counts
