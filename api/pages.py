"""The consumer page behind a scanned code: mobile-first HTML in Chinese or English."""

from __future__ import annotations

import base64
import hashlib
from html import escape
from typing import Any
from urllib.parse import urlencode

from .page_text import BIZ_STEPS, REASONS, TEXT

COLOURS = {
    "genuine": "#1a7f37",
    "unknown": "#9a6700",
    "forged": "#b42318",
    "recalled": "#b42318",
    "suspicious": "#bc4c00",
}
#: the page's only style, allowed by its hash in the Content-Security-Policy (no inline style attributes)
STYLE = (
    'body{font:16px/1.5 system-ui,-apple-system,"PingFang SC","Noto Sans CJK SC",sans-serif;margin:0;color:#1f2328}'
    "main{max-width:34rem;margin:auto;padding:1rem}"
    "#verdict{color:#fff;border-radius:.75rem;padding:1rem;font-size:1.4rem}#verdict small{color:#fff}"
    "section{margin:1.2rem 0}h2{font-size:1rem;color:#57606a;margin:.2rem 0}ol{padding-left:1.2rem}"
    "li{margin:.5rem 0}code{font-size:.75rem;word-break:break-all}small{color:#57606a}a.lang{float:right}"
    + "".join(f".v-{verdict}{{background:{colour}}}" for verdict, colour in COLOURS.items())
)
STYLE_HASH = "sha256-" + base64.b64encode(hashlib.sha256(STYLE.encode()).digest()).decode()


def _reason(data: dict[str, Any], lang: str) -> str:
    """The verdict's reason in the page's language (JSON clients also get it in English)."""
    template = REASONS[lang].get(data.get("reason_code", ""))
    if template is None:
        return escape(data["reason"])
    return escape(template.format_map({k: str(v) for k, v in data.get("reason_args", {}).items()}))


def _step(step: str, lang: str) -> str:
    return BIZ_STEPS[lang].get(step, step.replace("_", " "))


def language(query_lang: str | None, accept_language: str | None) -> str:
    if query_lang in TEXT:
        return query_lang  # type: ignore[return-value]
    return "zh" if (accept_language or "").lower().lstrip().startswith("zh") else "en"


def _yuan(fen: int) -> str:
    return f"¥{fen // 100:,}.{fen % 100:02d}"


def _deposit(d: dict[str, int] | None, t: dict[str, str]) -> str:
    if d is None:
        return f'<span id="deposit-unavailable">{t["deposit_unavailable"]}</span>'
    return f"{_yuan(d['balance_fen'])} {t['locked']}, {_yuan(d['frozen_fen'])} {t['frozen']}"


