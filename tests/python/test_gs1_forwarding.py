"""The request's key=value pairs passed on in a redirect land in the target's query, before any
fragment it has (appended after `#section`, they were part of the fragment: never sent to the
target's server, and a `?` in the fragment was taken for a query)."""

from __future__ import annotations

from urllib.parse import parse_qsl, urlsplit

from .helpers import login
from .test_gs1_resolver import link
from .test_resolver import path_of, scene  # noqa: F401 - the fixture


def test_pairs_go_into_the_query_not_the_fragment(scene, members):  # noqa: F811
    c, gtin, _, issue, _ = scene
    a = login(c, members["merchant_a"])
    link(c, a, gtin, linkType="gs1:recipeInfo", href="https://brand.example/r?x=1#steps?no=1", title="Recipes")
    item = "/" + path_of(issue["sample"][0])
    r = c.get(f"{item}&linkType=gs1:recipeInfo&17=271231", follow_redirects=False)
    assert r.status_code == 307, r.text
    parts = urlsplit(r.headers["location"])
    assert parts.fragment == "steps?no=1" and ("17", "271231") in parse_qsl(parts.query), r.headers["location"]
    assert ("x", "1") in parse_qsl(parts.query)
