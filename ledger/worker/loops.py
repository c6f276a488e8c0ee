"""The background loops, each elected through the deployment's lock helper: a loop works only in
rounds where its lease says this process leads, and asks again every round, so when the leader
dies (SIGKILL, its host gone) another process takes over at its next round.

- `anchorer`: anchors captured EPCIS events (`ledger.trace.epcis.anchoring`) every
  `anchor_interval_s` (0: not run);
- `webhooks`: delivers subscribed query results (`ledger.trace.epcis.binding.webhooks`) every
  `webhook_interval_s` (0: not run);
- `pact-replies`: answers PACT requests partners sent (`ledger.carbon.pact_replies`) at their own
  `/3/events`, every `webhook_interval_s` with the webhooks (0: not run);
- `purchases-tree`: anchors the tree of delivered purchases (`.purchases_tree`) on a size or
  period trigger, looking every `zk_anchor_interval_s` (0: not run), in `ledger worker`;
- `code-anchors`: completes or undoes code issues whose anchoring answer was lost
  (`ledger.trace.code_anchors`), every `CATCH_UP_EVERY_S`, where the anchorer runs;
- `cold-chain-holds`: puts the delivered orders of a lot with an open cold-chain alarm on hold
  (`ledger.flows.cold_chain_holds`), every `CATCH_UP_EVERY_S`, where the anchorer runs, signed by
  the anchorer's (the platform's) sender.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field

from sqlalchemy.orm import sessionmaker

from ledger.carbon import pact_replies
from ledger.chain.client import tx_timeout
from ledger.chain.deploy import Deployment
from ledger.clock import utcnow
from ledger.config import env
from ledger.flows import cold_chain_holds
from ledger.store.locks import Lease, Locks
from ledger.trace import code_anchors
from ledger.trace.epcis.anchoring import Anchorer
from ledger.trace.epcis.binding import webhooks

from .purchases_tree import TreeAnchorer

log = logging.getLogger(__name__)
CATCH_UP_EVERY_S = 5.0


@dataclass(frozen=True)
class LoopSettings:
    """What the loops read from the environment (the API's `Settings` names the same variables)."""

    anchor_interval_s: float = field(default_factory=lambda: env().anchor_interval_s)
    webhook_interval_s: float = field(default_factory=lambda: env().webhook_interval_s)
    webhook_backoff_s: float = field(default_factory=lambda: env().webhook_backoff_s)
    webhook_allow_private: bool = field(default_factory=lambda: env().webhook_allow_private)
    #: the public base; the CloudEvent `source` of our PACT answers is its `/pact`
    resolver_url: str = field(default_factory=lambda: env().resolver_url)
    anchor_max_events: int = field(default_factory=lambda: env().anchor_max_events)
    anchor_max_age_s: float = field(default_factory=lambda: env().anchor_max_age_s)
    anchor_one_by_one_max: int = field(default_factory=lambda: env().anchor_one_by_one_max)
    anchor_account: str | None = field(default_factory=lambda: env().anchor_account)
    zk_anchor_interval_s: float = field(default_factory=lambda: env().zk_anchor_interval_s)
    zk_anchor_min_leaves: int = field(default_factory=lambda: env().zk_anchor_min_leaves)
    zk_anchor_max_age_s: float = field(default_factory=lambda: env().zk_anchor_max_age_s)


class Loops:
    """The loops of one process: `start` them, set the event to stop them."""

    def __init__(
        self,
        settings: LoopSettings,
        sessions: sessionmaker,
        locks: Locks,
        deployment: Callable[[], Deployment],
        anchorer: Anchorer,
        roles_of: Callable[[str], int],
        tree: TreeAnchorer | None = None,
    ):
        self.settings, self.sessions, self.locks = settings, sessions, locks
        self.deployment, self.anchorer, self.roles_of = deployment, anchorer, roles_of
        self.tree = tree
        self.leases: dict[str, Lease] = {}
        self.threads: list[threading.Thread] = []

    def start(self, stop: threading.Event) -> None:
        s = self.settings
        if s.webhook_interval_s > 0:
            self._thread("webhooks", self._webhooks, stop)
            self._thread("pact-replies", self._pact_replies, stop)
        if s.anchor_interval_s > 0:
            self._thread("anchorer", self._anchorer, stop)
            self._thread("code-anchors", self._code_anchors, stop)
            self._thread("cold-chain-holds", self._cold_chain_holds, stop)
        if self.tree is not None and s.zk_anchor_interval_s > 0:
            self._thread("purchases-tree", self.tree.run, stop)

    def _thread(self, name: str, target: Callable[[threading.Event, Lease], None], stop: threading.Event) -> None:
        lease = self.leases[name] = self.locks.lease(name)

        def run() -> None:
            try:
                target(stop, lease)
            finally:
                lease.release()

        t = threading.Thread(target=run, name=name, daemon=True)
        t.start()
        self.threads.append(t)

    def join(self, timeout: float = 10) -> None:
        for t in self.threads:
            t.join(timeout)

    def _anchorer(self, stop: threading.Event, lease: Lease) -> None:
        self.anchorer.run(stop, self.settings.anchor_interval_s, leads=lease.leads)

    def _webhooks(self, stop: threading.Event, lease: Lease) -> None:
        allow = self.settings.webhook_allow_private
        deliverer = webhooks.Deliverer(
            self.sessions,
            self.roles_of,
            lambda url, body, headers: webhooks.http_post(url, body, headers, allow),
            self.settings.webhook_backoff_s,
        )
        while not stop.wait(self.settings.webhook_interval_s):
            try:
                if lease.leads():
                    deliverer.round(utcnow())
            except Exception:  # noqa: BLE001 - a background loop must outlive a node or database restart
                log.warning("webhook deliveries failed; retrying", exc_info=True)
        deliverer.close()

    def _pact_replies(self, stop: threading.Event, lease: Lease) -> None:
        s = self.settings
        replier = pact_replies.Replier(self.sessions, pact_replies.http_exchange(s.webhook_allow_private),
                                       s.resolver_url.rstrip("/") + "/pact", s.webhook_backoff_s)  # fmt: skip
        while not stop.wait(s.webhook_interval_s):
            try:
                if lease.leads():
                    replier.round(utcnow())
            except Exception:  # noqa: BLE001 - a background loop must outlive a node or database restart
                log.warning("PACT replies failed; retrying", exc_info=True)
        replier.close()

    def _code_anchors(self, stop: threading.Event, lease: Lease) -> None:
        while not stop.wait(CATCH_UP_EVERY_S):
            try:
                if lease.leads():
                    with self.sessions() as db:
                        code_anchors.catch_up(db, self.deployment(), 2 * tx_timeout() + 10)
            except Exception:  # noqa: BLE001 - a background loop must outlive a node or database restart
                log.warning("code issue catch-up failed; retrying", exc_info=True)

    def _cold_chain_holds(self, stop: threading.Event, lease: Lease) -> None:
        while True:  # a round at once (an alarm may have waited for a worker), then every few seconds
            try:
                if lease.leads():
                    with self.sessions() as db:
                        cold_chain_holds.act(db, self.deployment(), self.anchorer.sender, self.locks)
            except Exception:  # noqa: BLE001 - a background loop must outlive a node or database restart
                log.warning("cold-chain holds failed; retrying", exc_info=True)
            if stop.wait(CATCH_UP_EVERY_S):
                return
