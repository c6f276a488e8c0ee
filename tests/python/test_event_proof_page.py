"""The page an event's "check this on chain" link opens on the scan page: the record hashed again and
its proof checked on the chain node while the shopper waits, in words, in both languages; a record
or an anchor changed in the database afterwards is caught by the chain, not vouched for."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient
from sqlalchemy import select

from api.app import create_app
from ledger.store.models import EpcisAnchor, EpcisEvent

from . import test_resolver as resolver
from .conftest import free_port
from .helpers import login
from .test_resolver import chromium_dom, epcis_event, scan

scene, live = resolver.scene, resolver.live  # its fixtures: a product, codes, two anchored events; a server


def _page(c, url: str, lang: str = "en"):
    r = c.get(url, params={"lang": lang}, headers={"Accept": "text/html"})
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("text/html")
    assert (
        "script-src" not in r.headers["content-security-policy"]
        and "default-src 'none'" in r.headers["content-security-policy"]
    )
    state = re.search(r'id="verdict" data-state="(\w+)"', r.text).group(1)
    checks = re.findall(r'<li data-ok="(true|false)" data-key="(\w+)">', r.text)
    return state, [(ok == "true", key) for ok, key in checks], r.text


def test_each_event_on_the_scan_page_links_to_its_proof_checked_on_chain_in_words(scene):
    c, _, _, issue, _ = scene
    d = scan(c, issue["sample"][1]).json()
    chained, merkle = d["supply_chain"]
    assert chained["anchor"]["method"] == "batch_chain" and merkle["anchor"]["method"] == "merkle"
    for ev, found in ((chained, "chain_entry"), (merkle, "event_anchored")):
        url = ev["anchor"]["page_url"]
        assert url == "/scan/events/" + ev["hash_id"].split(";")[1][:64]
        state, checks, html = _page(c, url)
        assert state == "holds" and checks == [(True, "record_hashes"), (True, found)], html
        assert f"block {ev['anchor']['block_number']}" in html and ev["anchor"]["tx_hash"] in html
        assert "/v1/epcis/proofs/" in html and "Provenance.verifyEvent" in html or found == "chain_entry"
        state, _, zh = _page(c, url, "zh")
        assert state == "holds" and "证明成立" in zh and "刚刚核验" in zh and 'lang="zh-CN"' in zh
    page = c.get("/" + issue["sample"][1].split("://", 1)[1].split("/", 1)[1] + "&lang=en").text
    assert f'href="{merkle["anchor"]["page_url"]}?lang=en">Check this on chain</a>' in page


def test_a_record_or_anchor_changed_in_the_database_fails_on_the_page(scene):
    c, _, _, issue, _ = scene
    merkle = scan(c, issue["sample"][1]).json()["supply_chain"][1]
    url = merkle["anchor"]["page_url"]
    with c.app.state.services.sessions() as db:
        row = db.scalar(select(EpcisEvent).where(EpcisEvent.hash_id == merkle["hash_id"]))
        body, anchor = row.body, db.get(EpcisAnchor, row.anchor_id)
        root = anchor.root
        row.body = body.replace("2026-11-02T09:00:00", "2026-11-05T09:00:00")  # shipped three days later
        db.commit()
        state, checks, html = _page(c, url)
        assert state == "fails" and checks == [(False, "record_differs")] and "does not hold" in html
        row.body, anchor.root = body, "0x" + "ab" * 32  # the record back, the root another
        db.commit()
        state, checks, html = _page(c, url, "zh")
        assert state == "fails" and checks == [(True, "record_hashes"), (False, "tree_broken")] and "证明不成立" in html
        chained = db.get(EpcisAnchor, db.scalar(select(EpcisEvent.anchor_id).where(EpcisEvent.id != row.id)))
        anchor.root, tx, anchor.tx_hash = root, anchor.tx_hash, chained.tx_hash  # another transaction named
        db.commit()
        state, checks, _ = _page(c, url)
        assert state == "fails" and checks == [(True, "record_hashes"), (False, "tx_not_root")]
        anchor.tx_hash = tx
        db.commit()
    assert _page(c, url)[0] == "holds"


def test_an_event_not_yet_anchored_says_so_and_bad_hashes_are_4xx(scene, members):
    c, gtin, _, _, _ = scene
    event = epcis_event("receiving", "2026-11-03T09:00:00+08:00", "OBSERVE")
    event["epcList"] = [f"https://id.gs1.org/01/{gtin}/21/NOT-YET"]
    r = c.post("/v1/epcis/capture", json=event, headers=login(c, members["logistics"]))
    assert r.status_code == 201, r.text
    digest = r.json()["events"][0]["hashId"].split(";")[1][:64]
    state, checks, html = _page(c, f"/scan/events/{digest}")
    assert state == "pending" and checks == [(True, "record_hashes"), (False, "not_anchored")]
    assert "Not on chain yet" in html and "not anchored yet (queued for the next anchor)" in html, html
    _, _, html = _page(c, f"/scan/events/{digest}", "zh")  # the state in words, not its code (phone trial)
    assert "尚未锚定（已排队，稍后上链）" in html and "（pending）" not in html, html
    assert c.get("/scan/events/" + "0" * 64).status_code == 404
    r = c.get("/scan/events/" + "0" * 64, params={"lang": "zh"}, headers={"Accept": "text/html"})  # a browser: a page
    assert r.status_code == 404 and r.headers["content-type"].startswith("text/html"), r.text
    assert "找不到这条供应链事件" in r.text and 'name="viewport"' in r.text, r.text
    for bad in ("abc", digest.upper(), digest + "00", digest[:40]):
        assert c.get("/scan/events/" + bad).status_code == 422
        # a person's browser on a link cut short or mistyped: the page that says so, not JSON (phone trial)
        r = c.get("/scan/events/" + bad, params={"lang": "zh"}, headers={"Accept": "text/html"})
        assert r.status_code == 404 and "找不到这条供应链事件" in r.text, r.text
    assert c.get(f"/scan/events/{digest}?lang=fr").status_code == 422
    r = c.get(f"/scan/events/{digest}?lang=fr", headers={"Accept": "text/html", "Accept-Language": "en"})
    assert r.status_code == 200 and "Not on chain yet" in r.text  # its own language, not a JSON 422


def test_the_proof_page_in_a_real_browser(live, tmp_path):
    base, issue = live
    import httpx

    d = httpx.get(base + "/" + issue["sample"][1].split("://", 1)[1].split("/", 1)[1],
                  headers={"Accept": "application/json"}).json()  # fmt: skip
    dom = chromium_dom(base + d["supply_chain"][1]["anchor"]["page_url"], "zh-CN", tmp_path / "profile")
    assert 'data-state="holds"' in dom and "证明成立" in dom and dom.count('data-ok="true"') == 2


def test_a_chain_node_that_does_not_answer_leaves_the_proof_unchecked_not_failed(scene):
    c, _, _, issue, _ = scene
    url = scan(c, issue["sample"][1]).json()["supply_chain"][1]["anchor"]["page_url"]
    down = f"http://127.0.0.1:{free_port()}"  # the scene's database, a node that does not answer
    settings = c.app.state.services.settings.model_copy(update={"rpc_url": down, "rpc_timeout_s": 2})
    with TestClient(create_app(settings)) as dead:
        state, checks, html = _page(dead, url)
    assert state == "unchecked" and checks == [(True, "record_hashes"), (False, "node_error")], html


def test_an_event_its_recorder_declared_erroneous_says_so_on_the_scan_page_and_its_proof_holds(scene, members):
    """EPCIS error declarations (ledger.trace.epcis.declarations) reach the shopper: the event stays
    in the supply chain, marked in words, and its proof still holds (the declaration is not hashed)."""
    c, gtin, _, issue, _ = scene
    serial = issue["sample"][1].split("/21/")[1].split("?")[0]
    shipped = epcis_event("shipping", "2026-11-02T09:00:00+08:00", "OBSERVE")
    shipped["epcList"] = [f"https://id.gs1.org/01/{gtin}/21/{serial}"]
    shipped["errorDeclaration"] = {"declarationTime": "2026-11-04T09:00:00+08:00", "reason": "did_not_occur"}
    r = c.post("/v1/epcis/capture", json=shipped, headers=login(c, members["logistics"]))
    assert r.status_code == 201 and r.json()["declared"] == 1, r.text
    ev = scan(c, issue["sample"][1]).json()["supply_chain"][1]
    assert ev["error_declared"] == {"at": "2026-11-04T09:00:00+08:00", "reason": "did_not_occur"}, ev
    assert _page(c, ev["anchor"]["page_url"])[0] == "holds"
    path = "/" + issue["sample"][1].split("://", 1)[1].split("/", 1)[1]
    zh, en = "记录者已声明此记录有误：该事件并未发生", "Declared erroneous by its recorder: it did not occur"
    for lang, words in (("zh", zh), ("en", en)):
        page = c.get(path + f"&lang={lang}", headers={"Accept": "text/html"}).text
        assert f'<strong class="error-declared" data-reason="did_not_occur">{words}</strong>' in page, page
