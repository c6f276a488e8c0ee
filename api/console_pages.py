"""The web console's pages: server-rendered HTML in Chinese or English, each with one external
module script (`/console/static/console.js`) that signs in and talks to the API. No inline
script or style, so the console's Content-Security-Policy allows scripts and styles from this
origin only.

Why this shape: the pages are few and mostly forms and tables over the API the service already
has, so plain HTML from the server (translated here, fast to first paint, usable before any
script runs) with one small script for what needs the browser (decrypting a keystore, signing,
calling the API) keeps it simple to build and maintain; no front-end build step, and the only
browser library is ethers (from npm, served as its own file) for keystores and signatures."""

from __future__ import annotations

import json
from html import escape

from .console_text import table

CSP = (
    b"default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; connect-src 'self'; "
    b"form-action 'none'; base-uri 'none'; frame-ancestors 'none'"
)
PAGES = ("signin", "merchant", "auditor", "governor")


def language(lang: str | None, accept_language: str | None) -> str:
    if lang in ("zh", "en"):
        return lang
    return "en" if (accept_language or "").lower().startswith("en") else "zh"


def _nav(t: dict[str, str], page: str, lang: str) -> str:
    items = [("signin", "/console/"), ("merchant", "/console/merchant"), ("auditor", "/console/auditor"),
             ("governor", "/console/governor")]  # fmt: skip
    current = ' aria-current="page"'
    links = "".join(
        f'<li><a href="{href}?lang={lang}"{current if name == page else ""}>{escape(t["nav_" + name])}</a></li>'
        for name, href in items
    )
    other = "en" if lang == "zh" else "zh"
    return (
        f'<nav aria-label="{escape(t["title"])}"><ul>{links}</ul>'
        f'<a class="lang" href="?lang={other}" lang="{other}">{escape(t["lang_switch"])}</a>'
        f'<span id="who" role="status"></span><button type="button" id="signout" hidden>{escape(t["sign_out"])}'
        "</button></nav>"
    )


def _field(label: str, control: str, ident: str) -> str:
    return f'<p class="field"><label for="{ident}">{escape(label)}</label>{control}</p>'


def _signin(t: dict[str, str]) -> str:
    return (
        f'<section aria-labelledby="h-signin"><h1 id="h-signin">{escape(t["signin_title"])}</h1>'
        f"<p>{escape(t['signin_intro'])}</p>"
        '<form id="keystore-form">'
        + _field(
            t["keystore_file"], '<input type="file" id="keystore" accept=".json,application/json" required>', "keystore"
        )
        + _field(
            t["password"], '<input type="password" id="password" autocomplete="current-password" required>', "password"
        )
        + f'<p><button type="submit">{escape(t["signin_keystore"])}</button> '
        f'<button type="button" id="wallet">{escape(t["signin_wallet"])}</button></p></form>'
        '<p id="signin-status" role="status" aria-live="polite"></p></section>'
        f'<section aria-labelledby="h-keys" id="keys" hidden><h2 id="h-keys">{escape(t["keys_title"])}</h2>'
        '<form id="key-form">'
        + _field(t["key_name"], '<input id="key-name" maxlength="100" required>', "key-name")
        + f'<p><button type="submit">{escape(t["key_create"])}</button></p></form>'
        '<p id="key-status" role="status" aria-live="polite"></p>'
        f'<table id="key-list"><caption class="sr">{escape(t["keys_title"])}</caption><thead><tr>'
        f'<th scope="col">{escape(t["key_name"])}</th><th scope="col">{escape(t["created"])}</th>'
        f'<th scope="col"><span class="sr">{escape(t["key_revoke"])}</span></th></tr></thead><tbody></tbody></table>'
        "</section>"
    )


