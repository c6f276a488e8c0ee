"""The trace-record profile (ledger.compliance) at every capture door: `/v1/epcis/capture`,
`/v1/compliance/capture` and the EPCIS 2.0 binding's `POST /epcis/capture` and `POST /epcis/events`.

Every event a door stores is flagged complete or incomplete, the missing and wrong elements
named: judged before the capture's write and written in its transaction
(`ledger.flows.compliance_capture`, a constant number of queries per capture).
The capture option `X-Ledger-Profile: strict` (or `?profile=strict`) refuses a document holding
an incomplete event: 422 naming each element with its JSON path (under `/epcis/` the binding's
400 ValidationException, as it answers every validation failure), nothing stored. Without it (or
with `flag`), an incomplete record is accepted as EPCIS and flagged."""

from __future__ import annotations

from collections.abc import Sequence

from fastapi import Request
from sqlalchemy.orm import Session

from ledger.flows import compliance_capture

from ..core.errors import ApiError

HEADER = "x-ledger-profile"
MODES = ("flag", "strict")


def is_strict(request: Request) -> bool:
    """Whether the capture asks for the strict profile (header or query); 400 for another value."""
    value = request.headers.get(HEADER) or request.query_params.get("profile") or "flag"
    if value.strip().lower() not in MODES:
        raise ApiError(400, "invalid_input", f"X-Ledger-Profile / profile: expected flag or strict, not {value[:40]!r}")
    return value.strip().lower() == "strict"


def refuse_incomplete(db: Session, events: Sequence[dict], recorder: str, strict: bool) -> None:
    """Under the strict profile: 422 `incomplete_record` naming each missing or wrong element (and
    any transformation closing a cycle), before anything is stored."""
    if not strict:
        return
    found = compliance_capture.problems(db, list(events), recorder)
    if found:
        raise ApiError(422, "incomplete_record", found)
