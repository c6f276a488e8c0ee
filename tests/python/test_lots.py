"""Every lot GS1 allows works end to end: registration, the batch, codes, their Digital Link URIs
(percent-encoded as GS1 Digital Link prescribes), the scan (JSON and page), the code's proof and
`ledger verify`. A lot GS1 does not allow is refused at registration, naming the character."""

from __future__ import annotations

import csv
import io
from urllib.parse import quote

import pytest

from ledger.trace import digital_link
from ledger.trace.verify import verify_code

from .helpers import login, make_client, new_gtin

AWKWARD_LOTS = ["HC-2026/12", "A%B&C+D", "q?x=1;'\"", "%2F/%41", "(!*,:<=>)", "a/b/c/d"]


@pytest.fixture(scope="module")
def shop(deployment, chain_node, tmp_path_factory, members):
    c = make_client(deployment, chain_node, tmp_path_factory.mktemp("lots"))
    a = login(c, members["merchant_a"])
    gtin = new_gtin()
    assert c.post("/v1/products", json={"gtin": gtin, "name": "Longjing"}, headers=a).status_code == 201
    return c, a, gtin


@pytest.mark.parametrize("lot", AWKWARD_LOTS)
def test_a_lot_of_gs1_characters_works_end_to_end(shop, deployment, lot):
    c, a, gtin = shop
    r = c.post("/v1/batches", json={"gtin": gtin, "lot": lot}, headers=a)
    assert r.status_code == 201, r.text
    path_lot = quote(lot, safe="")  # as a GS1 Digital Link carries it
    got = c.get(f"/v1/batches/{gtin}/{path_lot}", headers=a)
    assert got.status_code == 200 and got.json()["lot"] == lot, got.text

    issue = c.post(f"/v1/batches/{gtin}/{path_lot}/codes", json={"count": 3}, headers=a)
    assert issue.status_code == 201, issue.text
    uri = issue.json()["sample"][0]
    assert f"/10/{path_lot}/21/" in uri and digital_link.parse(uri).lot == lot
    rows = list(csv.DictReader(io.StringIO(c.get(issue.json()["csv_url"], headers=a).text)))
    assert len(rows) == 3 and digital_link.parse(rows[0]["uri"]).lot == lot
    serial = rows[0]["serial"]
    assert c.get(f"/v1/batches/{gtin}/{path_lot}/codes/{serial}.png", headers=a).status_code == 200

    path = "/" + uri.split("://", 1)[1].split("/", 1)[1]
    scan = c.get(path, headers={"Accept": "application/json"})
    assert scan.status_code == 200, scan.text
    assert scan.json()["verdict"] == "genuine" and scan.json()["code"]["lot"] == lot
    page = c.get(path + "&lang=zh")
    assert page.status_code == 200 and "正品" in page.text

    def fetch(link):
        r = c.get(f"/v1/proofs/{link.key_path}")
        assert r.status_code == 200, r.text
        return r.json()

    dep, _ = deployment
    checks = verify_code(dep, uri, fetch)
    assert all(x.ok for x in checks), checks


def test_the_csv_download_names_its_file_safely(shop):
    c, a, gtin = shop
    lot = 'x";y/z'
    assert c.post("/v1/batches", json={"gtin": gtin, "lot": lot}, headers=a).status_code == 201
    issue = c.post(f"/v1/batches/{gtin}/{quote(lot, safe='')}/codes", json={"count": 1}, headers=a).json()
    disposition = c.get(issue["csv_url"], headers=a).headers["content-disposition"]
    assert disposition.startswith(f'attachment; filename="codes-{gtin}-x__y_z-')
    assert "filename*=UTF-8''codes-" in disposition and "x%22%3By%2Fz" in disposition


@pytest.mark.parametrize(("lot", "named"), [("LOT#1", "'#'"), ("两个", "'两'"), ("a b", "' '"), ("x" * 21, "21")])
def test_a_lot_outside_gs1_character_set_82_is_refused_naming_the_character(shop, lot, named):
    c, a, gtin = shop
    r = c.post("/v1/batches", json={"gtin": gtin, "lot": lot}, headers=a)
    assert r.status_code == 422, r.text
    [problem] = r.json()["detail"]
    assert problem["field"] == "body.lot" and named in problem["reason"]
