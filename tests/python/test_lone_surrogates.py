"""JSON may escape a UTF-16 surrogate alone (`"\\ud800"`): Python's decoder keeps it, but it is no
character, and storing it failed in the database driver, a 500 (found by an outside probe at three
doors that read a body as a plain object). Every door that stores text refuses it with a 4xx; a pair
(an emoji escaped) is one character and is taken."""

from __future__ import annotations

import pytest

from .helpers import login, make_client, new_gtin

JSON = {"Content-Type": "application/json"}
LONE, PAIR = "\\ud800", "\\ud83d\\ude00"


@pytest.fixture
def api(deployment, chain_node, tmp_path, members):
    c = make_client(deployment, chain_node, tmp_path)
    a = login(c, members["merchant_a"])
    gtin = new_gtin()
    assert c.post("/v1/products", json={"gtin": gtin, "name": "Anji white tea"}, headers=a).status_code == 201
    return c, a, gtin


def _doors(gtin: str, text: str) -> list[tuple[str, str]]:
    """(path, JSON body as written) of each door that stores the text."""
    event = (
        '{"@context": ["https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld"], "type": "ObjectEvent",'
        '"eventTime": "2026-11-01T09:00:00+08:00", "eventTimeZoneOffset": "+08:00", "action": "OBSERVE",'
        f'"epcList": ["https://id.gs1.org/01/{gtin}/21/S1"], "example:note": "a{text}"}}'
    )
    return [
        ("/v1/products", f'{{"gtin": "{new_gtin()}", "name": "tea{text}"}}'),
        (
            f"/v1/products/{gtin}/links",
            f'{{"linkType": "gs1:pip", "href": "https://brand.example/p", "title": "P{text}"}}',
        ),
        ("/v1/scan/reports", f'{{"gtin": "{gtin}", "lot": "L1", "serial": "S1", "message": "fake{text}"}}'),
        ("/epcis/queries", f'{{"name": "q{len(text)}", "query": {{"EQ_bizStep": ["ship{text}"]}}}}'),
        ("/v1/epcis/capture", event),
    ]


def test_a_lone_surrogate_is_a_4xx_at_every_door_that_stores_text(api):
    c, a, gtin = api
    for path, body in _doors(gtin, LONE):
        r = c.post(path, content=body.encode(), headers=a | JSON)
        assert 400 <= r.status_code < 500, (path, r.status_code, r.text)


def test_an_escaped_pair_is_one_character_and_taken(api):
    c, a, gtin = api
    for path, body in _doors(gtin, PAIR):
        r = c.post(path, content=body.encode(), headers=a | JSON)
        assert r.status_code in (200, 201), (path, r.status_code, r.text)
