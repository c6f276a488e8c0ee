"""The scan page's cold-chain section, as the template needs it: the allowed range in words, each
sensor window with its times in Beijing time, and the geometry of a small inline SVG chart (the
page's CSP allows no script and no style attribute; SVG presentation attributes are neither):
the allowed range as a green band, each window as a bar from its min to its max with a tick at
its mean, red when the window is an excursion. Only numbers reach the SVG."""

from __future__ import annotations

from typing import Any

from ledger.i18n import beijing

WIDTH, HEIGHT, TOP, BOTTOM, LEFT = 320, 140, 10, 120, 36


def _range(rule: dict[str, Any]) -> str:
    lo, hi = rule["min_c"], rule["max_c"]
    if lo is not None and hi is not None:
        return f"{lo:g}–{hi:g} °C"
    return f"≤ {hi:g} °C" if hi is not None else f"≥ {lo:g} °C"


def view(facts: dict[str, Any] | None, t: dict[str, str], lang: str) -> dict[str, Any] | None:
    if not facts:
        return None
    windows, rule = facts["windows"], facts["rule"]
    values = [w["min_c"] for w in windows] + [w["max_c"] for w in windows]
    values += [v for v in (rule["min_c"], rule["max_c"]) if v is not None]
    lo, hi = min(values) - 2, max(values) + 2
    y = lambda v: round(BOTTOM - (v - lo) / (hi - lo) * (BOTTOM - TOP), 1)  # noqa: E731
    step = (WIDTH - LEFT - 4) / len(windows)
    bars = [
        {
            "x": round(LEFT + step * (i + 0.5), 1),
            "y1": y(w["max_c"]),
            "y2": y(w["min_c"]),
            "ym": y(w["mean_c"]),
            "colour": "#1f6feb" if w["within"] else "#b42318",
        }
        for i, w in enumerate(windows)
    ]
    band_top = y(rule["max_c"]) if rule["max_c"] is not None else TOP
    band_bottom = y(rule["min_c"]) if rule["min_c"] is not None else BOTTOM
    bad = sum(not w["within"] for w in windows)
    words = {"bad": bad, "total": len(windows), "range": _range(rule)}
    return {
        "excursion": facts["excursion"],
        "summary": t["cold_chain_excursion_detail" if bad else "cold_chain_ok"].format(**words),
        "windows": [w | {"from": beijing(w["start"], lang), "to": beijing(w["end"], lang)} for w in windows],
        "chart": {
            "width": WIDTH,
            "height": HEIGHT,
            "left": LEFT,
            "band": {"y": band_top, "h": round(band_bottom - band_top, 1)},
            "bars": bars,
            "labels": [{"y": y(v), "text": f"{v:g}"} for v in (rule["min_c"], rule["max_c"]) if v is not None],
        },
    }
