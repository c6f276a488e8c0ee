"""API settings, read from the environment once at start-up."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from ledger.chain.client import rpc_url
from ledger.paths import consortium, data_dir, manifest_path, network_dir
from ledger.store.db import database_url


def _signer_mnemonic() -> str | None:
    """`LEDGER_SIGNER_MNEMONIC_FILE` (sealed at rest by `ledger keys seal-mnemonic`, opened with
    `LEDGER_KEY_PASSPHRASE`), or `LEDGER_SIGNER_MNEMONIC` in the clear (development). On the
    consortium, the operator's sealed file that `ledger network init` wrote, by default."""
    path = os.environ.get("LEDGER_SIGNER_MNEMONIC_FILE")
    operator_keys = network_dir() / "platform" / "custodial.sealed"
    if not path and consortium() and operator_keys.exists():
        path = str(operator_keys)
    if path:
        from ledger.access.sealed import unseal

        return unseal(Path(path).read_bytes()).decode()
    return os.environ.get("LEDGER_SIGNER_MNEMONIC")


def _env_int(name: str, default: int) -> int:
    return int(os.environ.get(name, default))


@dataclass(frozen=True)
class Settings:
    rpc_url: str = field(default_factory=rpc_url)
    database_url: str = field(default_factory=database_url)
    manifest_path: Path = field(default_factory=manifest_path)
    rpc_timeout_s: float = field(default_factory=lambda: float(os.environ.get("LEDGER_RPC_TIMEOUT", "5")))
    #: the domain sign-in messages must name (EIP-4361 `domain`)
    siwe_domain: str = field(default_factory=lambda: os.environ.get("LEDGER_SIWE_DOMAIN", "127.0.0.1:8000"))
    nonce_ttl_s: int = field(default_factory=lambda: _env_int("LEDGER_NONCE_TTL", 300))
    session_ttl_s: int = field(default_factory=lambda: _env_int("LEDGER_SESSION_TTL", 900))
    #: public endpoints: requests per client per window
    public_rate: int = field(default_factory=lambda: _env_int("LEDGER_PUBLIC_RATE", 120))
    public_window_s: int = field(default_factory=lambda: _env_int("LEDGER_PUBLIC_WINDOW", 60))
    #: where issued QR codes point (the GS1 Digital Link resolver, i.e. this service)
    resolver_url: str = field(default_factory=lambda: os.environ.get("LEDGER_RESOLVER_URL", "http://127.0.0.1:8000"))
    #: the largest code issue this deployment accepts in one request
    max_codes_per_issue: int = field(default_factory=lambda: _env_int("LEDGER_MAX_CODES_PER_ISSUE", 100_000))
    #: per merchant, code issues (and their codes) drawn and not yet anchored (awaiting a signature)
    max_pending_issues: int = field(default_factory=lambda: _env_int("LEDGER_MAX_PENDING_ISSUES", 4))
    max_pending_codes: int = field(default_factory=lambda: _env_int("LEDGER_MAX_PENDING_CODES", 200_000))
    #: refused anonymous writes of one client are audited as one row per window of this length
    audit_denied_window_s: float = field(default_factory=lambda: float(_env_int("LEDGER_AUDIT_DENIED_WINDOW_S", 60)))
    #: the Ed25519 code-signing key lives here (created on first issue)
    code_key_dir: Path = field(
        default_factory=lambda: Path(os.environ.get("LEDGER_CODE_KEY_DIR", data_dir() / "keys" / "codes"))
    )
    #: custodial signing keys the gateway holds for members (dev: anvil's mnemonic)
    signer_mnemonic: str | None = field(default_factory=lambda: _signer_mnemonic())
    #: captured EPCIS events are anchored in Merkle roots of up to this many events...
    anchor_max_events: int = field(default_factory=lambda: _env_int("LEDGER_ANCHOR_MAX_EVENTS", 1000))
    #: ...or as soon as the oldest pending event has waited this long (seconds)
    anchor_max_age_s: float = field(default_factory=lambda: float(os.environ.get("LEDGER_ANCHOR_MAX_AGE", "10")))
    #: at most this many pending events, when due, are recorded one by one into their batches'
    #: on-chain hash chains, signed by their recorders, instead of a Merkle root (0: roots only)
    anchor_one_by_one_max: int = field(default_factory=lambda: _env_int("LEDGER_ANCHOR_ONE_BY_ONE_MAX", 1))
    #: a non-operator's POST /v1/epcis/anchor anchors at most this often (seconds; 0: no limit)
    anchor_manual_every_s: float = field(
        default_factory=lambda: float(os.environ.get("LEDGER_ANCHOR_MANUAL_EVERY", "10"))
    )
    #: how often the background anchorer looks (seconds); 0 turns it off (anchor with the CLI or API)
    anchor_interval_s: float = field(default_factory=lambda: float(os.environ.get("LEDGER_ANCHOR_INTERVAL", "1")))
    #: /healthz: 503 when the chain's head block is older than this (seconds; unset: 60, but not
    #: judged on an anvil that mines only per transaction), when a captured event
    #: has waited longer than this for its anchor, when the indexer's oldest unread block has waited
    #: longer than this (api/health.py)
    health_head_age_s: float | None = field(
        default_factory=lambda: float(v) if (v := os.environ.get("LEDGER_HEALTH_HEAD_AGE_S")) else None
    )
    health_anchor_lag_s: float = field(
        default_factory=lambda: float(os.environ.get("LEDGER_HEALTH_ANCHOR_LAG_S", "120"))
    )
    health_indexer_lag_s: float = field(
        default_factory=lambda: float(os.environ.get("LEDGER_HEALTH_INDEXER_LAG_S", "60"))
    )
    #: the member that signs anchors (default: the deployment's platform operator)
    anchor_account: str | None = field(default_factory=lambda: os.environ.get("LEDGER_ANCHOR_ACCOUNT"))
    #: the most events one EPCIS capture may carry
    epcis_max_events: int = field(default_factory=lambda: _env_int("LEDGER_EPCIS_MAX_EVENTS", 10_000))
    #: EPCIS webhooks may call private and loopback addresses (development and tests; off by default)
    webhook_allow_private: bool = field(
        default_factory=lambda: os.environ.get("LEDGER_WEBHOOK_ALLOW_PRIVATE", "") in ("1", "true", "yes")
    )
    #: WebSocket subscriptions one member may hold open at once (per API worker)
    ws_per_member: int = field(default_factory=lambda: _env_int("LEDGER_WS_PER_MEMBER", 10))
    #: how often subscriptions are looked at for new events to deliver (seconds; 0: never)
    webhook_interval_s: float = field(default_factory=lambda: float(os.environ.get("LEDGER_WEBHOOK_INTERVAL", "0.1")))
    #: the first retry of a failed webhook delivery waits this long (seconds), each next one twice as long
    webhook_backoff_s: float = field(default_factory=lambda: float(os.environ.get("LEDGER_WEBHOOK_BACKOFF_S", "1")))
    #: a scan may show a batch's facts and the merchant's deposit up to this old (seconds; 0: never cached)
    scan_cache_s: float = field(default_factory=lambda: float(os.environ.get("LEDGER_SCAN_CACHE_S", "2")))
    #: leaves of Merkle trees (code issues', anchored roots') each worker keeps built, per kind
    #: (~64 bytes a leaf): a scan of a code whose issue's tree is not kept waits for it to be rebuilt
    tree_cache_leaves: int = field(default_factory=lambda: _env_int("LEDGER_TREE_CACHE_LEAVES", 2_000_000))
    #: the largest request body, in bytes, for every endpoint but capture (413 beyond)
    max_body_bytes: int = field(default_factory=lambda: _env_int("LEDGER_MAX_BODY_BYTES", 1 << 20))
    #: the largest EPCIS capture document, in bytes (413 beyond)
    max_capture_bytes: int = field(default_factory=lambda: _env_int("LEDGER_MAX_CAPTURE_BYTES", 32 << 20))
    #: shared limits (the public rate limit) live here when set, so they hold across processes
    redis_url: str | None = field(default_factory=lambda: os.environ.get("LEDGER_REDIS_URL") or None)
    #: whether the gateway may sign with custodial keys (LEDGER_SIGNER_MNEMONIC, or on the local
    #: development chain anvil's); "0" turns it off: members then sign for themselves only
    custodial: bool = field(default_factory=lambda: os.environ.get("LEDGER_CUSTODIAL", "1") != "0")
