"""GS1's own Digital Link toolkit (npm `digital-link.js`) accepts every code URI we issue, reading
the same GTIN, lot and serial, with our signature parameters as attributes."""

from __future__ import annotations

import json
import shutil
import subprocess
from urllib.parse import quote

from ledger.paths import ROOT
from ledger.trace import digital_link

from .helpers import login
from .test_resolver import scene  # noqa: F401 - the fixture


def toolkit(uris: list[str]) -> list[dict]:
    node = shutil.which("node")
    assert node, "node is needed (make test installs the npm packages)"
    out = subprocess.run(
        [node, str(ROOT / "tools" / "check_digital_links.js")],
        input=json.dumps(uris), capture_output=True, text=True, check=True, cwd=ROOT, timeout=60,
    )  # fmt: skip
    return json.loads(out.stdout)


def test_every_issued_code_is_a_valid_digital_link(scene, members):  # noqa: F811
    c, gtin, _, issue, _ = scene
    a = login(c, members["merchant_a"])
    # a batch whose lot needs escaping in a URI, and every code of it
    assert c.post("/v1/batches", json={"gtin": gtin, "lot": "HZ/2026-11"}, headers=a).status_code == 201
    more = c.post(f"/v1/batches/{gtin}/HZ%2F2026-11/codes", json={"count": 20}, headers=a).json()
    listing = c.get(f"/v1/code-issues/{more['issue_id']}/codes.csv", headers=a)
    assert listing.status_code == 200
    uris = list(issue["sample"])
    for row in listing.text.splitlines()[1:]:
        uris += [f for f in row.split(",") if f.startswith("http")]
    assert len(uris) >= 20 and any("HZ%2F2026-11" in u for u in uris)
    for got in toolkit(uris):
        assert got["valid"], got
        ours = digital_link.parse(got["uri"])
        assert got["identifier"] == {"01": ours.gtin}
        assert got["keyQualifiers"]["10"] in (ours.lot, quote(ours.lot, safe=""))
        assert set(got["attributes"]) == {"k", "s"}
    # the same codes compressed by GS1's toolkit: our resolver reads them as the codes themselves
    for got in toolkit(uris[:5]):
        path = "/" + got["compressed"].split("/", 3)[3]
        r = c.get(path, headers={"Accept": "application/json"})
        assert r.status_code == 200 and r.json()["verdict"] == "genuine", (path, r.text)
        same_as = r.headers["link"].split(", ")[-1]
        assert 'rel="owl:sameAs"' in same_as and digital_link.parse(same_as[1:same_as.index(">")]).serial == \
            digital_link.parse(got["uri"]).serial  # fmt: skip
    # partly compressed (the GTIN as it is, the rest compressed), our signature parameters as a query
    for got in toolkit(uris[:5]):
        path = "/" + got["partly"].split("/", 3)[3]
        assert path.startswith(f"/01/{gtin}/") and path.count("/") == 3, path
        r = c.get(f"{path}?{got['uri'].split('?', 1)[1]}", headers={"Accept": "application/json"})
        assert r.status_code == 200 and r.json()["verdict"] == "genuine", (path, r.text)
        assert 'rel="owl:sameAs"' in r.headers["link"]
    assert c.get(f"/01/{gtin}/AAAAAAAAAAAA").status_code == 400  # no compressed rest: a malformed link
    r = c.get("/" + toolkit([f"https://id.gs1.org/01/{gtin}"])[0]["compressed"].split("/", 3)[3] + "?linkType=linkset")
    assert r.status_code == 200 and r.json()["linkset"][0]["anchor"].endswith(f"/01/{gtin}")
