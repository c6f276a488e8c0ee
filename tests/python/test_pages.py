"""The scan page speaks the consumer's language: every verdict, with every reason it can have,
rendered in Chinese and in English, holds no text of the other language beyond the data itself
(names, lots, serials, hashes) and the link that switches language."""

from __future__ import annotations

import ast
import re
from html.parser import HTMLParser

import pytest

from api.console import scan_page as pages
from ledger.i18n import catalog
from ledger.paths import ROOT

#: reason codes with the arguments their messages take
REASON_ARGS = {
    "genuine": {},
    "never_issued": {},
    "not_the_owner": {},
    "malformed": {"detail": "lot must be 1 to 20 characters, not 0"},
    "unsigned": {},
    "unknown_key": {"kid": "1d9cfc87551ef680"},
    "bad_signature": {},
    "bad_tag": {},
    "revoked_key": {"kid": "1d9cfc87551ef680", "at": "2026-12-02T10:00:00+00:00", "why": "印刷厂泄露 leaked"},
    "recalled": {"why": "标签错印 mislabelled"},
    "recalled_no_reason": {},
    "suspicious": {"count": "23", "networks": "5"},
}
VERDICT_OF = {
    "genuine": "genuine",
    "never_issued": "unknown",
    "not_the_owner": "forged",
    "malformed": "forged",
    "revoked_key": "forged",
    "unsigned": "forged",
    "unknown_key": "forged",
    "bad_signature": "forged",
    "bad_tag": "forged",
    "recalled": "recalled",
    "recalled_no_reason": "recalled",
    "suspicious": "suspicious",
}
ADDRESS = "0x" + "ab" * 20
_WINDOW = {
    "device": "0614141AB12",
    "start": "2026-12-01T08:00:00Z",
    "end": "2026-12-01T08:30:00Z",
    "readings": 30,
    "min_c": 3.0,
    "max_c": 6.5,
    "mean_c": 4.2,
    "minutes_outside": 0.0,
    "within": True,
    "batch_sm3": "ab" * 32,
}
COLD_CHAIN = {"rule": {"min_c": 0.0, "max_c": 8.0, "grace_minutes": 0.0}, "excursion": True,
              "windows": [_WINDOW, _WINDOW | {"max_c": 11.5, "within": False, "minutes_outside": 12.0}]}  # fmt: skip
HASH = "0x" + "cd" * 32


def _data(reason_code: str) -> dict:
    verdict = VERDICT_OF[reason_code]
    data = {
        "verdict": verdict,
        "reason": "English reason for JSON clients",
        "reason_code": reason_code,
        "reason_args": REASON_ARGS[reason_code],
        "code": {"gtin": "06901234567892", "lot": "HC-2026/12", "serial": "4JC1TY76519C"},
        "scans_before": {"count": 2, "first_at": "2026-12-01T08:00:00+00:00", "last_at": "2026-12-02T08:00:00+00:00"},
    }
    if verdict in ("genuine", "recalled", "suspicious"):
        step = {"epcis": {"type": "ObjectEvent", "biz_step": "commissioning", "hash_id": "ni:///sha-256;x"}}
        data |= {
            "product": {"gtin": "06901234567892", "name": "西湖龙井 Longjing"},
            "timeline": [
                {"event": "BatchRegistered", "tx_hash": HASH, "block_number": 7, "final": True},
                {"event": "EventRecorded", "tx_hash": HASH, "block_number": 8, "final": True, "index": 0,
                 "event_hash": HASH, "recorder": ADDRESS} | step,
                {"event": "BatchRecalled", "tx_hash": HASH, "block_number": 9, "final": False, "recorder": ADDRESS,
                 "reason": "标签错印 mislabelled"},
            ],
            "supply_chain": [
                {"type": "ObjectEvent", "event_time": "2026-12-01T08:00:00+00:00", "biz_step": step_name,
                 "disposition": None, "read_point": "https://id.gs1.org/414/9520053850113", "recorder": ADDRESS,
                 "hash_id": "ni:///sha-256;y", "anchor": anchor}
                for step_name, anchor in [
                    ("shipping", {"method": "merkle", "root": HASH, "leaf_index": 0, "tx_hash": HASH,
                                  "block_number": 10, "proof_url": "/v1/epcis/proofs/cd",
                                  "page_url": "/scan/events/cd"}),
                    ("sensor_reporting", {"method": "batch_chain", "batch_id": HASH, "index": 1, "tx_hash": HASH,
                                          "block_number": 11, "proof_url": "/v1/epcis/proofs/ce",
                                          "page_url": "/scan/events/ce"}),
                    ("receiving", None),
                ]
            ],
            "merchant": {"address": ADDRESS, "deposit": {"balance_fen": 5000000, "frozen_fen": 1000,
                                                         "required_fen": 100000}, "deposit_unavailable": None},
            "proof": {"root": HASH, "anchor_tx": HASH, "block_number": 6},
            "cold_chain": COLD_CHAIN,
        }  # fmt: skip
    return data


