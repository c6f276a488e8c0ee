"""The bodies of the console's role pages (merchant, auditor, governor) as server-rendered HTML:
forms, empty tables and live status regions that `console_static/*.js` fills from the API. Every
string comes from the page's language table; nothing here runs script or carries a style."""

from __future__ import annotations

from html import escape

from ledger.chain.explorer import KINDS


def field(label: str, control: str, ident: str) -> str:
    return f'<p class="field"><label for="{ident}">{escape(label)}</label>{control}</p>'


def _table(t: dict[str, str], ident: str, caption: str, heads: list[str], extra: str = "") -> str:
    cols = "".join(f'<th scope="col">{escape(t[k])}</th>' for k in heads) + extra
    return (
        f'<table id="{ident}"><caption class="sr">{escape(caption)}</caption><thead><tr>{cols}</tr></thead>'
        "<tbody></tbody></table>"
    )


def _status(ident: str) -> str:
    return f'<p id="{ident}" role="status" aria-live="polite"></p>'


def _section(ident: str, title: str, inner: str, level: int = 2) -> str:
    return f'<section aria-labelledby="h-{ident}"><h{level} id="h-{ident}">{escape(title)}</h{level}>{inner}</section>'


def _gtin_input(ident: str) -> str:
    return f'<input id="{ident}" inputmode="numeric" pattern="[0-9]{{8,14}}" required>'


def merchant(t: dict[str, str]) -> str:
    deposit = _section(
        "deposit",
        t["deposit_title"],
        '<dl id="deposit" class="figures"></dl><form id="deposit-form">'
        + field(t["amount_fen"], '<input type="number" id="deposit-amount" min="1" step="1" required>',
                "deposit-amount")
        + f'<p><button type="submit">{escape(t["deposit_add"])}</button> '
        f'<button type="button" id="withdraw-request">{escape(t["withdraw_request"])}</button> '
        f'<button type="button" id="withdraw-take">{escape(t["withdraw_take"])}</button></p></form>'
        '<p id="unlock-countdown"></p>' + _status("deposit-status")
        + f'<h3>{escape(t["cases_title"])}</h3>'
        + _table(t, "cases", t["cases_title"], ["case", "claimant", "amount", "status"]),
    )  # fmt: skip
    register = (
        '<form id="product-form" class="inline">'
        + field(t["gtin"], _gtin_input("product-gtin"), "product-gtin")
        + field(t["name"], '<input id="product-name" maxlength="200" required>', "product-name")
        + f'<p><button type="submit">{escape(t["product_register"])}</button></p></form>'
        '<form id="batch-form" class="inline">'
        + field(t["gtin"], _gtin_input("batch-gtin"), "batch-gtin")
        + field(t["lot"], '<input id="batch-lot" maxlength="20" required>', "batch-lot")
        + field(t["recall_reason"], '<input id="batch-reason" maxlength="500">', "batch-reason")
        + f'<p><button type="submit">{escape(t["batch_register"])}</button> '
        f'<button type="button" id="batch-recall">{escape(t["recall"])}</button></p></form>'
        + _status("products-status")
    )
    products = _section(
        "products",
        t["products_title"],
        _table(t, "products", t["products_title"], ["gtin", "name"])
        + _table(t, "batches", t["batches_title"], ["gtin", "lot", "created", "status"])
        + register,
    )
    codes = _section(
        "codes",
        t["codes_title"],
        '<form id="codes-form">'
        + field(t["gtin"], _gtin_input("codes-gtin"), "codes-gtin")
        + field(t["lot"], '<input id="codes-lot" maxlength="20" required>', "codes-lot")
        + field(t["count"], '<input type="number" id="codes-count" min="1" max="100000" value="10" required>',
                "codes-count")
        + f'<p><button type="submit">{escape(t["issue"])}</button></p></form>'
        '<progress id="codes-progress" hidden></progress>' + _status("codes-status")
        + f'<p id="codes-downloads" hidden><a id="labels-pdf" href="#" download>{escape(t["labels_pdf"])}</a> '
        f'<a id="codes-csv" href="#" download>{escape(t["codes_csv"])}</a></p>'
        f'<figure id="qr" hidden><img id="qr-img" alt="{escape(t["qr_preview"])}" width="160" height="160">'
        '<figcaption id="qr-caption"></figcaption></figure>',
    )  # fmt: skip
    epcis = _section(
        "epcis",
        t["epcis_title"],
        '<p id="epcis-anchoring"></p><form id="epcis-form">'
        + field(t["epcis_file"], '<input type="file" id="epcis-file" accept=".json,.jsonld,.xml" required>',
                "epcis-file")
        + f'<p><button type="submit">{escape(t["upload"])}</button></p></form>'
        '<div id="epcis-result" role="status" aria-live="polite"></div>',
    )  # fmt: skip
    orders = _section(
        "orders",
        t["orders_title"],
        '<dl id="payouts" class="figures"></dl>'
        f'<p><button type="button" id="payouts-pull">{escape(t["payouts_pull"])}</button></p>'
        + _status("payouts-status")
        + _table(t, "orders", t["orders_title"], ["order", "amount", "status", "created"])
        + f'<p><button type="button" id="orders-more" hidden>{escape(t["more_orders"])}</button></p>',
    )
    scans = _section(
        "scans",
        t["scans_title"],
        f'<div id="scans-chart" role="img" aria-label="{escape(t["scans_chart"])}"></div>'
        + _table(t, "scans", t["scans_title"], ["day", "scans", "codes_scanned", "networks", "suspicious"])
        + f'<h3>{escape(t["suspicious_codes"])}</h3><ul id="suspicious"></ul>',
    )
    return f"<h1>{escape(t['nav_merchant'])}</h1>" + deposit + orders + products + codes + epcis + scans


