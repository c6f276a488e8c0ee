"""The GS1-conformant resolver in front of the scan page: HEAD/OPTIONS/CORS, 400 for malformed
Digital Links, linksets, link types (307 / 300 / 404), language and context negotiation, fallback
from unknown lots and serials to the product's links, a recalled batch's recall link, links only
for own products, and the resolver's description."""

from __future__ import annotations

import html
import json
import re

import jsonschema
import pytest

from ledger.chain.indexer import Indexer
from ledger.paths import ROOT

from .helpers import login
from .test_resolver import path_of, scene  # noqa: F401 - the fixture


def gs1_linkset_schema() -> dict:
    """GS1's own linkset schema (https://ref.gs1.org/standards/resolver/linkset-schema, from
    gs1/linkset, Apache-2.0: copied from `../shared/gs1/linkset/` into `tests/fixtures/gs1/linkset/`
    so that a clone needs nothing beside it), which GS1's resolver standard says linksets SHALL
    validate against; checked to refuse GS1's own invalid examples, so that it is read as GS1 meant."""
    for folder in (ROOT / "tests" / "fixtures" / "gs1" / "linkset", ROOT.parent / "shared" / "gs1" / "linkset"):
        if folder.is_dir():
            schema = json.loads((folder / "gs1-linkset-schema.json").read_text())
            jsonschema.Draft7Validator.check_schema(schema)
            with pytest.raises(jsonschema.ValidationError):
                jsonschema.validate(json.loads((folder / "invalid-gs1-example.json").read_text()), schema)
            return schema
    pytest.fail(f"GS1's linkset schema not found in {ROOT / 'tests' / 'fixtures' / 'gs1'}")


def link(c, h, gtin, **body):
    r = c.post(f"/v1/products/{gtin}/links", json=body, headers=h)
    assert r.status_code == 201, r.text
    return r.json()


