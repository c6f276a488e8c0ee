"""Per-batch compliance report for regulators and auditors: for each section of the profile (GB/T
37029 §6.1-6.3, GB/T 38156 §5, FSL Art. 50-53) how many of its elements the batch's records hold,
each gap named with the events that lack it; who recorded and signed them (the recording members
and their registered parties) and where they are anchored on chain; the retention date. As JSON
and as an HTML page in Chinese or English."""

from __future__ import annotations

import io
import json
from html import escape

from sqlalchemy import select
from sqlalchemy.orm import Session

from ledger.i18n import catalog
from ledger.store.models import Batch, EpcisAnchor, EpcisEpc, EpcisEvent, TradingParty

from . import signatures
from .completeness import flags_for
from .profile import BY_ID, KINDS, PROFILE_VERSION, kind_of
from .retention import retain_until

MAX_EVENTS = 5_000  # a batch with more records is reported on its first ones, said so


def batch_events(db: Session, gtin: str, lot: str, limit: int = MAX_EVENTS) -> list[EpcisEvent]:
    about = select(EpcisEpc.event_id).where(EpcisEpc.gtin == gtin, EpcisEpc.lot == lot)
    return list(db.scalars(select(EpcisEvent).where(EpcisEvent.id.in_(about)).order_by(EpcisEvent.id).limit(limit + 1)))


def build(db: Session, gtin: str, lot: str) -> dict | None:
    """The report on batch (gtin, lot), None when no event names it."""
    rows = batch_events(db, gtin, lot)
    if not rows:
        return None
    truncated = len(rows) > MAX_EVENTS
    rows = rows[:MAX_EVENTS]
    flags = flags_for(db, rows)
    bodies = {r.id: json.loads(r.body) for r in rows}
    sections = []
    for kind, (section, required) in KINDS.items():
        mine = [r for r in rows if kind_of(bodies[r.id]) == kind]
        if not mine:
            continue
        gaps = {}
        wrong = []
        for r in mine:
            for element in flags[r.id].missing:
                gaps.setdefault(element, []).append(r.hash_id)
            wrong += [{**w, "hashId": r.hash_id} for w in flags[r.id].wrong]
        sections.append({
            "kind": kind, "section": section, "events": len(mine), "required": len(required),
            "present": len(required) - len(gaps),
            "gaps": [{"element": e, "zh": BY_ID[e].zh, "en": BY_ID[e].en, "clause": BY_ID[e].clause, "events": h}
                     for e, h in gaps.items()],
            "wrong": wrong,
        })  # fmt: skip
    signed = signatures.of_events(db, rows)
    recorders = sorted({r.recorder for r in rows})
    parties = {p.member: p for p in db.scalars(select(TradingParty).where(TradingParty.member.in_(recorders)))}
    anchors = {a.id: a for a in db.scalars(select(EpcisAnchor).where(EpcisAnchor.id.in_({r.anchor_id for r in rows})))}
    chain = db.scalar(select(Batch).where(Batch.gtin == gtin, Batch.lot == lot))
    retention = retain_until(list(bodies.values()), (gtin, lot))
    return {
        "gtin": gtin,
        "lot": lot,
        "profile": PROFILE_VERSION,
        "batch_id": chain.batch_id if chain else None,
        "events": len(rows),
        "truncated": truncated,
        "complete": all(not s["gaps"] and not s["wrong"] for s in sections),
        "sections": sections,
        "signed_by": [
            {
                "member": a,
                "party": parties[a].name if a in parties else None,
                "credit_code": parties[a].credit_code if a in parties else None,
                "events": sum(1 for r in rows if r.recorder == a),
                "signed": sum(1 for r in rows if r.recorder == a and signed.get(r.id, {}).get("verified")),
            }
            for a in recorders
        ],  # fmt: skip
        "anchored": [
            {
                "block": a.block_number,
                "tx": a.tx_hash,
                "root": a.root,
                "events": sum(1 for r in rows if r.anchor_id == a.id),
            }
            for a in anchors.values()
        ],  # fmt: skip
        "unanchored_events": sum(1 for r in rows if r.anchor_id is None),
        "signatures": {  # the recorders' EIP-191 signatures over the hash IDs, recovered now
            "signed": sum(1 for v in signed.values() if v["verified"]),
            "unsigned": [r.hash_id for r in rows if r.id not in signed],
            "not_verified": [r.hash_id for r in rows if r.id in signed and not signed[r.id]["verified"]],
        },
        "retain_until": retention["until"].isoformat() if retention["until"] else None,
        "retention_rule": retention["rule"],
    }


def lines(report: dict, lang: str) -> list[tuple[str, str]]:
    """The report as (kind, text) lines in `lang` (zh | en): kind h1, p, section, item."""
    t = catalog("compliance", lang)
    out = [
        ("h1", t["title"]),
        ("p", f"{t['batch']} {report['gtin']} / {report['lot']}: {report['events']} {t['events']}"),
    ]
    for s in report["sections"]:
        out.append(("section", f"{s['section']}: {s['required']} {t['of']} {s['present']}"))
        for g in s["gaps"]:
            out.append(("item", f"{t['gap']}: {g[lang]} ({g['clause']}) — {len(g['events'])} {t['events']}"))
        for w in s["wrong"]:
            out.append(("item", f"{t['wrong']}: {getattr(BY_ID[w['element']], lang)}: {w['reason']}"))
    signers = ", ".join(f"{s['party'] or ''} {s['credit_code'] or ''} {s['member']}" for s in report["signed_by"])
    anchors = ", ".join(f"{a['block']} (tx {a['tx']})" for a in report["anchored"]) or t["none"]
    sig = report["signatures"]
    out += [("p", f"{t['signed']}: {signers}"),
            ("p", f"{t['esign']}: {sig['signed']} / {report['events']} {t['events']}"),
            ("p", f"{t['anchor']}: {anchors}; {t['pending']}: {report['unanchored_events']}"),
            ("p", f"{t['keep']}: {report['retain_until'] or t['none']}")]  # fmt: skip
    return out


def html(report: dict, lang: str) -> str:
    """The report as a page in `lang` (zh | en); every value escaped."""
    tags = {"h1": "<h1>{}</h1>", "p": "<p>{}</p>", "section": "<h2>{}</h2>", "item": "<p>— {}</p>"}
    body = "".join(tags[kind].format(escape(text)) for kind, text in lines(report, lang))
    title = catalog("compliance", lang)["title"]
    return f'<!doctype html><html lang="{lang}"><meta charset="utf-8"><title>{title}</title>{body}</html>'


def pdf(report: dict, lang: str) -> bytes:
    """The report as an A4 PDF in `lang`; Chinese in Adobe's STSong-Light CID font (no font file)."""
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.styles import ParagraphStyle
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.cidfonts import UnicodeCIDFont
    from reportlab.platypus import Paragraph, SimpleDocTemplate

    pdfmetrics.registerFont(UnicodeCIDFont("STSong-Light"))
    font = "STSong-Light" if lang == "zh" else "Helvetica"
    sizes = {"h1": 16, "section": 12, "p": 10, "item": 10}
    styles = {
        k: ParagraphStyle(k, fontName=font, fontSize=v, leading=v * 1.4, wordWrap="CJK") for k, v in sizes.items()
    }
    buf = io.BytesIO()
    doc = SimpleDocTemplate(buf, pagesize=A4, title=catalog("compliance", lang)["title"])
    doc.build([Paragraph(escape(text), styles[kind]) for kind, text in lines(report, lang)])
    return buf.getvalue()
