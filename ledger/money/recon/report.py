"""Reading reconciliation runs: a run as JSON, its breaks (filtered), a break's history, what was
open at a moment, the breaks as CSV, and an HTML report in Chinese or English with a chart of open
breaks by class over the runs (inline SVG: no script, so a strict Content-Security-Policy holds).
"""

from __future__ import annotations

import csv
import html
import io
import json
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ledger.clock import as_utc, utcnow
from ledger.money.recon.breaks import PRIORITY
from ledger.money.recon.signoff import sign_off_out
from ledger.store.models import ReconBreak, ReconBreakEvent, ReconRun
from ledger.store.recon_tables import ReconSignOff

COLOURS = {
    "unexplained_balance": "#7a0019",
    "unknown_on_chain": "#b42318",
    "amount_mismatch": "#d9480f",
    "missing_on_chain": "#e8590c",
    "merchant_mismatch": "#f08c00",
    "status_mismatch": "#1971c2",
    "duplicate": "#868e96",
}
TEXT = {
    "en": {
        "title": "Reconciliation run", "verdict": "Verdict", "cut_off": "Cut-off block", "previous": "Previous run",
        "inputs": "Inputs (SHA-256)", "reasons": "Why it cannot conclude", "balances": "Balances at the cut-off",
        "contract": "Contract", "in": "In", "out": "Out", "expected": "Events explain", "actual": "Chain holds",
        "difference": "Difference", "breaks": "Breaks", "class": "Class", "priority": "Priority", "status": "Status",
        "order": "Order", "amount": "Amount", "age": "Age", "detail": "Detail", "chart": "Open breaks by class",
        "pending": "Pending", "after": "becomes a break after block", "none": "none",
        "reconciled": "reconciled", "reconciled_with_pending": "reconciled, with pending records",
        "breaks_v": "breaks", "incomplete": "incomplete", "days": "d", "ageing": "Money held (ageing)",
    },
    "zh": {
        "title": "对账批次", "verdict": "结论", "cut_off": "截止区块", "previous": "上一批次",
        "inputs": "输入摘要 (SHA-256)", "reasons": "无法得出结论的原因", "balances": "截止区块的余额",
        "contract": "合约", "in": "流入", "out": "流出", "expected": "事件可解释", "actual": "链上持有",
        "difference": "差额", "breaks": "差异", "class": "类别", "priority": "优先级", "status": "状态",
        "order": "订单", "amount": "金额", "age": "账龄", "detail": "说明", "chart": "各批次未解决差异（按类别）",
        "pending": "待确认", "after": "若仍不一致，将在此区块后成为差异", "none": "无",
        "reconciled": "已对平", "reconciled_with_pending": "已对平（有待确认记录）",
        "breaks_v": "存在差异", "incomplete": "不完整", "days": "天", "ageing": "资金账龄",
    },
}  # fmt: skip


def _iso(t: datetime | None) -> str | None:
    return as_utc(t).isoformat() if t else None


def break_out(b: ReconBreak, now: datetime | None = None) -> dict[str, Any]:
    end = as_utc(b.resolved_at) if b.resolved_at else now or utcnow()
    return {
        "id": b.id, "rule": b.rule, "class": b.cls, "priority": f"P{b.priority}", "status": b.status,
        "order_id": b.order_id, "subject": b.subject, "merchant": b.merchant, "amount_fen": b.amount_fen,
        "detail": b.detail, "first_run": b.first_run, "last_run": b.last_run,
        "first_seen_at": _iso(b.first_seen_at), "resolved_at": _iso(b.resolved_at),
        "age_s": int((end - as_utc(b.first_seen_at)).total_seconds()),
    }  # fmt: skip