def test_links_linksets_and_redirects(scene, members, deployment):  # noqa: F811
    c, gtin, _, issue, _ = scene
    a = login(c, members["merchant_a"])
    item = "/" + path_of(issue["sample"][0])
    bare = item.split("?")[0]
    # OPTIONS and HEAD, CORS everywhere; the item's page is still the scan
    r = c.options(bare)
    assert r.status_code == 204 and r.headers["access-control-allow-origin"] == "*" and "HEAD" in r.headers["allow"]
    r = c.head(item)
    assert r.status_code == 200 and r.content == b"" and 'rel="linkset"' in r.headers["link"]
    r = c.get(item, headers={"Accept": "application/json"})
    assert r.status_code == 200 and r.json()["verdict"] == "genuine" and r.headers["access-control-allow-origin"] == "*"
    assert c.get(item.replace("?", "/?"), headers={"Accept": "application/json"}).json()["verdict"] == "genuine"
    # malformed Digital Links: 400, not a page
    wrong = f"/01/{gtin[:-1]}{(int(gtin[-1]) + 1) % 10}"
    for bad in (wrong, wrong + "/10/AJ-7/21/X", f"/01/{gtin}/10/A%23B", "/01/12AB"):
        r = c.get(bad)
        assert r.status_code == 400 and r.json()["error"] == "invalid_digital_link", bad
    # nothing registered for the product: no default link
    assert c.get(f"/01/{gtin}", follow_redirects=False).status_code == 404
    # ... and a phone's browser reads a page saying what the code is, not JSON (same status)
    browser = {"Accept": "text/html,application/xhtml+xml,*/*;q=0.8", "Accept-Language": "zh-CN,zh;q=0.9"}
    r = c.get(f"/01/{gtin}", headers=browser, follow_redirects=False)
    assert r.status_code == 404 and r.headers["content-type"].startswith("text/html"), r.text
    assert "不是某一件商品" in r.text and f"GTIN {gtin}" in r.text and "default-src 'none'" in r.headers[
        "content-security-policy"]  # fmt: skip
    r = c.get("/01/09506000134352?lang=en", headers=browser)  # a GTIN nobody registered here
    assert r.status_code == 404 and "Product not registered here" in r.text and "09506000134352" in r.text
    assert r.headers["vary"] == "Accept, Accept-Language"  # a cache keeps the page and the JSON apart
    r = c.get(wrong + "?lang=en", headers=browser)
    assert r.status_code == 400 and "not a valid product code" in r.text and "check digit" in r.text, r.text
    # a mistyped or made-up item code: the reason in the page's language, a language switch, and the
    # counterfeit report form (a fake label may carry a wrong code), whose post is taken
    typo = f"{wrong}/10/L%2F1/21/S9?k=x"
    r = c.get(typo, headers=browser)
    assert r.status_code == 400 and "校验位是" in r.text and "check digit" not in r.text, r.text
    switch = re.search(r'<a class="lang" href="([^"]+)"', r.text).group(1)
    assert html.unescape(switch) == f"{typo}&lang=en" and "Content-Security-Policy" not in r.text
    assert "form-action 'self'" in r.headers["content-security-policy"]
    fields = dict(re.findall(r'<input type="hidden" name="(\w+)" value="([^"]*)">', r.text))
    assert fields == {"gtin": wrong[4:], "lot": "L/1", "serial": "S9", "lang": "zh"}, fields
    sent = c.post("/v1/scan/reports", data=fields | {"message": "码打不开，包装可疑"}, headers={"Accept": "text/html"})
    assert sent.status_code == 201 and "已收到您的举报" in sent.text, sent.text
    assert "report-form" not in c.get(wrong + "?lang=zh", headers=browser).text  # no item named: no form
    r = c.get(f"/01/{gtin}?linkType=linkset", headers=browser)  # a linkset: as asked, not a page
    assert r.status_code == 200 and r.headers["content-type"] == "application/linkset+json"
    # merchants register links for their own products only
    pip_zh = link(c, a, gtin, linkType="gs1:pip", href="https://brand.example/zh/tea", title="产品信息",
                  hreflang=["zh"], type="text/html")  # fmt: skip
    link(c, a, gtin, linkType="pip", href="https://brand.example/en/tea", title="Product information", hreflang=["en"])
    for tag in ("zh-Hans", "yue", "es-419"):  # outside GS1's linkset schema: refused when registered
        bad = {"linkType": "pip", "href": "https://brand.example/x", "title": "x", "hreflang": [tag]}
        assert c.post(f"/v1/products/{gtin}/links", json=bad, headers=a).status_code == 422
    link(
        c, a, gtin, linkType="gs1:instructions", href="https://brand.example/brew/a", title="Brewing, A", context="shop"
    )
    link(
        c, a, gtin, linkType="gs1:instructions", href="https://brand.example/brew/b", title="Brewing, B", context="shop"
    )
    link(
        c, a, gtin, linkType="gs1:certificationInfo", href="https://cert.example/tea/AJ-7", title="Organic", lot="AJ-7"
    )
    link(c, a, gtin, linkType="gs1:recallStatus", href="https://brand.example/recall/AJ-7", title="Recall", lot="AJ-7")
    r = c.get(f"/01/{gtin}?linkType=gs1:recipeInfo&lang=en", headers=browser)  # no such link: the ones there are
    assert r.status_code == 404 and 'href="https://brand.example/zh/tea"' in r.text and "Brewing, B" in r.text
    b = login(c, members["merchant_b"])
    refused = c.post(f"/v1/products/{gtin}/links", json={"linkType": "gs1:pip", "href": "https://x.example/",
                                                         "title": "Not mine"}, headers=b)  # fmt: skip
    assert refused.status_code == 403
    bad = c.post(f"/v1/products/{gtin}/links", json={"linkType": "gs1:nonsense", "href": "https://x.example/",
                                                     "title": "x"}, headers=a)  # fmt: skip
    assert bad.status_code == 422
    # the linkset: anchored at the uncompressed URI, every link with href and title
    r = c.get(f"/01/{gtin}/10/AJ-7", params={"linkType": "linkset"})
    assert r.status_code == 200 and r.headers["content-type"] == "application/linkset+json"
    ls = r.json()
    schema = gs1_linkset_schema()
    jsonschema.validate(ls, schema)
    batch, product = ls["linkset"]  # one entry per level the URI names, the request's own (with the default) first
    assert "https://ref.gs1.org/voc/defaultLink" in batch and "https://ref.gs1.org/voc/defaultLink" not in product
    assert product["anchor"].endswith(f"/01/{gtin}") and product["itemDescription"] == "Anji white tea"
    assert len(product["https://ref.gs1.org/voc/pip"]) == 2 and batch["anchor"].endswith(f"/01/{gtin}/10/AJ-7")
    assert "https://ref.gs1.org/voc/certificationInfo" in batch and "https://ref.gs1.org/voc/pip" not in batch
    entries = c.get(item, headers={"Accept": "application/linkset+json"}).json()["linkset"]
    jsonschema.validate({"linkset": entries}, schema)
    assert entries[0]["https://ref.gs1.org/voc/verificationService"][0]["href"].endswith(item.split("/", 1)[1])
    # as JSON (or JSON-LD) when asked, with Vary: Accept; every link also in the Link header, titled
    r = c.get(f"/01/{gtin}/10/AJ-7?linkType=all", headers={"Accept": "application/json"})
    assert r.headers["content-type"] == "application/json" and "Accept" in r.headers["vary"]
    jsonschema.validate(r.json(), schema)
    # JSON-LD: its context in the body too (a JSON-LD processor ignores the Link header's for this type)
    ld = c.get(f"/01/{gtin}/10/AJ-7?linkType=all", headers={"Accept": "application/ld+json"})
    assert ld.headers["content-type"] == "application/ld+json"
    assert ld.json() == {"@context": "https://ref.gs1.org/standards/resolver/linkset-context", **r.json()}
    listed = r.headers["link"]
    assert listed.count('rel="https://ref.gs1.org/voc/') >= 4 and 'title="Brewing, A"' not in listed
    assert 'title="Organic"' in listed and "title*=UTF-8''" in listed  # a Chinese title, as RFC 8187 writes it
    # a path under /01/ that is no Digital Link: 400
    assert c.get(f"/01/{gtin}/foo").status_code == 400
    # a link type: 307 to it, chosen by language; the query string passes on
    prefer_zh = {"Accept-Language": "en;q=0.8, zh"}
    r = c.get(f"/01/{gtin}", params={"linkType": "gs1:pip", "17": "271231"}, headers=prefer_zh, follow_redirects=False)
    assert r.status_code == 307 and r.headers["location"] == pip_zh["href"] + "?17=271231"
    assert r.headers["vary"] == "Accept, Accept-Language"
    # data attributes in the query string are GS1 AIs, validated as the path is (a + is set 82's, not a space)
    fine = f"/01/{gtin}?linkType=gs1:pip&3103=000189&15=261200&10=A+B%2FC&7030=156ABC&8008=26120512"
    assert c.get(fine, headers=prefer_zh, follow_redirects=False).status_code == 307
    malformed = ("17=2612", "17=261331", "17=26123X", "3103=00018", "99999=1", "01=09506000134352", "10=A%23B",
                 "10=" + "A" * 21, "8008=2612", "17=%FF%FE%FD%FC%FB%FA", "7030=15")  # fmt: skip
    for bad in malformed:
        for where in (f"/01/{gtin}?linkType=gs1:pip&{bad}", f"{item}&{bad}"):
            r = c.get(where, follow_redirects=False)
            assert r.status_code == 400 and r.json()["error"] == "invalid_digital_link", (where, r.text)
            assert r.json()["detail"][0]["reason"].startswith(f"query parameter {bad.split('=')[0]}:"), r.text
    r = c.get(f"/01/{gtin}?linkType=gs1:pip", headers={"Accept-Language": "en-GB"}, follow_redirects=False)
    assert r.headers["location"] == "https://brand.example/en/tea"
    # two equal links of one type: 300; no link of the type: 404
    r = c.get(f"/01/{gtin}?linkType=gs1:instructions&context=shop", follow_redirects=False)
    assert r.status_code == 300 and len(r.json()["linkset"][0]["https://ref.gs1.org/voc/instructions"]) == 2
    jsonschema.validate({"linkset": r.json()["linkset"]}, schema)
    assert c.get(f"/01/{gtin}?linkType=gs1:smartLabel", follow_redirects=False).status_code == 404
    assert c.get(f"/01/{gtin}?linkType=gs1:nonsense", follow_redirects=False).status_code == 404
    # an unknown lot falls back to the product's links
    r = c.get(f"/01/{gtin}/10/NOSUCHLOT?linkType=gs1:pip", headers={"Accept-Language": "zh-CN"}, follow_redirects=False)
    assert r.status_code == 307 and r.headers["location"] == pip_zh["href"]
    # (without a language preference the two product pages are equally good: 300)
    assert c.get(f"/01/{gtin}/10/NOSUCHLOT?linkType=gs1:pip", follow_redirects=False).status_code == 300
    # the default link: the one flagged as default ...
    link(c, a, gtin, linkType="gs1:homepage", href="https://brand.example/home", title="Home", default=True)
    r = c.get(f"/01/{gtin}/10/AJ-7", follow_redirects=False)
    assert r.status_code == 307 and r.headers["location"] == "https://brand.example/home"
    # ... until the batch is recalled: then its recall notice
    assert c.post(f"/v1/batches/{gtin}/AJ-7/recall", json={"reason": "mould found"}, headers=a).status_code == 200
    dep, _ = deployment
    Indexer(dep, c.app.state.services.engine, confirmations=0).run()
    r = c.get(f"/01/{gtin}/10/AJ-7/", follow_redirects=False)
    assert r.status_code == 307 and r.headers["location"] == "https://brand.example/recall/AJ-7"
    assert c.get(f"/01/{gtin}", follow_redirects=False).headers["location"] == "https://brand.example/home"
    # valid links finer than any held here (a serial without its lot, a consumer product variant):
    # answered at the level held, not a 400 (GS1 Digital Link: /01/{gtin}[/22/{cpv}][/10/{lot}][/21/{ser}])
    # and a third party's serial extension (AI 235, 28 characters at most; a key qualifier of GTIN on its own)
    finer = (f"/01/{gtin}/21/XYZ", f"/01/{gtin}/22/ABC", f"/01/{gtin}/22/ABC/10/AJ-7/21/S1", f"/01/{gtin}/235/T")
    for path in (*finer, f"/01/{gtin}/235/{'T' * 28}"):
        r = c.get(path, follow_redirects=False)
        assert r.status_code == 307, (path, r.text)
    assert c.get(f"/01/{gtin}/22/A%20B", follow_redirects=False).status_code == 400  # no CPV holds a space
    for bad in (f"/01/{gtin}/235/{'T' * 29}", f"/01/{gtin}/10/AJ-7/235/T", f"/01/{gtin}/235/A%20B"):
        assert c.get(bad, follow_redirects=False).status_code == 400, bad
    assert "235" in c.get("/.well-known/gs1resolver").json()["supportedKeyQualifiers"]
    # an unknown product
    assert c.get("/01/09506000134352?linkType=linkset").status_code == 404


