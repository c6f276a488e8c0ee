"""Per-batch compliance report for regulators and auditors: for each section of the profile (GB/T
37029 §6.1-6.3, GB/T 38156 §5, FSL Art. 50-53) how many of its elements the batch's records hold,
each gap named with the events that lack it; who recorded and signed them (the recording members
and their registered parties) and where they are anchored on chain; the retention date. As JSON
and as an HTML page in Chinese or English."""

from __future__ import annotations

import json
from html import escape

from sqlalchemy import select
from sqlalchemy.orm import Session

from ledger.store.models import Batch, EpcisAnchor, EpcisEpc, EpcisEvent, TradingParty

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
            for element in json.loads(flags[r.id].missing):
                gaps.setdefault(element, []).append(r.hash_id)
            wrong += [{**w, "hashId": r.hash_id} for w in json.loads(flags[r.id].wrong)]
        sections.append({
            "kind": kind, "section": section, "events": len(mine), "required": len(required),
            "present": len(required) - len(gaps),
            "gaps": [{"element": e, "zh": BY_ID[e].zh, "en": BY_ID[e].en, "clause": BY_ID[e].clause, "events": h}
                     for e, h in gaps.items()],
            "wrong": wrong,
        })  # fmt: skip
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
        "retain_until": retention["until"].isoformat() if retention["until"] else None,
        "retention_rule": retention["rule"],
    }


_T = {
    "zh": {"title": "追溯合规报告", "batch": "批次", "of": "项要素，已具备", "gap": "缺失", "wrong": "有误",
           "signed": "记录并签名", "anchor": "上链锚定于区块", "pending": "尚未锚定的记录", "keep": "保存至",
           "none": "无", "events": "条记录"},
    "en": {"title": "Traceability compliance report", "batch": "Batch", "of": "elements required, present:",
           "gap": "missing", "wrong": "wrong", "signed": "recorded and signed by", "anchor": "anchored in block",
           "pending": "records not anchored yet", "keep": "kept until", "none": "none", "events": "records"},
}  # fmt: skip


def html(report: dict, lang: str) -> str:
    """The report as a page in `lang` (zh | en); every value escaped."""
    t, e = _T[lang], escape
    out = [f'<!doctype html><html lang="{lang}"><meta charset="utf-8"><title>{t["title"]}</title>',
           f"<h1>{t['title']}</h1><p>{t['batch']} {e(report['gtin'])} / {e(report['lot'])}: "
           f"{report['events']} {t['events']}</p><ul>"]  # fmt: skip
    for s in report["sections"]:
        out.append(f"<li><b>{e(s['section'])}</b>: {s['required']} {t['of']} {s['present']}")
        for g in s["gaps"]:
            out.append(f"<br>{t['gap']}: {e(g[lang])} ({e(g['clause'])}) — {len(g['events'])} {t['events']}")
        for w in s["wrong"]:
            out.append(f"<br>{t['wrong']}: {e(BY_ID[w['element']].__dict__[lang])}: {e(w['reason'])}")
        out.append("</li>")
    signers = ", ".join(
        f"{e(s['party'] or '')} {e(s['credit_code'] or '')} {e(s['member'])}" for s in report["signed_by"]
    )
    anchors = ", ".join(f"{a['block']} (tx {e(a['tx'])})" for a in report["anchored"]) or t["none"]
    out.append(f"</ul><p>{t['signed']}: {signers}</p><p>{t['anchor']}: {anchors}; "
               f"{t['pending']}: {report['unanchored_events']}</p>"
               f"<p>{t['keep']}: {e(report['retain_until'] or t['none'])}</p></html>")  # fmt: skip
    return "".join(out)