def run_out(db: Session, r: ReconRun) -> dict[str, Any]:
    counts = dict(
        db.execute(
            select(ReconBreakEvent.status, func.count())
            .where(ReconBreakEvent.run_id == r.id)
            .group_by(ReconBreakEvent.status)
        ).all()
    )
    return {
        "id": r.id, "previous_id": r.previous_id, "cut_off_block": r.cut_off_block, "cut_off_hash": r.cut_off_hash,
        "inputs_sha256": r.inputs_sha256, "verdict": r.verdict, "source": r.source,
        "reasons": json.loads(r.reasons), "totals": json.loads(r.totals), "balances": json.loads(r.balances),
        "pending": json.loads(r.pending), "ageing": json.loads(r.ageing),
        "breaks": {s: counts.get(s, 0) for s in ("new", "persisting", "resolved")},
        "created_at": _iso(r.created_at), "signed_off": sign_off_out(db.get(ReconSignOff, r.id)),
    }  # fmt: skip


def breaks_of_run(db: Session, run_id: int, cls: str | None = None, priority: int | None = None,
                  status: str | None = None) -> list[ReconBreak]:  # fmt: skip
    q = (
        select(ReconBreak)
        .join(ReconBreakEvent, ReconBreakEvent.break_id == ReconBreak.id)
        .where(ReconBreakEvent.run_id == run_id)
    )
    if cls:
        q = q.where(ReconBreakEvent.cls == cls)
    if priority:
        q = q.where(ReconBreak.priority == priority)
    if status:
        q = q.where(ReconBreakEvent.status == status)
    return list(db.scalars(q.order_by(ReconBreak.priority, ReconBreak.id)))


def open_at(db: Session, at: datetime) -> list[ReconBreak]:
    """Breaks open at `at`: first seen by then, not resolved by then."""
    q = select(ReconBreak).where(ReconBreak.first_seen_at <= at)
    return [
        b
        for b in db.scalars(q.order_by(ReconBreak.priority, ReconBreak.id))
        if not b.resolved_at or as_utc(b.resolved_at) > at
    ]


def history(db: Session, break_id: str) -> list[dict[str, Any]]:
    q = select(ReconBreakEvent).where(ReconBreakEvent.break_id == break_id).order_by(ReconBreakEvent.id)
    return [
        {"run": e.run_id, "status": e.status, "class": e.cls, "detail": e.detail, "at": _iso(e.at)}
        for e in db.scalars(q)
    ]


def breaks_csv(rows: list[ReconBreak]) -> str:
    out = io.StringIO()
    cols = ["id", "priority", "class", "status", "order_id", "subject", "merchant", "amount_fen", "age_s", "detail"]
    w = csv.DictWriter(out, fieldnames=cols, lineterminator="\n", extrasaction="ignore")
    w.writeheader()
    now = utcnow()
    for b in rows:
        w.writerow(break_out(b, now))
    return out.getvalue()


def _chart(db: Session, upto: int, lang: str) -> str:
    runs = list(db.scalars(select(ReconRun.id).where(ReconRun.id <= upto).order_by(ReconRun.id.desc()).limit(20)))[::-1]
    counts: dict[int, dict[str, int]] = {r: {} for r in runs}
    for run_id, cls, n in db.execute(
        select(ReconBreakEvent.run_id, ReconBreakEvent.cls, func.count())
        .where(ReconBreakEvent.run_id.in_(runs), ReconBreakEvent.status != "resolved")
        .group_by(ReconBreakEvent.run_id, ReconBreakEvent.cls)
    ):
        counts[run_id][cls] = n
    top = max([sum(c.values()) for c in counts.values()] + [1])
    width, height, bar = 40 + 36 * len(runs), 180, 24
    parts = [f'<svg role="img" aria-label="{TEXT[lang]["chart"]}" width="{width}" height="{height + 40}" '
             f'viewBox="0 0 {width} {height + 40}" xmlns="http://www.w3.org/2000/svg">']  # fmt: skip
    for i, run_id in enumerate(runs):
        x, y = 30 + 36 * i, height
        for cls in PRIORITY:
            n = counts[run_id].get(cls, 0)
            if n:
                h = n * (height - 10) / top
                y -= h
                parts.append(f'<rect x="{x}" y="{y:.1f}" width="{bar}" height="{h:.1f}" fill="{COLOURS[cls]}">'
                             f"<title>#{run_id} {cls}: {n}</title></rect>")  # fmt: skip
        parts.append(f'<text x="{x + bar / 2}" y="{height + 16}" font-size="11" text-anchor="middle">#{run_id}</text>')
    parts.append(f'<text x="2" y="12" font-size="11">{top}</text></svg>')
    legend = " ".join(f'<span style="color:{c}">■</span> {k.replace("_", " ")}' for k, c in COLOURS.items())
    return "".join(parts) + f"<p>{legend}</p>"


