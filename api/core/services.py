"""What the API's handlers share: the database, the chain deployment, the gateway's signers and
the public rate limiter. Built once per app; reached through `services(request)`."""

from __future__ import annotations

import contextlib
import gc
import logging
import threading
from collections import Counter
from collections.abc import Callable, Iterator

from eth_account.signers.local import LocalAccount
from fastapi import Request
from requests.exceptions import RequestException
from sqlalchemy.orm import Session as DbSession
from sqlalchemy.orm import sessionmaker
from web3.exceptions import Web3Exception

from ledger.access.roles import Role
from ledger.chain.client import DEV_MNEMONIC, Sender, connect, dev_accounts
from ledger.chain.deploy import Deployment, attach
from ledger.chain.tx_defaults import ask
from ledger.errors import LedgerError, NodeUnavailable
from ledger.paths import data_dir
from ledger.store.db import DriverStatement, make_engine, migrate, session_factory
from ledger.store.locks import Locks
from ledger.trace import scan_facts
from ledger.trace.codes import CodeSigner
from ledger.trace.epcis import proofs, schema
from ledger.trace.epcis.anchoring import Anchorer, AnchorPolicy
from ledger.worker.loops import Loops, LoopSettings

from ..scan.recorder import LOOKUP, ScanRecorder
from .cache import TTLCache
from .errors import ApiError
from .limits import rate_limiter
from .self_signing import MODE, SelfSigningSender, record_sent
from .settings import Settings

log = logging.getLogger(__name__)


class Chain:
    """The deployment, attached on first use (so the API starts even while the node is down)."""

    def __init__(self, settings: Settings):
        self.settings = settings
        self._dep: Deployment | None = None
        self._lock = threading.Lock()

    def deployment(self) -> Deployment:
        with self._lock:
            if self._dep is None:
                w3 = connect(self.settings.rpc_url, timeout=self.settings.rpc_timeout_s)
                self._dep = attach(w3, self.settings.manifest_path)
            return self._dep

    def roles_of(self, address: str) -> int:
        """Roles as the Membership contract says now, and GOVERNOR for a member of the governance
        council (read on every request: both asked of the node at once)."""
        try:
            dep = self.deployment()
            governor = ask(dep.contract("Governance").functions.isGovernor(address).call)
            roles = int(dep.contract("Membership").functions.rolesOf(address).call())
            if governor.result():
                roles |= Role.GOVERNOR
            return roles
        except (RequestException, Web3Exception, OSError) as exc:
            raise NodeUnavailable(
                f"cannot read roles from the chain node at {self.settings.rpc_url}: {str(exc).splitlines()[0][:120]}"
            ) from None


class Signers:
    """Keys the gateway holds to sign transactions for members who delegate signing to it."""

    def __init__(
        self,
        settings: Settings,
        chain: Chain,
        on_sent: Callable[[bytes], None] | None = None,
        locks: Locks | None = None,
    ):
        self.settings, self.chain, self.on_sent, self.locks = settings, chain, on_sent, locks
        self._keys: dict[str, LocalAccount] | None = None

    def sender_for(self, address: str) -> Sender:
        mode = MODE.get()
        if mode is not None:  # the member signs for itself: prepare, or send what it signed
            dep = self.chain.deployment()
            return SelfSigningSender(dep.w3, address, dep.decoder(), mode)
        if not self.settings.custodial:
            raise ApiError(
                409,
                "no_signing_key",
                "this gateway signs for nobody; send the write with 'X-Ledger-Sign: self' and submit it signed",
            )
        if self._keys is None:
            mnemonic = self.settings.signer_mnemonic
            if mnemonic is None and self.chain.deployment().manifest["chain_id"] == 31337:
                mnemonic = DEV_MNEMONIC  # local development chain only
            self._keys = {a.address: a for a in dev_accounts(20, mnemonic)} if mnemonic else {}
        account = self._keys.get(address)
        if account is None:
            raise ApiError(
                409,
                "no_signing_key",
                f"this gateway holds no signing key for {address}; submit the transaction yourself",
            )
        sender = self.chain.deployment().sender(account)
        sender.on_sent = self.on_sent  # its hashes are kept: no wallet submission claims them later
        if self.locks is not None:  # one nonce at a time per key across the deployment's processes and hosts
            sender.nonce_lock = lambda a, locks=self.locks: locks.exclusive(f"nonces/{a.lower()}")
        return sender