class _Visible(HTMLParser):
    """Text a person reads: outside <code>, <time>, <style> and <title> (the title is checked too)."""

    def __init__(self) -> None:
        super().__init__()
        self.text: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag, attrs):
        if tag in ("code", "time", "style"):
            self._skip += 1

    def handle_endtag(self, tag):
        if tag in ("code", "time", "style"):
            self._skip -= 1

    def handle_data(self, data):
        if not self._skip:
            self.text.append(data)


def visible_text(html: str, data: dict) -> str:
    parser = _Visible()
    parser.feed(html)
    text = " ".join(parser.text)
    for value in (data["code"]["lot"], data["code"]["serial"], "西湖龙井 Longjing", "标签错印 mislabelled",
                  REASON_ARGS["malformed"]["detail"], REASON_ARGS["unknown_key"]["kid"],
                  REASON_ARGS["revoked_key"]["why"], REASON_ARGS["revoked_key"]["at"]):  # fmt: skip
        text = text.replace(value, " ")
    return text


@pytest.mark.parametrize("reason_code", list(REASON_ARGS))
def test_every_verdict_reads_in_chinese_only(reason_code):
    data = _data(reason_code)
    text = visible_text(pages.render(data, "zh", {}), data)
    standard = {"GTIN", "GS", "EPCIS", "SM"}  # standard names (SM3), and the switch's "English"
    words = set(re.findall(r"[A-Za-z]{2,}", text)) - standard - {"English"}
    assert not words, f"English on the Chinese page ({reason_code}): {sorted(words)}"
    assert "English reason" not in text


@pytest.mark.parametrize("reason_code", list(REASON_ARGS))
def test_every_verdict_reads_in_english_only(reason_code):
    data = _data(reason_code)
    text = visible_text(pages.render(data, "en", {}), data)
    chinese = set(re.findall(r"[\u3000-\u303f\u4e00-\u9fff\uff00-\uffef]+", text)) - {"中文"}
    assert not chinese, f"Chinese on the English page ({reason_code}): {sorted(chinese)}"


def test_both_languages_have_every_string():
    for domain in ("scan", "console"):
        assert catalog(domain, "en").keys() == catalog(domain, "zh").keys(), domain
    reasons = {k.removeprefix("reason:") for k in catalog("scan", "en") if k.startswith("reason:")}
    assert reasons == set(REASON_ARGS)


def test_every_reason_the_code_can_give_is_translated():
    """The reason codes the scan answer and the signature check produce, read from their source."""
    found = set()
    sources = (
        "ledger/flows/scan_answer.py",
        "api/scan/verdict.py",
        "ledger/trace/codes.py",
        "ledger/trace/short_codes.py",
    )
    for path in (ROOT / s for s in sources):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Call) and getattr(node.func, "id", None) in ("Reason", "SignatureCheck"):
                position = 0 if node.func.id == "Reason" else 1
                arg = node.args[position] if len(node.args) > position else None
                if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
                    found.add(arg.value)
    reasons = {k.removeprefix("reason:") for k in catalog("scan", "en") if k.startswith("reason:")}
    assert found - {"signed"} == reasons, found