def run_html(db: Session, r: ReconRun, lang: str = "en") -> str:
    t, e = TEXT[lang], html.escape
    d = run_out(db, r)
    verdict = t["breaks_v"] if d["verdict"] == "breaks" else t[d["verdict"]]
    reasons = (
        "".join(f"<li><b>{e(x['reason'])}</b>: {e(x['detail'])}</li>" for x in d["reasons"]) or f"<li>{t['none']}</li>"
    )
    bal = "".join(
        f"<tr><td>{e(s['contract'])}</td><td>{e(json.dumps(s['in'], ensure_ascii=False))}</td>"
        f"<td>{e(json.dumps(s['out'], ensure_ascii=False))}</td><td>{s['expected_fen']}</td><td>{s['actual_fen']}</td>"
        f"<td>{s['difference_fen']:+d}</td></tr>"
        for s in d["balances"]
    )
    now = utcnow()
    rows = "".join(
        f"<tr><td>P{b.priority}</td><td>{e(b.cls)}</td><td>{e(b.status)}</td><td>{e(b.order_id or b.subject)}</td>"
        f"<td>{b.amount_fen}</td><td>{break_out(b, now)['age_s'] // 86400}{t['days']}</td><td>{e(b.detail)}</td></tr>"
        for b in breaks_of_run(db, r.id)
    )
    pending = "".join(
        f"<li>{e(str(p.get('order_id') or p.get('order_key')))}: {t['after']} {p['becomes_break_after_block']}</li>"
        for p in d["pending"]
    )
    aged = "".join(
        f"<li>{e(a['kind'])} {e(a['subject'])}: {a['age_s'] // 86400}{t['days']} ({e(a['state'])})</li>"
        for a in d["ageing"]
    )
    return f"""<!doctype html><html lang="{"zh-CN" if lang == "zh" else "en"}"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1"><title>{t["title"]} #{r.id}</title></head>
<body><h1>{t["title"]} #{r.id}</h1>
<dl><dt>{t["verdict"]}</dt><dd><b>{e(verdict)}</b></dd><dt>{t["cut_off"]}</dt><dd>{r.cut_off_block}
<code>{e(r.cut_off_hash)}</code></dd><dt>{t["previous"]}</dt><dd>{r.previous_id or "-"}</dd>
<dt>{t["inputs"]}</dt><dd><code>{r.inputs_sha256}</code></dd></dl>
<h2>{t["reasons"]}</h2><ul>{reasons}</ul>
<h2>{t["balances"]}</h2><table><tr><th>{t["contract"]}</th><th>{t["in"]}</th><th>{t["out"]}</th>
<th>{t["expected"]}</th><th>{t["actual"]}</th><th>{t["difference"]}</th></tr>{bal}</table>
<h2>{t["chart"]}</h2>{_chart(db, r.id, lang)}
<h2>{t["breaks"]}</h2><table><tr><th>{t["priority"]}</th><th>{t["class"]}</th><th>{t["status"]}</th>
<th>{t["order"]}</th><th>{t["amount"]}</th><th>{t["age"]}</th><th>{t["detail"]}</th></tr>{rows}</table>
<h2>{t["pending"]}</h2><ul>{pending or f"<li>{t['none']}</li>"}</ul>
<h2>{t["ageing"]}</h2><ul>{aged or f"<li>{t['none']}</li>"}</ul></body></html>"""
