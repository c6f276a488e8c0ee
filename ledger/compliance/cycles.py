"""Cycles in the genealogy: a document whose transformations (with the stored genealogy upstream
of them) would make a batch its own ancestor. Batches are nodes (an item of a lot counts as its
lot, as the trace reads it); the stored links are those of one backward walk from every input the
document's transformations name, so the check costs one bounded walk and one pass over the
strongly connected components (Tarjan), however many transformations the document holds."""

from __future__ import annotations

from collections import defaultdict

from sqlalchemy.orm import Session

from ledger.trace.epcis.capture import item_parts

from . import genealogy

WALK_LIMIT = 20_000


def _node(uri: str) -> str:
    g, lot, _ = item_parts(uri)
    return genealogy.class_uri(g, lot) if g and lot else uri


def _edges(event: dict, cache: dict[str, str]) -> list[tuple[str, str]]:
    ins, outs = genealogy.links(event, True, cache)
    return [(_node(a), _node(b)) for a in ins for b in outs]


def _components(graph: dict[str, set[str]]) -> dict[str, str]:
    """Each node's strongly connected component (named by its root), iteratively."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    comp: dict[str, str] = {}
    stack: list[str] = []
    on: set[str] = set()

    def enter(n: str) -> None:
        index[n] = low[n] = len(index)
        stack.append(n)
        on.add(n)

    for root in list(graph):
        if root in index:
            continue
        enter(root)
        work = [(root, iter(graph.get(root, ())))]
        while work:
            node, it = work[-1]
            for nxt in it:
                if nxt not in index:
                    enter(nxt)
                    work.append((nxt, iter(graph.get(nxt, ()))))
                    break
                if nxt in on:
                    low[node] = min(low[node], index[nxt])
            else:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[node])
                if low[node] == index[node]:
                    while True:
                        w = stack.pop()
                        on.discard(w)
                        comp[w] = node
                        if w == node:
                            break
    return comp


def closing(db: Session, events: list[dict]) -> dict[int, str]:
    """{index of a document event: an output of it that closes a cycle}."""
    cache: dict[str, str] = {}
    doc = {i: es for i, e in enumerate(events) if e.get("type") == "TransformationEvent" and (es := _edges(e, cache))}
    if not doc:
        return {}
    start = {a for es in doc.values() for a, _ in es}
    graph: dict[str, set[str]] = defaultdict(set)
    for e in genealogy.trace(db, start, forward=False, limit=WALK_LIMIT).events.values():
        for a, b in _edges(e, cache):
            graph[a].add(b)
    for es in doc.values():
        for a, b in es:
            graph[a].add(b)
    comp = _components(graph)
    out = {}
    for i, es in doc.items():
        if hit := next((b for a, b in es if a == b or comp[a] == comp[b]), None):
            out[i] = hit
    return out