def test_yuan_is_babels_currency_format_exact_from_fen():
    from ledger.i18n import beijing, yuan, yuan_by_babel

    for fen in (0, 1, 5, 99, 100, 123_456_789, -250, 10**15 + 7):
        for lang in ("zh", "en"):
            assert yuan(fen, lang) == yuan_by_babel(fen, lang), (fen, lang)
    assert yuan(100_000, "zh") == "¥1,000.00" and yuan(100_000, "en") == "CN¥1,000.00"
    assert beijing("2026-12-01T08:00:00Z", "zh") == "2026年12月1日 16:00（北京时间）"  # to the minute, no microseconds


def test_one_language_negotiation():
    from ledger.i18n import negotiate

    assert negotiate("en", "zh-CN") == "en" and negotiate(None, "zh-CN,zh;q=0.9") == "zh"
    assert negotiate(None, "fr-FR,en;q=0.8,zh;q=0.5") == "en" and negotiate(None, "en;q=0.3,zh-TW;q=0.9") == "zh"
    assert negotiate(None, None) == "zh" and negotiate(None, "") == "zh" and negotiate(None, "*") == "zh"
    assert negotiate(None, "fr") == "en" and negotiate("xx", "en-GB") == "en"  # a visitor reads English first


CJK = r"[\u3000-\u303f\u4e00-\u9fff\uff00-\uffef]"


@pytest.mark.parametrize("reason_code", list(REASON_ARGS))
def test_the_chinese_page_uses_chinese_punctuation_and_names_the_merchant(reason_code):
    data = _data(reason_code)
    if "merchant" in data:
        data["merchant"]["registered"] = {"name": "杭州西湖茶业有限公司", "credit_code": "91330106MA2B3C4D5E"}
    html = pages.render(data, "zh", {})
    text = visible_text(html, data)
    ascii_by_cjk = re.findall(rf"{CJK}\s*[,.:;()!?]|[,.:;()!?]\s*{CJK}", text)
    assert not ascii_by_cjk, f"ASCII punctuation next to Chinese ({reason_code}): {ascii_by_cjk}"
    assert not re.search(r"\d\d:\d\d:\d\d|\.\d{3,}", text), "times to the minute, without seconds or microseconds"
    if "merchant" in data:
        assert "杭州西湖茶业有限公司" in text and "统一社会信用代码" in text, text
        unnamed = data | {"merchant": data["merchant"] | {"registered": None}}
        assert "未登记名称" in visible_text(pages.render(unnamed, "zh", {}), unnamed)


def test_one_review_is_said_in_the_singular():
    data = _data("genuine")
    for count, said in ((1, "1 verified buyer's review"), (3, "3 verified buyers' reviews")):
        batch = {**(data.get("batch") or {}), "reviews": {"count": count, "rating": 4.5}}
        html = pages.render({**data, "batch": batch}, "en", {})
        assert said in html.replace("&#39;", "'"), html[html.find('id="reviews"') :][:200]


def test_the_report_form_carries_the_codes_query_for_its_way_back():
    """The report's answer links back to the product page; without the code's key and signature that
    page said "forged" of a genuine code (phone trial): the form carries the page's own query."""
    data = _data(next(iter(REASON_ARGS)))
    html = pages.render(data, "zh", {"k": "9c1186d07e55e315", "s": "qeHZ-fW_cd", "lang": "zh", "v": "t0k"})
    assert '<input type="hidden" name="code_query" value="k=9c1186d07e55e315&amp;s=qeHZ-fW_cd&amp;v=t0k">' in html
