"""What a person's browser is shown where the resolver answers a program with a JSON error.

A phone that scans a product-level code (`/01/{gtin}`, `/01/{gtin}/10/{lot}`) whose brand has
published no default link, a GTIN this service holds nothing about, or a malformed Digital Link
got raw JSON. A request whose Accept names `text/html` (a browser's) now gets a short page in
Chinese or English saying what the code is and what to do instead, with the same status code and
headers; a program (JSON, linkset, `*/*`) gets the JSON as before. The page has one style block,
allowed by its hash, and no script."""

from __future__ import annotations

import base64
import hashlib
import re
from functools import cache
from urllib.parse import parse_qsl, unquote, urlencode

from markupsafe import escape
from starlette.types import Scope

from ledger.i18n import catalog, negotiate
from ledger.trace.resolver_links import Link

from ..core.segments import raw_path

STYLE = (
    'body{font:16px/1.5 system-ui,-apple-system,"PingFang SC","Noto Sans CJK SC",sans-serif;margin:0;color:#1f2328}'
    "main{max-width:34rem;margin:auto;padding:1rem}h1{font-size:1.3rem}h2{font-size:1rem;color:#57606a}small{color:#57606a}"
    "code{word-break:break-all}li a{display:inline-block;min-height:44px;padding:.6rem 0}"
    "#advice{border-left:4px solid #9a6700;padding-left:.75rem}"
    "a.lang{float:right;display:inline-block;min-height:44px;min-width:44px;padding:.6rem .2rem;text-align:center}"
    "label{display:block;color:#57606a}textarea,input{font:inherit;width:100%;box-sizing:border-box;min-height:44px}"
    "button{font:inherit;min-height:44px;padding:.5rem 1rem;border:0;border-radius:4px;background:#0b5cab;color:#fff}"
)
CSP = (
    "default-src 'none'; style-src 'sha256-"
    + base64.b64encode(hashlib.sha256(STYLE.encode()).digest()).decode()
    + "'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
).encode()
#: a malformed code's reasons a shopper meets most (a mistyped or made-up GTIN), said in the page's
#: language; any other reason is the page's general sentence alone on a Chinese page
_REASONS = (
    (re.compile(r"GTIN check digit is (\d), expected (\d)"), "dl_reason_check_digit"),
    (re.compile(r"GTIN must have 8, 12, 13 or 14 digits, not (\d+)"), "dl_reason_length"),
    (re.compile(r"GTIN must contain digits only"), "dl_reason_digits"),
)
#: an item's code in a path: what a counterfeit report names (`api.scan.reports` checks it again)
_ITEM = re.compile(r"/(?:01|gtin)/(\d{8,14})/(?:10|lot)/([^/]+)/(?:21|ser)/([^/]+)/?")
_REPORTABLE = re.compile(r"[!-~]{1,20}")


def for_a_person(accept: str | None) -> bool:
    """The client is a browser showing a page to a person: its Accept names HTML."""
    return "text/html" in (accept or "").lower()


@cache
def _words(lang: str) -> dict[str, str]:
    return catalog("scan", lang)


def page_for(scope: Scope, status: int, gtin: str | None, held=None, detail=None) -> bytes | None:
    """A person's page in place of a 400 or 404's JSON, for a browser's GET or HEAD; else None.
    `held`: (product name, its links) where the GTIN is held here."""
    headers = {k: v.decode("latin-1") for k, v in scope["headers"] if k in (b"accept", b"accept-language")}
    if status not in (400, 404) or scope["method"] not in ("GET", "HEAD") or not for_a_person(headers.get(b"accept")):
        return None
    if isinstance(detail, list):  # problems: their reasons
        detail = "; ".join(str(p.get("reason", p)) if isinstance(p, dict) else str(p) for p in detail)
    query = parse_qsl(scope["query_string"].decode("latin-1"), keep_blank_values=True)
    path = raw_path(scope)
    kept = urlencode([(k, v) for k, v in query if k != "lang"])
    name, links = held if held else (None, ())
    here = (path, kept, _ITEM.fullmatch(path) if status == 400 else None)
    lang, accept_language = dict(query).get("lang"), headers.get(b"accept-language")
    return render(status, lang, accept_language, gtin, name, links, str(detail or ""), here)


