"""The `purchases-tree` loop: the tree of delivered purchases anchored in the background
(`ledger.privacy.tree`, docs/zk.md), on a size or a period trigger, not only on request.

Each round (every `zk_anchor_interval_s`, where this process's lease leads) counts the changes
waiting: commitments carriers vouched for on chain not yet leaves, leaves of refunded orders not
yet zeroed.
It anchors when `zk_anchor_min_leaves` wait, or when any wait and `zk_anchor_max_age_s` have
passed since this loop's last anchor (or its start). This process's own clock, not the chain's:
a development chain's time jumps (tests move it by days) and stands still between blocks. Batching
also serves privacy: a root that adds many purchases at once tells less about when each one was
delivered than one root per delivery."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy.orm import sessionmaker

from ledger.chain.client import Sender
from ledger.chain.deploy import Deployment
from ledger.privacy import tree
from ledger.store.locks import Lease

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class TreePolicy:
    interval_s: float
    min_leaves: int
    max_age_s: float


class TreeAnchorer:
    def __init__(
        self,
        sessions: sessionmaker,
        deployment: Callable[[], Deployment],
        sender: Callable[[], Sender],
        policy: TreePolicy,
        clock: Callable[[], float] = time.monotonic,
    ):
        self.sessions, self.deployment, self.sender, self.policy, self.clock = (
            sessions,
            deployment,
            sender,
            policy,
            clock,
        )
        self.last: float | None = None

    def round(self) -> dict | None:
        """Anchor if due; what was anchored, or None."""
        dep = self.deployment()
        if "PurchaseProofs" not in dep.manifest["contracts"]:
            return None  # `ledger zk deploy` has not run on this chain
        if self.last is None:
            self.last = self.clock()  # a change waits at most max_age_s from the loop's start
        with self.sessions() as db:
            n = tree.changes_waiting(db, dep)
            if n >= self.policy.min_leaves:
                trigger = "size"
            elif n > 0 and self.clock() - self.last >= self.policy.max_age_s:
                trigger = "age"
            else:
                return None
            done = tree.anchor(db, dep, self.sender())
        self.last = self.clock()
        if done:
            added, zeroed, root = done["added"], done["zeroed"], done["root"]
            log.info("purchases tree anchored (%s trigger): %d added, %d zeroed, root %s", trigger, added, zeroed, root)
        return done

    def run(self, stop: threading.Event, lease: Lease) -> None:
        while not stop.wait(self.policy.interval_s):
            try:
                if lease.leads():
                    self.round()
            except Exception:  # noqa: BLE001 - a background loop must outlive a node or database restart
                log.warning("anchoring the purchases tree failed; retrying", exc_info=True)
