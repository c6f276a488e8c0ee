"""A page of a heading and a few words for a person's browser where an API answers JSON (a console
page or an event proof that is not there), in the language asked, with the caller's CSP."""

from __future__ import annotations

from fastapi.responses import HTMLResponse
from markupsafe import Markup, escape


def small_page(lang: str, title: str, body: Markup, csp: str, head: Markup = Markup(""), status: int = 404,
               main_id: str = "") -> HTMLResponse:  # fmt: skip
    """`body` and `head` are markup the caller built (their words escaped); the title is escaped here."""
    main = f' id="{main_id}"' if main_id else ""
    html = (
        f'<!doctype html><html lang="{"zh-CN" if lang == "zh" else "en"}"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{escape(title)}</title>{head}</head><body><main{main}>"
        f"<h1>{escape(title)}</h1>{body}</main></body></html>"
    )
    return HTMLResponse(html, status, headers={"Content-Security-Policy": csp, "Cache-Control": "no-store"})