def render(data: dict[str, Any], lang: str, self_query: dict[str, str]) -> str:
    t = TEXT[lang]
    e = escape
    verdict = data["verdict"]
    code = data["code"]
    other = "en" if lang == "zh" else "zh"
    switch = "?" + urlencode({**self_query, "lang": other})
    parts = [
        f"""<!doctype html><html lang="{"zh-CN" if lang == "zh" else "en"}"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1"><title>{t["title"]}</title>
<style>{STYLE}</style>
</head><body><main><a class="lang" href="{e(switch)}">{t["switch"]}</a><h1>{t["title"]}</h1>
<div id="verdict" data-verdict="{verdict}" class="v-{verdict}">{t[verdict]}
<br><small>{_reason(data, lang)}</small></div>
<section id="item"><h2>{t["serial"]}</h2><div>{e(code["serial"])}</div>"""
    ]
    if "product" in data:
        parts.append(f"""<h2>{t["product"]}</h2><div id="product">{e(data["product"]["name"] or "")}
<small>{t["gtin"]} {e(code["gtin"])}</small></div>
<h2>{t["batch"]}</h2><div id="batch">{e(code["lot"])}</div>{_reviews(data, t)}</section>""")
        items = []
        for ev in data["timeline"]:
            detail = ""
            if ev["event"] == "EventRecorded":
                detail = f" #{ev['index'] + 1} <code>{e(ev['event_hash'])}</code>"
                if "epcis" in ev:  # a captured EPCIS event, recorded on its own: say which
                    step = ev["epcis"]["biz_step"] or ev["epcis"]["type"]
                    detail += f" — {e(_step(step, lang))}"
            if ev["event"] == "BatchRecalled":
                detail = f" — {t['reason']}: {e(ev['reason'])}"
            who = f"<br><small>{t['recorded_by']} <code>{e(ev['recorder'])}</code></small>" if "recorder" in ev else ""
            pending = "" if ev["final"] else f" <small>({t['pending']})</small>"
            epcis = f' data-epcis-step="{e(ev["epcis"]["biz_step"] or "")}"' if "epcis" in ev else ""
            items.append(f"""<li data-event="{e(ev["event"])}"{epcis}>{t.get(ev["event"], e(ev["event"]))}{detail}{who}
<br><small>{t["block"]} {ev["block_number"]}, {t["tx"]} <code>{e(ev["tx_hash"])}</code>{pending}</small></li>""")
        d = data["merchant"]["deposit"]
        parts.append(_supply_chain(data.get("supply_chain", []), lang))
        parts.append(f"""<section><h2>{t["timeline"]}</h2><ol id="timeline">{"".join(items)}</ol></section>
<section id="deposit"><h2>{t["merchant"]}</h2><div>{_deposit(d, t)}</div>
<small><code>{e(data["merchant"]["address"])}</code></small></section>""")
        p = data["proof"]
        parts.append(f"""<section id="proof"><h2>{t["proof"]}</h2><small>{t["root"]} <code>{e(p["root"])}</code>
<br>{t["anchor"]} <code>{e(p["anchor_tx"])}</code> ({t["block"]} {p["block_number"]})</small></section>""")
    else:
        parts.append("</section>")
    s = data["scans_before"]
    seen = (
        t["never"] if not s["count"] else f"{s['count']} {t['times']} {e(s['first_at'])}, {t['last']} {e(s['last_at'])}"
    )
    parts.append(f"""<section id="scans"><h2>{t["scans"]}</h2><div>{seen}</div></section></main></body></html>""")
    return "".join(parts)


def _reviews(data: dict[str, Any], t: dict[str, str]) -> str:
    """Verified buyers' reviews (docs/zk.md): count and rating, and where a buyer proves and reviews."""
    r = data.get("batch", {}).get("reviews")
    if r is None:
        return ""
    said = f"★ {r['rating']} · {r['count']} {t['reviews']}" if r["count"] else t["no_reviews"]
    link = f'<a href="/v1/purchases/mine">{t["review_link"]}</a>'
    return f'<div id="reviews" data-count="{r["count"]}">{said}<br>{link}</div>'


def _parties(ev: dict[str, Any], t: dict[str, str]) -> str:
    """Who the goods came from and went to: each party by its registered name and credit code
    (its URN when it is not registered)."""
    out = []
    for side in ("source", "destination"):
        if p := ev.get(side):
            code = f" <small>({t['credit_code']} {escape(p['credit_code'])})</small>" if p["name"] else ""
            who = escape(p["name"]) + code if p["name"] else f"<code>{escape(p['urn'])}</code>"
            out.append(f'<br><small class="party" data-side="{side}">{t[side]}</small> {who}')
    return "".join(out)


def _supply_chain(events: list[dict[str, Any]], lang: str) -> str:
    t, e = TEXT[lang], escape
    items = []
    for ev in events:
        step = ev["biz_step"] or ev["type"]
        label = _step(step, lang)
        where = f" <small>{t['at']} <code>{e(ev['read_point'])}</code></small>" if ev["read_point"] else ""
        a = ev["anchor"]
        entry = f"{t['batch_entry'].format(n=a['index'] + 1)}, " if a and a["method"] == "batch_chain" else ""
        anchored = (
            f"{entry}{t['anchored']} {a['block_number']}, {t['tx']} <code>{e(a['tx_hash'])}</code>, "
            f'<a href="{e(a["proof_url"])}">{t["proof"]}</a>'
            if a
            else t["awaiting_anchor"]
        )
        items.append(
            f"""<li data-biz-step="{e(step)}"><strong>{e(label)}</strong> <time>{e(ev["event_time"])}</time>{where}
{_parties(ev, t)}<br><small>{t["recorded_by"]} <code>{e(ev["recorder"])}</code></small>
<br><small>{anchored}</small></li>"""
        )
    body = f'<ol id="supply-chain">{"".join(items)}</ol>' if items else f"<div>{t['no_events']}</div>"
    return f"<section><h2>{t['supply_chain']}</h2>{body}</section>"
