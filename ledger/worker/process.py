"""`ledger worker`: the background loops in a process of their own, apart from the web workers.

Reads the same settings as the API (`LEDGER_DATABASE_URL`, `LEDGER_RPC_URL`, `LEDGER_MANIFEST`,
the custodial keys, the anchor and webhook settings of `ledger.config`); several workers (on one host or on
several sharing PostgreSQL) elect one leader per loop. SIGTERM or SIGINT stops it.
"""

from __future__ import annotations

import logging
import os
import signal
import threading
from typing import Any

from eth_account.signers.local import LocalAccount

from ledger.access.roles import Role
from ledger.access.sealed import signer_mnemonic
from ledger.chain.client import DEV_MNEMONIC, Sender, connect, dev_accounts, rpc_url
from ledger.chain.deploy import Deployment, attach
from ledger.config import env
from ledger.paths import data_dir, manifest_path
from ledger.store.db import make_engine, migrate, session_factory
from ledger.store.locks import Locks
from ledger.store.sent_tables import keep_sent
from ledger.trace.epcis.anchoring import Anchorer, AnchorPolicy

from .loops import Loops, LoopSettings
from .purchases_tree import TreeAnchorer, TreePolicy

log = logging.getLogger(__name__)


class Keys:
    """The deployment, attached on first use, and the custodial keys the gateway holds (as the API's)."""

    def __init__(self, sessions: Any, locks: Locks):
        self.sessions, self.locks = sessions, locks
        self._dep: Deployment | None = None
        self._keys: dict[str, LocalAccount] | None = None
        self._lock = threading.Lock()

    def deployment(self) -> Deployment:
        with self._lock:
            if self._dep is None:
                timeout = env().rpc_timeout_s
                self._dep = attach(connect(rpc_url(), timeout=timeout), manifest_path())
            return self._dep

    def sender(self, address: str) -> Sender | None:
        """A sender for `address` if a custodial key for it is held here, else None."""
        if self._keys is None:
            mnemonic = signer_mnemonic()
            if mnemonic is None and self.deployment().manifest["chain_id"] == 31337:
                mnemonic = DEV_MNEMONIC  # local development chain only
            custodial = env().custodial
            self._keys = {a.address: a for a in dev_accounts(20, mnemonic)} if mnemonic and custodial else {}
        account = self._keys.get(address)
        if account is None:
            return None
        sender = self.deployment().sender(account)
        sender.on_sent = lambda tx_hash: keep_sent(self.sessions, tx_hash, "platform")
        sender.nonce_lock = lambda a: self.locks.exclusive(f"nonces/{a.lower()}")
        return sender

    def roles_of(self, address: str) -> int:
        dep = self.deployment()
        roles = int(dep.contract("Membership").functions.rolesOf(address).call())
        if dep.contract("Governance").functions.isGovernor(address).call():
            roles |= Role.GOVERNOR
        return roles


def build(settings: LoopSettings | None = None) -> Loops:
    """The loops of a worker process, on the database and chain the environment names."""
    settings = settings or LoopSettings()
    engine = make_engine()
    migrate(engine)
    sessions = session_factory(engine)
    locks = Locks(engine, data_dir())
    keys = Keys(sessions, locks)

    def anchor_sender() -> Sender:
        address = settings.anchor_account or keys.deployment().manifest["members"]["platform"]["address"]
        sender = keys.sender(address)
        if sender is None:
            raise LookupError(f"this worker holds no custodial key for the anchoring account {address}")
        return sender

    policy = AnchorPolicy(settings.anchor_max_events, settings.anchor_max_age_s, settings.anchor_one_by_one_max)
    anchorer = Anchorer(sessions, keys.deployment, anchor_sender, policy, keys.sender, locks)
    tree_policy = TreePolicy(settings.zk_anchor_interval_s, settings.zk_anchor_min_leaves, settings.zk_anchor_max_age_s)
    tree = TreeAnchorer(sessions, keys.deployment, anchor_sender, tree_policy)
    return Loops(settings, sessions, locks, keys.deployment, anchorer, keys.roles_of, tree)


def main() -> int:
    """Run the loops until SIGTERM or SIGINT."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    loops = build()
    loops.start(stop)
    log.info("ledger worker %d: running %s", os.getpid(), ", ".join(sorted(loops.leases)) or "no loops")
    stop.wait()
    loops.join()
    loops.locks.close()
    return 0
