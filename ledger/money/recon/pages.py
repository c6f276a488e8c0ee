"""The reconciliation reports as pages people read (served by the API, written by `ledger recon
report` and `ledger reconcile --format html`), in Chinese or English: a run (its verdict,
balances, breaks, what is pending, money held, and a chart of open breaks by class over the last
runs, with axes: inline SVG, no script, so a strict Content-Security-Policy holds), and the orders
matched against on-chain settlement. Jinja2 templates (`templates/`, autoescaped), words from the
`recon` catalog (`ledger/locale/`), money in yuan from integer fen as the locale writes it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, select_autoescape
from sqlalchemy.orm import Session

from ledger.clock import utcnow
from ledger.i18n import beijing, catalog, yuan
from ledger.money.recon import report as recon_report
from ledger.money.recon.breaks import PRIORITY
from ledger.money.recon.reconcile import CLASSES, Report
from ledger.store.models import ReconRun

ENV = Environment(
    loader=FileSystemLoader(Path(__file__).parent / "templates"),
    autoescape=select_autoescape(default=True, default_for_string=True),
    trim_blocks=True,
    lstrip_blocks=True,
)
#: the chart's colour per break class, most urgent darkest
COLOURS = {
    "unexplained_balance": "#7a0019",
    "unknown_on_chain": "#b42318",
    "amount_mismatch": "#d9480f",
    "missing_on_chain": "#e8590c",
    "merchant_mismatch": "#f08c00",
    "status_mismatch": "#1971c2",
    "duplicate": "#868e96",
}
LEFT, TOP, PLOT, STEP, BAR = 36, 16, 160, 36, 24


def _words(lang: str) -> dict[str, Any]:
    t = catalog("recon", lang)
    return {"t": t, "lang": lang, "yuan": lambda fen: yuan(fen, lang), "cls": lambda c: t.get(f"cls_{c}", c),
            "num": lambda n: f"{int(n):,}"}  # fmt: skip


def chart(runs: list[tuple[int, dict[str, int]]]) -> dict[str, Any]:
    """Stacked bars of open breaks per run, with a y axis of whole counts and every run labelled."""
    top = max([sum(c.values()) for _, c in runs] + [1])
    base = TOP + PLOT
    bars, labels = [], []
    for i, (run_id, counts) in enumerate(runs):
        x, y = LEFT + 8 + STEP * i, float(base)
        for cls in PRIORITY:
            if n := counts.get(cls, 0):
                h = n * PLOT / top
                y -= h
                bars.append({"x": x, "y": f"{y:.1f}", "h": f"{h:.1f}", "colour": COLOURS[cls], "cls": cls,
                             "n": n, "run": run_id})  # fmt: skip
        labels.append({"x": x + BAR / 2, "run": run_id})
    ticks = sorted({0, top, top // 2})
    return {
        "width": LEFT + 16 + STEP * max(len(runs), 1), "height": base + 36, "left": LEFT, "top": TOP, "base": base,
        "bar": BAR, "bars": bars, "labels": labels,
        "ticks": [{"n": n, "label_y": f"{base - n * PLOT / top + 4:.1f}"} for n in ticks],
    }  # fmt: skip


def run_page(db: Session, run: ReconRun, lang: str) -> str:
    words = _words(lang)
    t = words["t"]
    d = recon_report.run_out(db, run)
    s = d["signed_off"]
    signed = t["signed_off"].format(who=s["auditor"], at=beijing(s["signed_at"], lang)) if s else t["not_signed_off"]
    now = utcnow()
    return ENV.get_template("recon_run.html").render(
        **words,
        run=d,
        verdict=t["breaks_v"] if d["verdict"] == "breaks" else t.get(d["verdict"], d["verdict"]),
        signed_off=signed,
        chart=chart(recon_report.open_by_class(db, run.id)),
        colours=list(COLOURS.items()),
        breaks=[recon_report.break_out(b, now) for b in recon_report.breaks_of_run(db, run.id)],
    )


def orders_page(report: Report, lang: str) -> str:
    return ENV.get_template("recon_orders.html").render(**_words(lang), classes=CLASSES, **report.as_dict())
