"""The shopper's "my purchases" page speaks one language at a time: Chinese or English as asked
(`?lang=`) or as the browser prefers, with a switch to the other; its script's words come from the
same catalog (`ledger/locale/*/purchases.po`), and the script itself holds no sentence of its own."""

from __future__ import annotations

import json
import re
from html.parser import HTMLParser

from fastapi import FastAPI
from fastapi.testclient import TestClient

from api.purchases import pages
from ledger.i18n import catalog
from ledger.paths import ROOT

CJK = re.compile(r"[\u3000-\u303f\u4e00-\u9fff\uff00-\uffef]+")
LATIN = re.compile(r"[A-Za-z]{2,}")
SCRIPT = ROOT / "api" / "purchases" / "static" / "mine.js"


class _Page(HTMLParser):
    """The text a person reads, and the words handed to the script."""

    def __init__(self) -> None:
        super().__init__()
        self.text: list[str] = []
        self.words = ""
        self._in: list[str] = []

    def handle_starttag(self, tag, attrs):
        self._in.append(dict(attrs).get("id") or tag)

    def handle_endtag(self, tag):
        self._in.pop()

    def handle_data(self, data):
        if self._in and self._in[-1] == "i18n":
            self.words += data
        elif not self._in or self._in[-1] != "script":
            self.text.append(data)


def _client() -> TestClient:
    app = FastAPI()
    app.include_router(pages.router, prefix="/v1/purchases")
    return TestClient(app)


def _read(html: str) -> tuple[str, dict]:
    p = _Page()
    p.feed(html)
    return " ".join(p.text), json.loads(p.words)


def test_each_language_alone_with_a_switch():
    c = _client()
    for lang, other_script, switch in (("zh", LATIN, "English"), ("en", CJK, "中文")):
        r = c.get(f"/v1/purchases/mine?lang={lang}")
        assert r.status_code == 200 and f'<html lang="{"zh-CN" if lang == "zh" else "en"}"' in r.text
        text, words = _read(r.text)
        assert set(other_script.findall(text)) == {switch}, (lang, other_script.findall(text))
        assert words == catalog("purchases", lang)
        assert f'href="mine?lang={"en" if lang == "zh" else "zh"}"' in r.text
        assert "script-src 'self'" in r.headers["content-security-policy"]  # the words are data, not code


def test_the_browser_language_is_honoured():
    c = _client()
    assert 'lang="en"' in c.get("/v1/purchases/mine", headers={"Accept-Language": "en-GB,en;q=0.8"}).text
    assert 'lang="zh-CN"' in c.get("/v1/purchases/mine", headers={"Accept-Language": "zh-CN,zh;q=0.9"}).text
    assert 'lang="zh-CN"' in c.get("/v1/purchases/mine?lang=zh", headers={"Accept-Language": "en"}).text
    assert c.get("/v1/purchases/mine?lang=fr").status_code == 422


def test_both_catalogs_say_everything_the_script_asks_for():
    zh, en = catalog("purchases", "zh"), catalog("purchases", "en")
    assert zh.keys() == en.keys()
    for key in zh:
        assert re.findall(r"\{\w+\}", zh[key]) == re.findall(r"\{\w+\}", en[key]), key
        assert not CJK.search(en[key]) or key == "switch", key
        assert set(LATIN.findall(re.sub(r"\{\w+\}", "", zh[key]))) <= {"English"}, key
    script = SCRIPT.read_text()
    assert not CJK.search(script), "a sentence of its own in the script"
    asked = set(re.findall(r'\bt\("([\w:]+)"', script))
    asked |= {f"{kind}:{what}" for kind in ("did", "ok") for what in ("review", "claim", "dispute", "award")}
    asked |= set(re.findall(r'"(error:\w+)"', script))
    assert asked <= zh.keys(), asked - zh.keys()


def test_a_script_end_tag_in_the_words_cannot_close_the_block():
    assert "</script>" not in pages.page("en").split('id="i18n">')[1].removesuffix("</script></body></html>")


def test_the_proving_key_is_streamed_and_revalidated():
    c = _client()
    r = c.get("/v1/purchases/static/purchase.zkey")
    assert r.status_code == 200 and len(r.content) > 1_000_000 and r.headers["etag"], r.headers
    again = c.get("/v1/purchases/static/purchase.zkey", headers={"If-None-Match": r.headers["etag"]})
    assert again.status_code == 304 and again.content == b""
    js = c.get("/v1/purchases/static/poseidon.js")  # rewritten for the browser: bare imports pointed here
    assert js.status_code == 200 and 'from "./ffjavascript.js"' in js.text and js.headers["etag"]