def test_resolver_description(scene):  # noqa: F811
    c, *_ = scene
    d = c.get("/.well-known/gs1resolver").json()
    assert d["supportedPrimaryKeys"] == ["01"] and d["resolverRoot"].startswith("http")
    # GS1's schema for description files (transcribed: no package ships it); its `contact` is an object
    schema = json.loads((ROOT / "tests" / "fixtures" / "gs1" / "resolver" / "description-file-schema.json").read_text())
    jsonschema.Draft7Validator.check_schema(schema)
    jsonschema.validate(d, schema, format_checker=jsonschema.FormatChecker())
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(d | {"contact": "the operator"}, schema)
    assert d["compressedDigitalLink"] is True  # answered as their uncompressed URI (test_compliance, owl:sameAs)


@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE"])
def test_other_methods_are_refused(scene, method):  # noqa: F811
    c, gtin, *_ = scene
    r = c.request(method, f"/01/{gtin}")
    assert r.status_code == 405 and "GET" in r.headers["allow"]


def test_resolving_is_within_the_public_budget(deployment, chain_node, tmp_path, members):
    """Linksets and redirects cost database reads: an anonymous client gets the scans' budget, then 429."""
    from .helpers import make_client

    c = make_client(deployment, chain_node, tmp_path, public_rate=3, public_window_s=3600)
    answers = [c.get("/01/09506000134352?linkType=linkset") for _ in range(5)]
    assert [r.status_code for r in answers[:3]] == [404, 404, 404]
    assert answers[4].status_code == 429 and int(answers[4].headers["retry-after"]) >= 1
    assert answers[4].headers["access-control-allow-origin"] == "*"