class Services:
    def __init__(self, settings: Settings):
        self.settings = settings
        self.engine = make_engine(settings.database_url)
        migrate(self.engine)
        self.sessions: sessionmaker[DbSession] = session_factory(self.engine)
        self.chain = Chain(settings)
        self.locks = Locks(self.engine, data_dir())  # nonces, anchoring, the background loops' leases
        sent = lambda tx_hash: record_sent(self.sessions, tx_hash, "platform")  # noqa: E731
        self.signers = Signers(settings, self.chain, sent, self.locks)
        self.public_limiter = rate_limiter(
            settings.public_rate, settings.public_window_s, settings.redis_url, self.engine
        )
        self._code_signer: CodeSigner | None = None
        self.scans = ScanRecorder(self.engine)
        self.lookup = DriverStatement(self.engine, LOOKUP)  # a scan's one query
        self.scan_cache = TTLCache(settings.scan_cache_s)
        self.issues = TTLCache(3600)  # code issues never change once anchored
        self.sockets: Counter[str] = Counter()  # open WebSocket subscriptions per member (this worker)
        scan_facts.TREES.max_leaves = proofs.TREES.max_leaves = settings.tree_cache_leaves
        self.anchorer = Anchorer(
            self.sessions,
            self.chain.deployment,
            lambda: self.signers.sender_for(self.anchor_address()),
            AnchorPolicy(settings.anchor_max_events, settings.anchor_max_age_s, settings.anchor_one_by_one_max),
            self._recorder_sender,
            self.locks,
        )

    def _recorder_sender(self, address: str) -> Sender | None:
        """The member's own signer, for its events' entries in a batch's hash chain, if held here."""
        try:
            return self.signers.sender_for(address)
        except ApiError:
            return None

    def stop_background(self, stop: threading.Event) -> None:
        """Stop the background loops; wait for the scan writer's last flush."""
        stop.set()
        writer = getattr(self, "_scan_writer", None)
        if writer is not None:
            writer.join(timeout=5)

    def _warm_up(self) -> None:
        """Build at start what the first requests would otherwise wait for: the compiled EPCIS
        schema validator (~0.4 s) and, on a dev chain, the custodial keys (~0.5 s)."""
        schema.warm_up()
        with contextlib.suppress(LedgerError, ApiError):
            self.signers.sender_for(self.anchor_address())
        # Everything built so far lives as long as the process. Left to the collector, each full
        # collection walked all of it (~300,000 objects, ~150 ms with the loop stopped: every
        # request in flight waited); frozen, a full collection walks only what came after.
        gc.collect()
        gc.freeze()

    def anchor_address(self) -> str:
        """The member whose key signs EPCIS anchors."""
        return self.settings.anchor_account or self.chain.deployment().manifest["members"]["platform"]["address"]

    def start_background(self) -> threading.Event:
        """Start the scan writer and, where `background_in_web` says so, the background loops
        (`ledger.worker.loops`: each led by one process of the deployment at a time; `ledger
        worker` runs them otherwise); set the returned event to stop them."""
        stop = threading.Event()
        threading.Thread(target=self._warm_up, name="warm-up", daemon=True).start()
        self._scan_writer = threading.Thread(target=self.scans.run, args=(stop,), name="scans", daemon=True)
        self._scan_writer.start()
        if self.settings.background_in_web:
            s = self.settings
            loops = LoopSettings(
                anchor_interval_s=s.anchor_interval_s,
                webhook_interval_s=s.webhook_interval_s,
                webhook_backoff_s=s.webhook_backoff_s,
                webhook_allow_private=s.webhook_allow_private,
                resolver_url=s.resolver_url,
            )
            self.loops = Loops(
                loops, self.sessions, self.locks, self.chain.deployment, self.anchorer, self.chain.roles_of
            )
            self.loops.start(stop)
        return stop

    @property
    def code_signer(self) -> CodeSigner:
        if self._code_signer is None or self._code_signer.stale():
            self._code_signer = CodeSigner(self.settings.code_key_dir)
        return self._code_signer


def services(request: Request) -> Services:
    return request.app.state.services


def get_db(request: Request) -> Iterator[DbSession]:
    with services(request).sessions() as db:
        yield db


def rate_limited(request: Request) -> None:
    """Dependency for public endpoints: a budget of requests per client and window."""
    client = request.client.host if request.client else "unknown"
    services(request).public_limiter.hit(client)
