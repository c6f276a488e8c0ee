"""What GS1's resolver conformance tests and linkset schema ask of links: every link type of the GS1
Web Vocabulary, 404 (not 400) for a link type with no link, linksets valid under GS1's own schema
with GS1's JSON-LD context linked; links that could not be sent in a header refused when registered
and never served when stored; the resolver's public parts within the public budget; EPCIS
Locations and next-page links on the configured base URL, never on a client's Host."""

from __future__ import annotations

import json
import random

import jsonschema
import pytest

from ledger.clock import utcnow
from ledger.store.models import ResolverLink
from ledger.trace.epcis.samples import document

from .helpers import login, make_client, new_gtin
from .test_gs1_resolver import gs1_linkset_schema

VOC = "https://ref.gs1.org/voc/"
CONTEXT = '<https://ref.gs1.org/standards/resolver/linkset-context>; rel="http://www.w3.org/ns/json-ld#context"'


@pytest.fixture
def product(deployment, chain_node, tmp_path, members):
    c = make_client(deployment, chain_node, tmp_path, resolver_url="https://id.brand.example")
    a = login(c, members["merchant_a"])
    gtin = new_gtin()
    assert c.post("/v1/products", json={"gtin": gtin, "name": "Anji white tea"}, headers=a).status_code == 201
    return c, a, gtin


def add(c, a, gtin, **body):
    body = {"title": "x", "href": "https://brand.example/x"} | body
    return c.post(f"/v1/products/{gtin}/links", json=body, headers=a)


def test_every_gs1_link_type_and_404_for_a_type_without_links(product):
    c, a, gtin = product
    for kind in ("gs1:homepage", "gs1:epil", "gs1:logisticsInfo", "https://gs1.org/voc/jws", "activityIdeas"):
        href = "https://brand.example/" + kind.split(":")[-1].split("/")[-1]
        assert add(c, a, gtin, linkType=kind, href=href).status_code == 201, kind
    assert add(c, a, gtin, linkType="gs1:notAType").status_code == 422
    r = c.get(f"/01/{gtin}?linkType=gs1:epil", follow_redirects=False)
    assert r.status_code == 307 and r.headers["location"] == "https://brand.example/epil"
    # no link of a known type, or a type GS1 does not define: 404, not 400 (400 is for a malformed URI)
    for kind in ("gs1:smpc", "gs1:notAType", "https://example.org/rel/other", ""):
        r = c.get(f"/01/{gtin}/10/LOT1", params={"linkType": kind}, follow_redirects=False)
        assert r.status_code == 404 and r.json()["error"] == "not_found", kind


def test_linksets_validate_against_gs1s_schema(product):
    c, a, gtin = product
    add(c, a, gtin, linkType="gs1:pip", title="Product", context=["cn"], hreflang=["zh"], type="text/html")
    add(c, a, gtin, linkType="gs1:certificationInfo", title="Organic", lot="L1")
    add(c, a, gtin, linkType="gs1:instructions", title="Lot 1, item 9", lot="L1", serial="9")
    add(c, a, gtin, linkType="gs1:instructions", title="Lot 1, item 9, B", lot="L1", serial="9")
    schema = gs1_linkset_schema()
    for path in (f"/01/{gtin}", f"/01/{gtin}/10/L1", f"/01/{gtin}/10/L1/21/9", f"/01/{gtin}/10/L2/21/9"):
        r = c.get(path, params={"linkType": "linkset"})
        assert r.status_code == 200 and CONTEXT in r.headers["link"], path
        jsonschema.validate(r.json(), schema)
        assert all(e["itemDescription"].startswith("Anji white tea") for e in r.json()["linkset"])
    item_entry, product_entry, lot_entry = c.get(f"/01/{gtin}/10/L1/21/9?linkType=all").json()["linkset"]
    assert product_entry[VOC + "pip"][0]["context"] == ["cn"] and "lot L1" in lot_entry["itemDescription"]
    assert item_entry["itemDescription"] == "Anji white tea, lot L1, serial 9"
    r = c.get(f"/01/{gtin}/10/L1/21/9?linkType=gs1:instructions", follow_redirects=False)
    assert r.status_code == 300
    jsonschema.validate({"linkset": r.json()["linkset"]}, schema)
    # the resolver's description names GS1's context too
    assert c.get("/.well-known/gs1resolver").json()["jsonLdContextLocation"].endswith("/linkset-context")


