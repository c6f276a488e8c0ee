"""The web console's pages: Jinja2 templates (`templates/`, autoescaped) in Chinese or English from
the gettext catalogs, each with one external module script (`/console/static/console.js`) that
signs in and talks to the API. No inline script or style, so the console's Content-Security-Policy
allows scripts and styles from this origin only.

Why this shape: the pages are mostly forms and tables over the API the service already has, so
plain HTML from the server (translated, fast to first paint, usable before any script runs) with
one small script for what needs the browser (decrypting a keystore, signing, calling the API)
keeps it simple; no front-end build step, and the only browser library is ethers (from npm,
served as its own file) for keystores and signatures."""

from __future__ import annotations

from functools import cache
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, select_autoescape

from ledger.chain.deploy import DEV_LAYOUT, GOVERNOR_INDEXES
from ledger.chain.explorer import KINDS
from ledger.chain.governance import ACTIONS
from ledger.i18n import catalog

CSP = (
    b"default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; connect-src 'self'; "
    b"form-action 'none'; base-uri 'none'; frame-ancestors 'none'"
)
#: page => the role it serves (None: anyone); the navigation shows a member the pages of its roles
PAGES: dict[str, str | None] = {
    "signin": None,
    "merchant": "merchant",
    "issuer": "issuer",
    "operator": "operator",
    "arbiter": "arbiter",
    "carrier": "logistics",
    "auditor": "auditor",
    "inspector": "inspector",
    "governor": "governor",
}
TEMPLATES = {"operator": "role.html", "carrier": "role.html"}
#: the Membership roles a governor's proposal can give, as the catalog names them (`role_<name>`)
MEMBER_ROLES = ("merchant", "producer", "logistics", "inspector", "auditor", "arbiter", "issuer", "operator")
#: proposal types the governor's form builds (the others are listed and decoded, proposed by API)
PROPOSAL_TYPES = tuple(
    a
    for a in ACTIONS
    if a not in ("recall_batch", "add_validator", "remove_validator") and not a.startswith("set_claim")
)
#: the development members `ledger keys export-dev` exports, with their roles (the sign-in page lists them)
DEV_MEMBERS = [(f"governor_{n + 1}", "governor") for n in range(len(GOVERNOR_INDEXES))] + [
    (label, str(role.name).lower()) for label, role in DEV_LAYOUT.values()
]

ENV = Environment(
    loader=FileSystemLoader(Path(__file__).parent / "templates"),
    autoescape=select_autoescape(default=True, default_for_string=True),
    trim_blocks=True,
    lstrip_blocks=True,
)


@cache
def _strings(lang: str) -> dict[str, str]:
    """What the pages' script reads: the console's catalog, and the scan page's names of CBV's
    business steps (a merchant's uploaded events, by step); made once per language."""
    return catalog("console", lang) | {k: v for k, v in catalog("scan", lang).items() if k.startswith("step:")}


def render(page: str, lang: str) -> str:
    t = catalog("console", lang)
    template = ENV.get_template(TEMPLATES.get(page, f"{page}.html"))
    return template.render(
        t=t,
        m=ENV.get_template("macros.html").make_module({"t": t}),
        page=page,
        role=PAGES[page],
        lang=lang,
        other="en" if lang == "zh" else "zh",
        nav=list(PAGES.items()),
        strings=_strings(lang),
        kinds=KINDS,
        proposal_types=PROPOSAL_TYPES,
        member_roles=MEMBER_ROLES,
        dev_members=DEV_MEMBERS,
    )
