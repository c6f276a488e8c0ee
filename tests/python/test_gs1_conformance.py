"""The resolver against the checks of GS1's resolver conformance test suite (gs1/GS1DL-resolver-testsuite)
and the clauses of the GS1-Conformant Resolver standard they quote, through HTTP as that suite probes."""

from __future__ import annotations

from urllib.parse import parse_qsl, urlsplit

import jsonschema

from .helpers import login
from .test_gs1_resolver import gs1_linkset_schema, link
from .test_resolver import path_of, scene  # noqa: F401 - the fixture

DEFAULT = "https://ref.gs1.org/voc/defaultLink"


def test_the_default_link_has_no_optional_attributes(scene, members):  # noqa: F811
    """Resolver standard: "The default link SHALL NOT have any optional attributes" (it SHALL include a
    title, but SHALL NOT include other attributes): href and title only, in the linkset and the Link header."""
    c, gtin, *_ = scene
    a = login(c, members["merchant_a"])
    link(c, a, gtin, linkType="gs1:pip", href="https://brand.example/en/p", title="Product", type="text/html",
         hreflang=["en"], context="shop")  # fmt: skip
    for path in (f"/01/{gtin}", f"/01/{gtin}/10/AJ-7"):
        r = c.get(path, headers={"Accept": "application/linkset+json"})
        entry = r.json()["linkset"][0]
        jsonschema.validate(r.json(), gs1_linkset_schema())
        assert entry[DEFAULT] == [{"href": "https://brand.example/en/p", "title": "Product"}], entry
        listed = [x for x in r.headers["link"].split(", <") if f'rel="{DEFAULT}"' in x]
        assert len(listed) == 1 and "type=" not in listed[0] and "hreflang=" not in listed[0], listed
    r = c.get(f"/01/{gtin}", follow_redirects=False)  # the redirect itself is unchanged
    assert r.status_code == 307 and r.headers["location"] == "https://brand.example/en/p"


def test_data_attributes_of_every_current_ai_are_valid(scene, members):  # noqa: F811
    """A validating resolver SHALL report malformed URIs with a 400, and so must not report a valid
    one: AIs GS1 defined after the toolkit's table (GS1 Barcode Syntax Dictionary: dangerous goods
    4321, release date 4326, digital signature 8030, protocol 7240...) are data attributes too."""
    c, gtin, *_ = scene
    a = login(c, members["merchant_a"])
    link(c, a, gtin, linkType="gs1:pip", href="https://brand.example/p", title="Product")
    fine = ("4321=1", "4326=261231", "4309=35123456780123456789", "4307=CN", "4330=000123-", "7011=261231",
            "7011=2612311200", "7040=1ABC", "715=ABC", "7240=PROTO-1", "3955=000123", "8030=MEUCIQ_-xyz",
            "4300=Tea+Co", "7241=01", "7242=VCN1")  # fmt: skip
    for pair in fine:
        r = c.get(f"/01/{gtin}?{pair}", follow_redirects=False)
        assert r.status_code == 307 and r.headers["location"] == f"https://brand.example/p?{pair}", (pair, r.text)
    for pair in (
        "4321=",
        "4326=2612",
        "4326=261331",
        "4326=261232",
        "7011=261301",
        "7007=261301",
        "7040=ABCD",
        "8030=a%24b",
        "4309=1",
        "417=4226350800008",
    ):  # (dates: a month 13, a day 32)
        r = c.get(f"/01/{gtin}?{pair}", follow_redirects=False)
        reason = r.json()["detail"][0]["reason"]
        assert r.status_code == 400 and reason.startswith(f"query parameter {pair.split('=')[0]}:"), (pair, r.text)
    assert "primary key" in c.get(f"/01/{gtin}?417=4226350800008").json()["detail"][0]["reason"]


def test_the_query_string_passes_on_once(scene):  # noqa: F811
    """Resolver standard: "By default, SHALL pass on all key=value pairs in the query string of the request
    URI when redirecting": each once; the item's verification link already holds its k and s."""
    c, _, _, issue, _ = scene
    item = "/" + path_of(issue["sample"][0])
    r = c.get(f"{item}&linkType=gs1:verificationService&17=271231", follow_redirects=False)
    assert r.status_code == 307, r.text
    pairs = [k for k, _ in parse_qsl(urlsplit(r.headers["location"]).query)]
    assert sorted(pairs) == ["17", "k", "s"], r.headers["location"]


def test_a_default_link_is_described_by_a_link_type_too(scene, members):  # noqa: F811
    """Resolver standard: "Links that are typed gs1:defaultLink or gs1:defaultLinkMulti SHALL also be
    described using a descriptive link type": a merchant names the default by flagging a described link."""
    c, gtin, *_ = scene
    a = login(c, members["merchant_a"])
    for kind in ("gs1:defaultLink", "gs1:defaultLinkMulti", "https://gs1.org/voc/defaultLink"):
        r = c.post(f"/v1/products/{gtin}/links", json={"linkType": kind, "href": "https://brand.example/h",
                                                       "title": "Home"}, headers=a)  # fmt: skip
        assert r.status_code == 422 and '"default": true' in r.json()["detail"], (kind, r.text)
    link(c, a, gtin, linkType="gs1:pip", href="https://brand.example/p", title="Product")
    link(c, a, gtin, linkType="gs1:homepage", href="https://brand.example/h", title="Home", default=True)
    assert c.get(f"/01/{gtin}", follow_redirects=False).headers["location"] == "https://brand.example/h"
    entry = c.get(f"/01/{gtin}?linkType=linkset").json()["linkset"][0]
    assert entry[DEFAULT] == [{"href": "https://brand.example/h", "title": "Home"}]
    assert entry["https://ref.gs1.org/voc/homepage"][0]["href"] == "https://brand.example/h"
