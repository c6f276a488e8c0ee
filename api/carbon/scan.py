"""A batch's footprint on the consumer scan page: "x kg CO2e per piece, cradle-to-gate, primary
data y %, anchored in block n", a breakdown by stage (materials, processing, transport, cold
storage) drawn with `<progress>` bars (the page's CSP allows no inline style), both languages,
and a link to the PACT document. `summary_for` is what the scan's JSON carries."""

from __future__ import annotations

from html import escape
from typing import Any

from ledger.carbon.footprint import STAGES
from ledger.carbon.records import latest

from ..core.services import Services
from .summary import summary

TEXT = {
    "en": {"title": "Carbon footprint", "per": "kg CO₂e per", "piece": "piece", "kilogram": "kg",
           "boundary": "cradle-to-gate and recorded distribution", "primary": "primary data",
           "anchored": "anchored in block", "materials": "Materials", "processing": "Processing",
           "transport": "Transport", "storage": "Cold storage", "pact": "PACT document", "evidence": "evidence"},
    "zh": {"title": "碳足迹", "per": "千克二氧化碳当量 / ", "piece": "件", "kilogram": "千克",
           "boundary": "从原料到出厂及已记录的物流", "primary": "一手数据",
           "anchored": "上链区块", "materials": "原料", "processing": "加工", "transport": "运输",
           "storage": "冷藏仓储", "pact": "PACT 文档", "evidence": "核验材料"},
}  # fmt: skip


async def summary_for(svc: Services, gtin: str, lot: str) -> dict[str, Any] | None:
    """The batch's current footprint in short (cached like the rest of a scan's facts), or None."""

    def load() -> dict[str, Any] | None:
        with svc.sessions() as db:
            row = latest(db, gtin, lot)
            return summary(row) if row is not None else None

    return await svc.scan_cache.aget(("carbon", gtin, lot), load)


def section(fp: dict[str, Any] | None, lang: str) -> str:
    if not fp:
        return ""
    t, e = TEXT[lang], escape
    total = max(float(fp["perUnit"]), 1e-12)  # a bar's length only: the figures shown are the exact decimals
    bars = "".join(
        f'<li data-stage="{s}">{t[s]} {e(fp["stages"][s] or "0")}<br>'
        f'<progress max="{total:.9f}" value="{float(fp["stages"][s] or 0):.9f}"></progress></li>'
        for s in STAGES
    )
    return (
        f'<section id="carbon"><h2>{t["title"]}</h2><div><strong>{e(fp["perUnit"])}</strong> {t["per"]} '
        f"{t.get(fp['unit'], e(fp['unit']))}, {t['boundary']}, {t['primary']} {e(fp['primaryDataShare'])} %, "
        f"{t['anchored']} {fp['block']}</div><ol>{bars}</ol>"
        f'<small><a href="/v1/carbon/footprints/{e(fp["id"])}">{t["pact"]}</a> · '
        f'<a href="{e(fp["evidence"])}">{t["evidence"]}</a></small></section>'
    )


def page(fp: dict[str, Any], lang: str) -> str:
    """The footprint on a page of its own (the resolver's `gs1:sustainabilityInfo` for people)."""
    t = TEXT[lang]
    return (
        f'<!doctype html><html lang="{"zh-CN" if lang == "zh" else "en"}"><head><meta charset="utf-8">'
        f'<meta name="viewport" content="width=device-width, initial-scale=1"><title>{t["title"]}</title></head>'
        f"<body><main>{section(fp, lang)}</main></body></html>"
    )
