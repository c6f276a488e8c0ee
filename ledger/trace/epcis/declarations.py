"""Error declarations of events already stored (EPCIS 2.0 section 7.4.1.2).

To say that an event it captured was wrong, a capturing application captures the same event again
with an `errorDeclaration` (when it was declared, why, the corrective events' IDs). The CBV 2.0 hash
ID leaves `errorDeclaration` out, so the declaration has the erroneous event's hash ID: stored by
hash ID alone, it was reported as a duplicate and lost.

Here a declaration of a stored event is kept on that event: its stored body gains the
`errorDeclaration` (nothing else changes, so its hash ID, its anchor, its recorder's signature and
its proof still hold) and every query then shows it and finds it with `EXISTS_errorDeclaration`,
`EQ_errorReason`, `EQ_correctiveEventID` and the declaration time. Only the member who recorded the
event may declare it erroneous (`NotTheRecorder`, a 403 at every capture door; another member's
claim would be a way to discredit a competitor's records); a declaration is made once and stays:
sent again, or another declaration of an event already declared, it is a duplicate.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from ledger.clock import utcnow
from ledger.errors import Forbidden
from ledger.store.epcis_tables import EpcisDeclaration
from ledger.store.models import EpcisEvent


class NotTheRecorder(Forbidden):
    """An error declaration of a stored event by a member who did not record it."""

    def __init__(self, hash_id: str, recorder: str, declarer: str):
        self.hash_id = hash_id
        super().__init__(
            f"event {hash_id} was recorded by {recorder}: only its recorder may declare it erroneous, "
            f"not {declarer}; nothing was stored"
        )


@dataclass
class Declaration:
    """A stored event's body with the declaration added, and the body it replaces."""

    row_id: int
    hash_id: str
    old_body: str
    new_body: str


def declares(event: dict) -> bool:
    return isinstance(event.get("errorDeclaration"), dict)


def staged(
    db: Session, known: Sequence[tuple[str, dict]], declarer: str, encode: Callable[[dict], str]
) -> list[Declaration]:
    """The declarations among `known` (hash ID, event as sent) of events already stored: each stored
    event not declared yet gains the sent `errorDeclaration`. Raises NotTheRecorder first if any
    names an event another member recorded."""
    sent = {h: e for h, e in known if declares(e)}
    if not sent:
        return []
    rows = db.execute(
        select(EpcisEvent.id, EpcisEvent.hash_id, EpcisEvent.recorder, EpcisEvent.body).where(
            EpcisEvent.hash_id.in_(list(sent))
        )
    ).all()
    out = []
    for row_id, hash_id, recorder, body in rows:
        stored = json.loads(body)
        if declares(stored):
            continue  # declared before (or captured with its declaration): a duplicate
        if recorder != declarer:
            raise NotTheRecorder(hash_id, recorder, declarer)
        out.append(
            Declaration(row_id, hash_id, body, encode(stored | {"errorDeclaration": sent[hash_id]["errorDeclaration"]}))
        )
    return out


def write(db: Session, declarations: Sequence[Declaration]) -> set[str]:
    """Write the declarations (in the capture's transaction); the hash IDs written. A body changed
    since it was read (the same declaration sent at once) is left to the one that changed it."""
    done = set()
    for d in declarations:
        changed = db.execute(
            update(EpcisEvent)
            .where(EpcisEvent.id == d.row_id, EpcisEvent.body == d.old_body)
            .values(body=d.new_body)
            .execution_options(synchronize_session=False)
        ).rowcount
        if changed:
            done.add(d.hash_id)
            db.add(EpcisDeclaration(event_id=d.row_id, declared_at=utcnow()))  # for subscriptions (webhooks)
    return done