def _explorer(t: dict[str, str]) -> str:
    kinds = f'<option value="">{escape(t["kind_all"])}</option>' + "".join(
        f'<option value="{k}">{escape(t["kind_" + k])}</option>' for k in KINDS
    )
    number = 'type="number" min="0" step="1"'
    form = (
        '<form id="explorer-form" class="inline">'
        + field(t["kind"], f'<select id="explorer-kind">{kinds}</select>', "explorer-kind")
        + field(t["event_name"], '<input id="explorer-event" maxlength="60" pattern="[A-Za-z]+">', "explorer-event")
        + field(t["subject"], '<input id="explorer-subject" maxlength="66">', "explorer-subject")
        + field(t["from_block"], f'<input id="explorer-from" {number}>', "explorer-from")
        + field(t["to_block"], f'<input id="explorer-to" {number}>', "explorer-to")
        + f'<p><button type="submit">{escape(t["search"])}</button></p></form>'
    )
    return _section(
        "explorer",
        t["explorer_title"],
        f"<p>{escape(t['explorer_intro'])}</p>" + form + _status("explorer-status")
        + _table(t, "records", t["explorer_title"], ["block", "transaction", "contract", "event", "details"])
        + f'<p><button type="button" id="explorer-older" hidden>{escape(t["older"])}</button></p>'
        '<div id="chain-detail" tabindex="-1"></div>',
    )  # fmt: skip


def _verify(t: dict[str, str]) -> str:
    return _section(
        "verify",
        t["verify_title"],
        f"<p>{escape(t['verify_intro'])}</p>"
        '<form id="verify-code-form">'
        + field(t["code_uri"], '<input id="verify-uri" type="url" maxlength="600" required>', "verify-uri")
        + f'<p><button type="submit">{escape(t["verify_code"])}</button></p></form>'
        '<form id="verify-doc-form">'
        + field(t["epcis_document"], '<input type="file" id="verify-file" accept=".json,.jsonld" required>',
                "verify-file")
        + f'<p><button type="submit">{escape(t["verify_document"])}</button></p></form>'
        '<div id="verify-result" role="status" aria-live="polite"></div>',
    )  # fmt: skip


def auditor(t: dict[str, str]) -> str:
    recon = _section(
        "recon",
        t["recon_title"],
        f'<div id="recon-chart" role="img" aria-label="{escape(t["breaks_chart"])}"></div>'
        + _table(t, "recon", t["recon_title"], ["created", "verdict", "breaks"],
                 extra=f'<th scope="col"><span class="sr">{escape(t["show_breaks"])}</span></th>').replace(
            "<tr><th", '<tr><th scope="col">#</th><th', 1)
        + '<div id="run-breaks" tabindex="-1"></div>',
    )  # fmt: skip
    outcomes = f'<option value="">{escape(t["any"])}</option>' + "".join(
        f'<option value="{o}">{o}</option>' for o in ("ok", "denied", "rejected", "error")
    )
    audit = _section(
        "audit",
        t["audit_title"],
        '<form id="audit-filter" class="inline">'
        + field(t["actor"], '<input id="audit-actor" maxlength="42" pattern="0x[0-9a-fA-F]{40}">', "audit-actor")
        + field(t["outcome"], f'<select id="audit-outcome">{outcomes}</select>', "audit-outcome")
        + field(t["since"], '<input id="audit-since" type="date">', "audit-since")
        + field(t["until"], '<input id="audit-until" type="date">', "audit-until")
        + f'<p><button type="submit">{escape(t["filter"])}</button></p></form>'
        + _status("audit-status")
        + _table(t, "audit", t["audit_title"], ["created", "who", "what", "outcome"]),
    )
    return f"<h1>{escape(t['nav_auditor'])}</h1>" + _explorer(t) + _verify(t) + recon + audit


def governor(t: dict[str, str]) -> str:
    approve = f'<th scope="col"><span class="sr">{escape(t["approve"])}</span></th>'
    proposals = _section(
        "proposals",
        t["proposals_title"],
        '<p id="council"></p>'
        + _table(t, "proposals", t["proposals_title"], ["action", "reason", "approvals", "status", "executed_in"],
                 extra=approve).replace("<tr><th", '<tr><th scope="col">#</th><th', 1)
        + _status("governor-status"),
    )  # fmt: skip
    members = _section("members", t["members_title"], _table(t, "members", t["members_title"], ["address", "roles"]))
    parameters = _section("parameters", t["parameters_title"], '<dl id="parameters" class="figures"></dl>')
    return f"<h1>{escape(t['nav_governor'])}</h1>" + proposals + parameters + members