def _merchant(t: dict[str, str]) -> str:
    deposit = (
        f'<section aria-labelledby="h-deposit"><h2 id="h-deposit">{escape(t["deposit_title"])}</h2>'
        '<dl id="deposit" class="figures"></dl><form id="deposit-form">'
        + _field(
            t["amount_fen"], '<input type="number" id="deposit-amount" min="1" step="1" required>', "deposit-amount"
        )
        + f'<p><button type="submit">{escape(t["deposit_add"])}</button> '
        f'<button type="button" id="withdraw-request">{escape(t["withdraw_request"])}</button> '
        f'<button type="button" id="withdraw-take">{escape(t["withdraw_take"])}</button></p></form>'
        '<p id="unlock-countdown"></p><p id="deposit-status" role="status" aria-live="polite"></p></section>'
    )
    register = (
        '<form id="product-form" class="inline">'
        + _field(
            t["gtin"], '<input id="product-gtin" inputmode="numeric" pattern="[0-9]{8,14}" required>', "product-gtin"
        )
        + _field(t["name"], '<input id="product-name" maxlength="200" required>', "product-name")
        + f'<p><button type="submit">{escape(t["product_register"])}</button></p></form>'
        '<form id="batch-form" class="inline">'
        + _field(t["gtin"], '<input id="batch-gtin" inputmode="numeric" pattern="[0-9]{8,14}" required>', "batch-gtin")
        + _field(t["lot"], '<input id="batch-lot" maxlength="20" required>', "batch-lot")
        + _field(t["recall_reason"], '<input id="batch-reason" maxlength="500">', "batch-reason")
        + f'<p><button type="submit">{escape(t["batch_register"])}</button> '
        f'<button type="button" id="batch-recall">{escape(t["recall"])}</button></p></form>'
        '<p id="products-status" role="status" aria-live="polite"></p>'
    )
    products = (
        f'<section aria-labelledby="h-products"><h2 id="h-products">{escape(t["products_title"])}</h2>'
        f'<table id="products"><caption class="sr">{escape(t["products_title"])}</caption><thead><tr>'
        f'<th scope="col">{escape(t["gtin"])}</th><th scope="col">{escape(t["name"])}</th></tr></thead>'
        "<tbody></tbody></table>" + register + "</section>"
    )
    codes = (
        f'<section aria-labelledby="h-codes"><h2 id="h-codes">{escape(t["codes_title"])}</h2><form id="codes-form">'
        + _field(t["gtin"], '<input id="codes-gtin" inputmode="numeric" pattern="[0-9]{8,14}" required>', "codes-gtin")
        + _field(t["lot"], '<input id="codes-lot" maxlength="20" required>', "codes-lot")
        + _field(
            t["count"], '<input type="number" id="codes-count" min="1" max="100000" value="10" required>', "codes-count"
        )
        + f'<p><button type="submit">{escape(t["issue"])}</button></p></form>'
        '<progress id="codes-progress" hidden></progress><p id="codes-status" role="status" aria-live="polite"></p>'
        f'<p id="codes-downloads" hidden><a id="labels-pdf" href="#" download>{escape(t["labels_pdf"])}</a> '
        f'<a id="codes-csv" href="#" download>{escape(t["codes_csv"])}</a></p>'
        f'<figure id="qr" hidden><img id="qr-img" alt="{escape(t["qr_preview"])}" width="160" height="160">'
        '<figcaption id="qr-caption"></figcaption></figure></section>'
    )
    scans = (
        f'<section aria-labelledby="h-scans"><h2 id="h-scans">{escape(t["scans_title"])}</h2>'
        f'<div id="scans-chart" role="img" aria-label="{escape(t["scans_chart"])}"></div>'
        f'<table id="scans"><caption class="sr">{escape(t["scans_title"])}</caption><thead><tr>'
        + "".join(
            f'<th scope="col">{escape(t[k])}</th>' for k in ("day", "scans", "codes_scanned", "networks", "suspicious")
        )
        + f'</tr></thead><tbody></tbody></table><h3>{escape(t["suspicious_codes"])}</h3><ul id="suspicious"></ul>'
        "</section>"
    )
    epcis = (
        f'<section aria-labelledby="h-epcis"><h2 id="h-epcis">{escape(t["epcis_title"])}</h2><form id="epcis-form">'
        + _field(
            t["epcis_file"], '<input type="file" id="epcis-file" accept=".json,.jsonld,.xml" required>', "epcis-file"
        )
        + f'<p><button type="submit">{escape(t["upload"])}</button></p></form>'
        '<div id="epcis-result" role="status" aria-live="polite"></div></section>'
    )
    return f"<h1>{escape(t['nav_merchant'])}</h1>" + deposit + products + codes + epcis + scans