BAD_LINKS = [
    {"href": "https://brand.example/a\r\nSet-Cookie: x=1"},
    {"href": "https://brand.example/a\x00b"},
    {"href": "https://brand.example/产品"},
    {"href": "https://brand.example/a b"},
    {"href": 'https://brand.example/a>; rel="x"'},
    {"type": "文本/html"},
    {"type": "text/html\r\nX: y"},
    {"title": "Tea\x00"},
    {"title": "Tea\r\nX-Injected: 1"},
    {"title": "Tea\u202egpj.exe"},  # a right-to-left override shows it reversed
    {"title": "Te\u200ba"},  # a zero-width space: two titles that look alike differ
]


def test_links_that_cannot_be_sent_are_refused_and_never_served(product, members):
    c, a, gtin = product
    for bad in BAD_LINKS:
        r = add(c, a, gtin, linkType="gs1:pip", **bad)
        assert r.status_code == 422, (bad, r.text)
    assert c.get(f"/v1/products/{gtin}/links").json() == []
    # rows stored before these rules: left out when resolving, never a 500 or a broken header
    good = add(c, a, gtin, linkType="gs1:pip", href="https://brand.example/good", title="Good").json()
    with c.app.state.services.sessions() as db:
        for i, bad in enumerate(BAD_LINKS):
            fields = {"href": f"https://brand.example/{i}", "title": "x", "type": None} | bad
            merchant = members["merchant_a"].address
            row = ResolverLink(gtin=gtin, lot=None, serial=None, link_type=VOC + "pip", href=fields["href"],
                               title=fields["title"], media_type=fields["type"], hreflang=None, context=None,
                               is_default=True, merchant=merchant, created_at=utcnow())  # fmt: skip
            db.add(row)
        db.commit()
    for params in ({}, {"linkType": "gs1:pip"}, {"linkType": "linkset"}):
        r = c.get(f"/01/{gtin}/10/L9", params=params, follow_redirects=False)
        assert r.status_code in (200, 307), (params, r.text)
        sent = json.dumps(dict(r.headers), ensure_ascii=False) + r.text
        assert "\\r" not in sent and "\\u0000" not in sent and "产品" not in sent and "文本" not in sent
        if r.status_code == 307:
            assert r.headers["location"] == good["href"]
        else:
            assert [x["href"] for e in r.json()["linkset"] for x in e.get(VOC + "pip", [])] == [good["href"]]


def test_the_resolvers_public_parts_are_within_the_public_budget(deployment, chain_node, tmp_path):
    c = make_client(deployment, chain_node, tmp_path, public_rate=3, public_window_s=3600)
    paths = ["/.well-known/gs1resolver", "/v1/products/09506000134352/links", "/healthz"]
    assert [c.get(p).status_code for p in paths] == [200, 200, 200]  # the budget spent, one of each
    for p in paths:
        r = c.get(p)
        assert r.status_code == 429 and int(r.headers["retry-after"]) >= 1, p


def test_epcis_locations_and_next_links_are_on_the_configured_base_url(deployment, chain_node, tmp_path, members):
    c = make_client(deployment, chain_node, tmp_path, anchor_interval_s=0, resolver_url="https://ledger.example")
    h = login(c, members["producer"]) | {"Host": "attacker.example"}
    r = c.post("/epcis/capture", json=document(random.Random(8), 2), headers=h)
    assert r.status_code == 202 and r.headers["location"].startswith("https://ledger.example/epcis/capture/")
    q = c.post("/epcis/queries", json={"name": "mine", "query": {"eventType": ["ObjectEvent"]}}, headers=h)
    assert q.status_code == 201 and q.headers["location"] == "https://ledger.example/epcis/queries/mine"
    c.post("/epcis/queries", json={"name": "more", "query": {"eventType": ["ObjectEvent"]}}, headers=h)
    listed = c.get("/epcis/queries", params={"perPage": 1}, headers=h)  # the next page's link too
    assert listed.headers["link"].startswith("<https://ledger.example/epcis/queries?")
    bad = c.get("/epcis/events", params={"perPage": "x"}, headers=h)  # a problem's instance too
    assert bad.status_code == 400 and bad.json()["instance"] == "https://ledger.example/epcis/events"
    refused = c.get("/epcis/events", headers=h | {"GS1-EPCIS-Version": "1.2"})
    assert refused.status_code == 406 and refused.json()["instance"].startswith("https://ledger.example/")
    assert "attacker" not in json.dumps(dict(r.headers)) + json.dumps(dict(q.headers))
