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

from . import console_sections
from .console_sections import field
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


def _signin(t: dict[str, str]) -> str:
    return (
        f'<section aria-labelledby="h-signin"><h1 id="h-signin">{escape(t["signin_title"])}</h1>'
        f"<p>{escape(t['signin_intro'])}</p>"
        '<form id="keystore-form">'
        + field(
            t["keystore_file"], '<input type="file" id="keystore" accept=".json,application/json" required>', "keystore"
        )
        + field(
            t["password"], '<input type="password" id="password" autocomplete="current-password" required>', "password"
        )
        + f'<p><button type="submit">{escape(t["signin_keystore"])}</button> '
        f'<button type="button" id="wallet">{escape(t["signin_wallet"])}</button></p></form>'
        '<p id="signin-status" role="status" aria-live="polite"></p></section>'
        f'<section aria-labelledby="h-keys" id="keys" hidden><h2 id="h-keys">{escape(t["keys_title"])}</h2>'
        '<form id="key-form">'
        + field(t["key_name"], '<input id="key-name" maxlength="100" required>', "key-name")
        + f'<p><button type="submit">{escape(t["key_create"])}</button></p></form>'
        '<p id="key-status" role="status" aria-live="polite"></p>'
        f'<table id="key-list"><caption class="sr">{escape(t["keys_title"])}</caption><thead><tr>'
        f'<th scope="col">{escape(t["key_name"])}</th><th scope="col">{escape(t["created"])}</th>'
        f'<th scope="col"><span class="sr">{escape(t["key_revoke"])}</span></th></tr></thead><tbody></tbody></table>'
        "</section>"
    )


def _unlock(t: dict[str, str]) -> str:
    """The form a write asks the keystore's password with, hidden until a transaction needs signing."""
    return (
        f'<form id="unlock-form" hidden aria-labelledby="h-unlock"><h2 id="h-unlock">{escape(t["unlock_title"])}</h2>'
        f"<p>{escape(t['unlock_intro'])}</p>"
        + field(
            t["password"],
            '<input type="password" id="unlock-password" autocomplete="current-password">',
            "unlock-password",
        )  # fmt: skip
        + f'<p><button type="submit">{escape(t["unlock"])}</button></p>'
        '<p id="unlock-status" role="status" aria-live="polite"></p></form>'
    )


def _confirm(t: dict[str, str]) -> str:
    """What a transaction does, decoded in the page from its own `to` and data, shown before the
    password or the wallet is asked for; hidden until a transaction needs signing."""
    return (
        f'<section id="sign-confirm" hidden aria-labelledby="h-sign"><h2 id="h-sign">{escape(t["sign_title"])}</h2>'
        f'<p>{escape(t["sign_intro"])}</p><dl id="sign-call" class="figures"></dl>'
        f'<p><button type="button" id="sign-go">{escape(t["sign_go"])}</button> '
        f'<button type="button" id="sign-cancel">{escape(t["sign_cancel"])}</button></p>'
        '<p id="sign-status" role="status" aria-live="polite"></p></section>'
    )


def render(page: str, lang: str) -> str:
    t = table(lang)
    pages = {"merchant": console_sections.merchant, "auditor": console_sections.auditor}
    body = (pages | {"signin": _signin, "governor": console_sections.governor})[page](t)
    if page != "signin":
        body = _confirm(t) + _unlock(t) + body
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