def _auditor(t: dict[str, str]) -> str:
    return (
        f'<h1>{escape(t["nav_auditor"])}</h1><section aria-labelledby="h-recon"><h2 id="h-recon">'
        f'{escape(t["recon_title"])}</h2><div id="recon-chart" role="img" aria-label="{escape(t["breaks_chart"])}">'
        '</div><table id="recon"><caption class="sr">{escape(t["recon_title"])}</caption>'
        f'<thead><tr><th scope="col">#</th><th scope="col">{escape(t["created"])}</th>'
        f'<th scope="col">{escape(t["verdict"])}</th><th scope="col">{escape(t["breaks"])}</th></tr></thead>'
        "<tbody></tbody></table></section>"
        f'<section aria-labelledby="h-audit"><h2 id="h-audit">{escape(t["audit_title"])}</h2><table id="audit">'
        f'<caption class="sr">{escape(t["audit_title"])}</caption><thead><tr>'
        f'<th scope="col">{escape(t["created"])}</th>'
        f'<th scope="col">{escape(t["who"])}</th><th scope="col">{escape(t["what"])}</th>'
        f'<th scope="col">{escape(t["outcome"])}</th></tr></thead><tbody></tbody></table></section>'
    )


def _governor(t: dict[str, str]) -> str:
    heads = "".join(f'<th scope="col">{escape(t[k])}</th>' for k in ("action", "reason", "approvals", "status"))
    return (
        f'<h1>{escape(t["nav_governor"])}</h1><section aria-labelledby="h-proposals"><h2 id="h-proposals">'
        f'{escape(t["proposals_title"])}</h2><p id="council"></p><table id="proposals"><caption class="sr">'
        f'{escape(t["proposals_title"])}</caption><thead><tr><th scope="col">#</th>{heads}'
        f'<th scope="col"><span class="sr">{escape(t["approve"])}</span></th></tr></thead><tbody></tbody></table>'
        '<p id="governor-status" role="status" aria-live="polite"></p></section>'
    )


def _unlock(t: dict[str, str]) -> str:
    """The form a write asks the keystore's password with, hidden until a transaction needs signing."""
    return (
        f'<form id="unlock-form" hidden aria-labelledby="h-unlock"><h2 id="h-unlock">{escape(t["unlock_title"])}</h2>'
        f"<p>{escape(t['unlock_intro'])}</p>"
        + _field(
            t["password"],
            '<input type="password" id="unlock-password" autocomplete="current-password">',
            "unlock-password",
        )  # fmt: skip
        + f'<p><button type="submit">{escape(t["unlock"])}</button></p>'
        '<p id="unlock-status" role="status" aria-live="polite"></p></form>'
    )


def render(page: str, lang: str) -> str:
    t = table(lang)
    body = {"signin": _signin, "merchant": _merchant, "auditor": _auditor, "governor": _governor}[page](t)
    if page != "signin":
        body = _unlock(t) + body
    data = escape(json.dumps(t, ensure_ascii=False), quote=False)
    return (
        f'<!doctype html><html lang="{lang}"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{escape(t['nav_' + page])} · {escape(t['title'])}</title>"
        '<link rel="stylesheet" href="/console/static/console.css">'
        '<script src="/console/static/ethers.umd.min.js" defer></script>'
        '<script type="module" src="/console/static/console.js"></script></head>'
        f'<body data-page="{page}" data-lang="{lang}"><a class="skip" href="#main">{escape(t["skip"])}</a>'
        f'<header>{_nav(t, page, lang)}</header><main id="main" tabindex="-1">{body}</main>'
        f'<script type="application/json" id="i18n">{data}</script></body></html>'
    )
