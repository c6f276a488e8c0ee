"""A footprint's public evidence, built once per process. It does not change once the footprint is
anchored (its inputs are fixed, and each was anchored before it), and building it for a genealogy of
thousands of events reads and serialises megabytes: without this, an anonymous caller could make
us do that again with every request. The most recently asked KEPT answers are kept, by footprint
and status (a recomputation deprecates the old footprint)."""

from __future__ import annotations

import json
import threading
from collections import OrderedDict

from fastapi import Response
from sqlalchemy.orm import Session as DbSession

from ledger.carbon import records
from ledger.store.carbon_tables import CarbonFootprint

KEPT = 16
_lock = threading.Lock()
_kept: OrderedDict[tuple[str, str], bytes] = OrderedDict()


def answer(db: DbSession, row: CarbonFootprint) -> Response:
    key = (row.id, row.status)
    with _lock:
        body = _kept.get(key)
        if body is not None:
            _kept.move_to_end(key)
    if body is None:
        body = json.dumps(records.evidence(db, row), ensure_ascii=False, separators=(",", ":")).encode()
        with _lock:
            _kept[key] = body
            while len(_kept) > KEPT:
                _kept.popitem(last=False)
    return Response(body, media_type="application/json")
