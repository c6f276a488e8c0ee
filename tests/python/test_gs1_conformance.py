"""The resolver against the checks of GS1's resolver conformance test suite (gs1/GS1DL-resolver-testsuite)
and the clauses of the GS1-Conformant Resolver standard they quote, through HTTP as that suite probes."""

from __future__ import annotations

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
