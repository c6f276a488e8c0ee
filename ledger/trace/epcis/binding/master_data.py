"""Master data a captured document carries in `epcisHeader.epcisMasterData.vocabularyList`:
vocabulary elements (locations, products, ...) with attributes and children, for HASATTR_, EQATTR_
and WD_.

Master data belongs to the member who declared it: each member's declaration of an element is
kept apart (a member's later document merges its attributes over its own earlier ones, never over
another member's), and a query reads only the declarations of its viewer (None: an auditor or
operator, who sees every member's; an element then matches if any declaration of it does).
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from ledger.store.models import EpcisVocabulary
from ledger.trace.epcis.binding import event_match as m
from ledger.trace.epcis.capture import full_term
from ledger.trace.epcis.identifiers import canonical

ATTR_FIELDS = {"readPoint", "bizLocation", "bizStep", "disposition", "epc", "epcClass"}


def elements(doc: dict) -> list[dict[str, Any]]:
    """[{uri, type, attributes: {id: value}, children: [uri]}] from an EPCIS document's header."""
    header = doc.get("epcisHeader")
    md = header.get("epcisMasterData") if isinstance(header, dict) else None
    vocabularies = md.get("vocabularyList") if isinstance(md, dict) else None
    out = []
    for vocab in vocabularies if isinstance(vocabularies, list) else []:
        if not isinstance(vocab, dict):
            continue
        for el in vocab.get("vocabularyElementList") or []:
            if not isinstance(el, dict) or not isinstance(el.get("id"), str):
                continue
            attrs = {
                a["id"]: a.get("attribute", a.get("value"))
                for a in el.get("attributes") or []
                if isinstance(a, dict) and isinstance(a.get("id"), str)
            }
            children = [c for c in el.get("children") or [] if isinstance(c, str)]
            out.append({"uri": el["id"], "type": str(vocab.get("type", "")), "attributes": attrs, "children": children})
    return out


def store(db: Session, found: list[dict[str, Any]], declarer: str, now: datetime) -> None:
    """The declarer's own declarations, merged over its earlier ones only."""
    for el in found:
        uri = (canonical(el["uri"]) or el["uri"])[:300]
        row = db.get(EpcisVocabulary, (declarer, uri))
        if row is None:
            row = EpcisVocabulary(
                declarer=declarer, uri=uri, vocab_type=el["type"][:300], attributes="{}", children="[]"
            )
            db.add(row)
        row.attributes = json.dumps(json.loads(row.attributes) | el["attributes"], ensure_ascii=False)
        row.children = json.dumps(sorted(set(json.loads(row.children)) | set(el["children"])))
        row.updated_at = now
    db.flush()


def _seen_by(stmt, viewer: str | None):
    return stmt if viewer is None else stmt.where(EpcisVocabulary.declarer == viewer)


def field_uris(e: dict, f: str) -> list[str]:
    """The vocabulary elements an event names in field `f`, as master data keys them."""
    if f in ("readPoint", "bizLocation"):
        v = e.get(f)
        return [m.identifier(v["id"])] if isinstance(v, dict) and isinstance(v.get("id"), str) else []
    if f in ("bizStep", "disposition"):
        return [full_term(f, e.get(f))] if isinstance(e.get(f), str) else []
    if f == "epc":
        return [m.identifier(v) for v in m.identifiers_in(e, *m.EPC_FIELDS["anyEPC"]) if isinstance(v, str)]
    return [m.identifier(x["epcClass"]) for x in m.classes_in(e, m.CLASS_FIELDS["anyEPCClass"]) if "epcClass" in x]


def having(db: Session, attr: str | None, values: list[str], viewer: str | None) -> set[str]:
    """Elements with any of the attributes `values` (HASATTR_), or whose attribute `attr` equals one
    of `values` (EQATTR_), in the declarations `viewer` may see."""
    stmt = _seen_by(select(EpcisVocabulary.uri, EpcisVocabulary.attributes), viewer)
    declared = [(uri, json.loads(a)) for uri, a in db.execute(stmt)]
    if attr is None:
        wanted = {_attr_id(v) for v in values}
        return {uri for uri, a in declared if wanted & {_attr_id(k) for k in a}}
    a_id = _attr_id(attr)
    return {uri for uri, a in declared if any(_attr_id(k) == a_id and m.compare("EQ", v, values) for k, v in a.items())}


def _attr_id(a: str) -> str:
    """An attribute id compared without its `urn:epcglobal:cbv:mda:` / `cbvmda:` / `gs1:` prefix."""
    for p in ("urn:epcglobal:cbv:mda:", "cbvmda:", "https://gs1.org/voc/", "gs1:"):
        if a.startswith(p):
            return a[len(p) :]
    return a


def descendants(db: Session | None, ids: set[str], viewer: str | None) -> set[str]:
    """`ids` and every element the master data `viewer` may see names below them (children, their
    children, ...)."""
    if db is None:
        return ids
    children: dict[str, list[str]] = {}
    for u, c in db.execute(_seen_by(select(EpcisVocabulary.uri, EpcisVocabulary.children), viewer)):
        children.setdefault(u, []).extend(json.loads(c))
    out, todo = set(ids), list(ids)
    while todo:
        for c in children.get(todo.pop(), []):
            c = m.identifier(c)
            if c not in out:
                out.add(c)
                todo.append(c)
    return out