def _reason(t: dict[str, str], lang: str, detail: str) -> str:
    for pattern, key in _REASONS:
        m = pattern.search(detail)
        if m:
            return t[key].format(*m.groups())
    return detail if lang == "en" else ""


def _report_form(t: dict[str, str], lang: str, item) -> str:  # noqa: ANN001 - a re.Match
    """The counterfeit report form for a malformed item code (a fake label may carry a wrong one)."""
    gtin, lot, serial = item.group(1).zfill(14), unquote(item.group(2)), unquote(item.group(3))
    if not (_REPORTABLE.fullmatch(lot) and _REPORTABLE.fullmatch(serial)):
        return ""
    hidden = "".join(f'<input type="hidden" name="{k}" value="{escape(v)}">'
                     for k, v in (("gtin", gtin), ("lot", lot), ("serial", serial), ("lang", lang)))  # fmt: skip
    return (
        f'<section id="report"><h2>{escape(t["report_title"])}</h2><p>{escape(t["report_intro"])}</p>'
        f'<form method="post" action="/v1/scan/reports" id="report-form">{hidden}'
        f'<p><label for="report-message">{escape(t["report_message"])}</label>'
        '<textarea id="report-message" name="message" required maxlength="1000" rows="3"></textarea></p>'
        f'<p><label for="report-place">{escape(t["report_place"])}</label>'
        '<input id="report-place" name="place" maxlength="100"></p>'
        f'<p><label for="report-contact">{escape(t["report_contact"])}</label>'
        '<input id="report-contact" name="contact" maxlength="100"></p>'
        f'<p><button type="submit">{escape(t["report_send"])}</button></p></form></section>'
    )


def render(
    status: int,
    query_lang: str | None,
    accept_language: str | None,
    gtin: str | None,
    product: str | None = None,
    links: list[Link] | tuple[Link, ...] = (),
    detail: str = "",
    here: tuple[str, str, object] | None = None,
) -> bytes:
    """The page for a 400 (malformed: `detail` says why), or a 404 of a GTIN held here (`product`
    its name; `links` those the brand published) or not held here (`product` None). `here`: the
    request's path, its query without `lang` (the language switch's link), and, for a malformed
    item code, its parts (the counterfeit report form)."""
    lang = negotiate(query_lang, accept_language)
    t = _words(lang)
    if status == 400:
        reason = _reason(t, lang, detail)
        text = t["dl_invalid_text" if reason else "dl_invalid_text_plain"].format(detail=escape(reason[:300]))
        title = t["dl_invalid_title"]
    elif product is None:
        title, text = t["dl_unknown_title"], t["dl_unknown_text"].format(gtin=escape(gtin or ""))
    else:
        title, text = product, t["dl_product_text"]
    listed = "".join(
        f'<li><a href="{escape(x.href)}" rel="noopener noreferrer">{escape(x.title)}</a></li>'
        for x in links
        if x.href.startswith(("https://", "http://"))
    )
    body = (
        f'<!doctype html><html lang="{"zh-CN" if lang == "zh" else "en"}"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{escape(title)}</title><style>{STYLE}</style></head><body><main>"
        + (_switch(lang, here[0], here[1]) if here else "")
        + f"<h1>{escape(title)}</h1>"
        + (f"<p><small>GTIN {escape(gtin)}</small></p>" if gtin and product is not None else "")
        + f'<p id="advice">{text}</p>'
        + (f'<h2>{escape(t["dl_links"])}</h2><ul id="links">{listed}</ul>' if listed else "")
        + (_report_form(t, lang, here[2]) if here and here[2] else "")
        + "</main></body></html>"
    )
    return body.encode()


def _switch(lang: str, path: str, kept: str) -> str:
    other = "en" if lang == "zh" else "zh"
    href = f"{path}?{kept + '&' if kept else ''}lang={other}"
    return f'<a class="lang" href="{escape(href)}" lang="{other}">{"English" if other == "en" else "中文"}</a>'
