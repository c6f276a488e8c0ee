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
from functools import cache

from markupsafe import escape

from ledger.i18n import catalog, negotiate
from ledger.trace.resolver_links import Link

STYLE = (
    'body{font:16px/1.5 system-ui,-apple-system,"PingFang SC","Noto Sans CJK SC",sans-serif;margin:0;color:#1f2328}'
    "main{max-width:34rem;margin:auto;padding:1rem}h1{font-size:1.3rem}h2{font-size:1rem;color:#57606a}small{color:#57606a}"
    "code{word-break:break-all}li a{display:inline-block;min-height:44px;padding:.6rem 0}"
    "#advice{border-left:4px solid #9a6700;padding-left:.75rem}"
)
CSP = (
    "default-src 'none'; style-src 'sha256-"
    + base64.b64encode(hashlib.sha256(STYLE.encode()).digest()).decode()
    + "'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
).encode()


def for_a_person(accept: str | None) -> bool:
    """The client is a browser showing a page to a person: its Accept names HTML."""
    return "text/html" in (accept or "").lower()


@cache
def _words(lang: str) -> dict[str, str]:
    return catalog("scan", lang)


def render(
    status: int,
    query_lang: str | None,
    accept_language: str | None,
    gtin: str | None,
    product: str | None = None,
    links: list[Link] | tuple[Link, ...] = (),
    detail: str = "",
) -> bytes:
    """The page for a 400 (malformed: `detail` says why), or a 404 of a GTIN held here (`product`
    its name; `links` those the brand published) or not held here (`product` None)."""
    lang = negotiate(query_lang, accept_language)
    t = _words(lang)
    if status == 400:
        title, text = t["dl_invalid_title"], t["dl_invalid_text"].format(detail=escape(detail[:300]))
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
        f"<h1>{escape(title)}</h1>"
        + (f"<p><small>GTIN {escape(gtin)}</small></p>" if gtin and product is not None else "")
        + f'<p id="advice">{text}</p>'
        + (f'<h2>{escape(t["dl_links"])}</h2><ul id="links">{listed}</ul>' if listed else "")
        + "</main></body></html>"
    )
    return body.encode()
