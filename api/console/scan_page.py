"""The consumer page behind a scanned code: mobile-first HTML in Chinese or English, rendered from
`templates/scan.html` (autoescaped) with the `scan` catalog: verdict and reason, the product, its
supply chain with each party by name, times in Beijing time, the merchant's deposit in yuan."""

from __future__ import annotations

import base64
import hashlib
from typing import Any
from urllib.parse import urlencode

from markupsafe import Markup

from ledger.i18n import beijing, catalog, negotiate, yuan

from ..carbon.scan import section as carbon_section
from .cold_chain_view import view as cold_chain_view
from .pages import ENV

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
    "li{margin:.5rem 0}code{font-size:.75rem;word-break:break-all}small{color:#57606a}"
    "a.lang{float:right;display:inline-block;min-height:44px;min-width:44px;padding:.6rem .2rem;text-align:center}"
    "#reviews a,#carbon a,#report-back,li small a{display:inline-block;min-height:44px;padding:.6rem 0}"
    "#cold-chain-alarm{background:#b42318;color:#fff;border-radius:.5rem;padding:.6rem 1rem;margin-top:.5rem}"
    "#cold-chain-alarm small{color:#fff}"
    "#cold-chain svg{width:100%;height:auto}#cold-chain li.outside{color:#b42318}.error-declared{color:#b42318}"
    "label{display:block;color:#57606a}textarea,input{font:inherit;width:100%;box-sizing:border-box;min-height:44px}"
    "button{font:inherit;min-height:44px;padding:.5rem 1rem;border:0;border-radius:4px;background:#0b5cab;color:#fff}"
    "#recall-advice,#fake-advice{border-left:4px solid #b42318;padding-left:.75rem}"
    "#suspicious-advice{border-left:4px solid #bc4c00;padding-left:.75rem}"
    "#product small{display:block}#checks li{overflow-wrap:anywhere}"
    + "".join(f".v-{verdict}{{background:{colour}}}" for verdict, colour in COLOURS.items())
)
STYLE_HASH = "sha256-" + base64.b64encode(hashlib.sha256(STYLE.encode()).digest()).decode()
TEMPLATE = ENV.get_template("scan.html")
language = negotiate  # the one negotiation, as the console's


def _reason(data: dict[str, Any], t: dict[str, str], lang: str) -> str:
    """The verdict's reason in the page's language (JSON clients also get it in English)."""
    template = t.get("reason:" + data.get("reason_code", ""))
    if template is None:
        return str(data["reason"])
    args = {k: str(v) for k, v in data.get("reason_args", {}).items()}
    if "at" in args:
        args["at"] = beijing(args["at"], lang)
    return template.format_map(args)


def step_label(step: str, t: dict[str, str]) -> str:
    return t.get("step:" + step, step.replace("_", " "))


def render(data: dict[str, Any], lang: str, self_query: dict[str, str]) -> str:
    t = catalog("scan", lang)
    context: dict[str, Any] = {
        "t": t,
        "lang": lang,
        "style": Markup(STYLE),  # noqa: S704 (a constant, hashed in the CSP)
        "switch": "?" + urlencode({**self_query, "lang": "en" if lang == "zh" else "zh"}),
        "verdict": data["verdict"],
        "reason": _reason(data, t, lang),
        "code": data["code"],
        # the code's own query (its key, signature, the page's token) for the report form's way back: the
        # link back without it said "forged" of a genuine code (phone trial)
        "code_query": urlencode({k: v for k, v in self_query.items() if k != "lang"}),
        "product": data.get("product"),
        # verified buyers' reviews (docs/zk.md): count and rating, and where a buyer proves and reviews
        "reviews": data.get("batch", {}).get("reviews"),
    }
    if "product" in data:
        d = data["merchant"]["deposit"]
        context |= {
            "timeline": [
                ev
                | (
                    {"step_label": step_label(ev["epcis"]["biz_step"] or ev["epcis"]["type"], t)}
                    if "epcis" in ev
                    else {}
                )
                for ev in data["timeline"]
            ],
            "supply_chain": [
                ev
                | {
                    "step": ev["biz_step"] or ev["type"],
                    "label": step_label(ev["biz_step"] or ev["type"], t),
                    "when": beijing(ev["event_time"], lang),
                    "parties": [(side, ev[side]) for side in ("source", "destination") if ev.get(side)],
                }
                for ev in data.get("supply_chain", [])
            ],
            "deposit": None
            if d is None
            else {"balance": yuan(d["balance_fen"], lang), "frozen": yuan(d["frozen_fen"], lang)},
            "merchant": data["merchant"],
            "proof": data["proof"],
            # built and escaped by api.carbon.scan (empty when the batch has no footprint)
            "carbon": Markup(carbon_section(data.get("carbon"), lang)),  # noqa: S704
            "cold_chain": cold_chain_view(data.get("cold_chain"), t, lang),
        }
    s = data["scans_before"]
    context["scans"] = {
        "count": s["count"],
        "first": beijing(s.get("first_at"), lang),
        "last": beijing(s.get("last_at"), lang),
        "yours": bool(s.get("yours_included")),
    }
    return TEMPLATE.render(context)
