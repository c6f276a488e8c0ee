"""Every setting, once: the `LEDGER_*` environment variables, their types, defaults and meaning
(pydantic-settings). A process builds one `Settings` at start-up and hands it down (the API keeps it
on its context); library helpers that run outside a process's start-up (the CLI's defaults, the
development node) ask `env()`, the environment as it is now. The README's configuration table is
generated from this class (`python -m ledger.config_docs --write`) and checked by
tests/python/test_config.py.

A new variable is one line here: `name: type = Field(default, description="...")`; the
environment variable is `LEDGER_` + the name in capitals, unless `validation_alias` names it.
Imports nothing of the project (a base module).
"""

from __future__ import annotations

import os
from pathlib import Path

from pydantic import AliasChoices, Field
from pydantic_settings import BaseSettings, SettingsConfigDict


def _as(name: str, env: str) -> AliasChoices:
    """The field is set by its name (in code) or by the environment variable `env`."""
    return AliasChoices(name, env)


def _d(text: str, default: str | None = None) -> str:
    return f"{text} [default: {default}]" if default else text


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="LEDGER_", frozen=True, populate_by_name=True, env_ignore_empty=True, extra="ignore"
    )

    # -- chain ------------------------------------------------------------------------------------
    rpc_url: str | None = Field(None, description=_d(
        "EVM JSON-RPC endpoint, or several separated by commas (failover, own node first). Any node works (anvil, "
        "Besu, GoQuorum, geth, EthereumJS; PoA extra-data is handled). `make run` starts anvil only for a local URL "
        "that does not answer", "`http://127.0.0.1:8545`; on the consortium its nodes"))  # fmt: skip
    network: str = Field("anvil", description="`consortium`: `make run` starts the three geth Clique validators "
                         "instead, and every `ledger` command takes the network's nodes, manifest, database and the "
                         "operator's sealed keys by default (docs/operations.md)")  # fmt: skip
    network_port: int = Field(8645, description="the consortium's first JSON-RPC port at `network init` "
                              "(node i: + i; devp2p + 100; engine API + 200)")  # fmt: skip
    tx_timeout_s: float = Field(60, validation_alias=_as("tx_timeout_s", "LEDGER_TX_TIMEOUT"),
                                description="seconds a write waits for its receipt before it answers 503 "
                                "(no block sealed: too few validators up)")  # fmt: skip
    rpc_timeout_s: float = Field(5, validation_alias=_as("rpc_timeout_s", "LEDGER_RPC_TIMEOUT"),
                                 description="seconds a read of the chain node may take, then a 503")  # fmt: skip
    block_time: str = Field(
        "2",
        description="seconds between blocks of the development node when nobody transacts "
        "(anvil's mixed mining: a transaction is still mined at once), so the newest transaction becomes final as on "
        "a consortium chain; 0: a block only per transaction",
    )
    mnemonic: str | None = Field(
        None, repr=False, description=_d("keys that deploy and bootstrap (dev only)", "anvil's development mnemonic")
    )
    geth: Path | None = Field(None, description=_d("the geth binary of the consortium", "`.bin/geth`"))
    netns_prefix: str = Field("netns", pattern=r"^[a-z0-9]{1,12}$", description="names of test hosts' namespaces")
    solc_no_download: bool = Field(False, description="1: never download solc; use the one installed")
    block_period_s: int | None = Field(
        None, ge=1, description=_d("seconds between blocks, written into a new consortium network's genesis", "2")
    )
    confirmations: int | None = Field(
        None,
        ge=0,
        description=_d(
            "blocks on top of a block before it is final",
            "the partition bound for the number of validators, at least 2 (`ledger.chain.finality`)",
        ),
    )
    background_in_web: bool = Field(
        True,
        description="the web workers also run the background loops (anchorer, "
        "webhooks, code-issue catch-up), one leader per loop among them; `make run` sets 0 and starts `ledger worker` "
        "instead",
    )
    indexer_confirmations: int = Field(
        6, description="a reconciliation run's pending row becomes a break this many blocks after its chain block"
    )

    # -- storage ----------------------------------------------------------------------------------
    data_dir: Path | None = Field(None, description=_d("runtime state (chain, manifest, SQLite)", "`.data`"))
    native: bool = Field(True, description="the hash path's Cython build (`make setup`) where fresh (`ledger.native`)")
    database_url: str | None = Field(
        None,
        description=_d(
            "SQLAlchemy URL, e.g. `postgresql+psycopg://127.0.0.1:5432/test`. `DATABASE=postgres make run` starts a "
            "PostgreSQL of our own under `$LEDGER_DATA_DIR/postgresql` on 127.0.0.1:5433 (`python -m ledger postgres "
            "start|stop`; `make stop` stops it) and uses it",
            "`sqlite:///.data/ledger.sqlite3`",
        ),
    )
    manifest_path: Path | None = Field(
        None,
        validation_alias=_as("manifest_path", "LEDGER_MANIFEST"),
        description=_d("deployment manifest", "`$LEDGER_DATA_DIR/deployment.json`"),
    )
    redis_url: str | None = Field(
        None,
        description="Redis for limits shared by every API process and machine (the "
        "public rate limit); without it, on PostgreSQL the database counts them, on SQLite each process "
        "counts alone ([docs/multihost.md](multihost.md))",
    )

    # -- keys and secrets -------------------------------------------------------------------------
    key_passphrase: str | None = Field(
        None,
        repr=False,
        description=_d(
            "opens the keys sealed at rest (code keys, sealed mnemonics, the order-key secret)",
            "a random one in `.data/keys/passphrase` (development)",
        ),
    )
    keystore_password: str | None = Field(
        None,
        repr=False,
        description=_d("password of a member's own keystore (`ledger keys`, `ledger call`)", "asked in the terminal"),
    )
    signer_mnemonic: str | None = Field(
        None,
        repr=False,
        description=_d(
            "custodial signing keys the gateway holds for members, in the clear (development)",
            "anvil's on the local development chain",
        ),
    )
    signer_mnemonic_file: Path | None = Field(
        None,
        description=_d(
            "the same, sealed at rest by `ledger keys "
            "seal-mnemonic` (opened with `LEDGER_KEY_PASSPHRASE`); wins over `LEDGER_SIGNER_MNEMONIC`",
            "on the consortium, the operator's sealed file",
        ),
    )
    custodial: bool = Field(True, description="0: the gateway holds no custodial keys; members sign for themselves")
    order_key_secret: str | None = Field(
        None,
        repr=False,
        description=_d("hex secret salting order keys on chain", "a random one sealed in `.data/secrets/order-key`"),
    )
    code_key_dir: Path | None = Field(
        None, description=_d("where the Ed25519 code-signing key lives (created on first issue)", "`.data/keys/codes`")
    )

    # -- API --------------------------------------------------------------------------------------
    resolver_url: str = Field(
        "http://127.0.0.1:8000",
        description="the public base URL: where issued QR codes point, "
        "every absolute link of `/epcis`, the API the CLI talks to",
    )
    resolver_contact: str = Field("the platform operator", description="named at /.well-known/gs1resolver")
    siwe_domain: str = Field("127.0.0.1:8000", description="the domain sign-in messages must name (EIP-4361)")
    nonce_ttl_s: int = Field(
        300, validation_alias=_as("nonce_ttl_s", "LEDGER_NONCE_TTL"), description="seconds a sign-in nonce is valid"
    )
    session_ttl_s: int = Field(
        900, validation_alias=_as("session_ttl_s", "LEDGER_SESSION_TTL"), description="seconds a session token is valid"
    )
    public_rate: int = Field(120, description="public endpoints: requests per client per window")
    public_window_s: int = Field(
        60,
        validation_alias=_as("public_window_s", "LEDGER_PUBLIC_WINDOW"),
        description="the public rate limit's window, in seconds",
    )
    trusted_proxies: str = Field(
        "",
        description="proxies whose `X-Forwarded-For` is believed by `python -m api.serve` "
        "(comma-separated addresses); by default the header is ignored",
    )
    header_timeout_s: float = Field(15, description="seconds a connection may take to send a request's "
                                    "headers (from its opening or last answer), then a 408, closed "
                                    "(`api/middleware/connections.py`)")  # fmt: skip
    max_connections_per_client: int = Field(256, description="open connections one client (IPv4 address, "
                                            "IPv6 /64) may hold to one API process; beyond, a 503, closed "
                                            "(not a trusted proxy)")  # fmt: skip
    max_body_bytes: int = Field(
        1 << 20,
        description="the largest request body but capture's and sign-in's (16 KiB); "
        "413 beyond, announced or streamed; read only after the credentials are checked (`api/middleware/guard.py`)",
    )
    public_body_timeout_s: float = Field(20, gt=0, description="seconds an anonymous request (sign-in, a scan report, "
                                         "PACT's token and events) may take to send its body, then a 408")  # fmt: skip
    max_capture_bytes: int = Field(32 << 20, description="the largest EPCIS capture document, in bytes (413 beyond)")
    audit_denied_window_s: float = Field(
        60, description="refused anonymous writes of one client are audited as one row per window of this length"
    )
    health_head_age_s: float | None = Field(
        None,
        description=_d(
            "/healthz: 503 when the chain's head block is older than this (seconds)",
            "60, not judged on an anvil that mines only per transaction",
        ),
    )
    health_anchor_lag_s: float = Field(
        120, description="/healthz: 503 when a captured event waited longer for its anchor (where the anchorer runs)"
    )
    health_indexer_lag_s: float = Field(
        60, description="/healthz: 503 when the indexer's oldest unread block waited longer"
    )

    # -- codes and scans --------------------------------------------------------------------------
    max_codes_per_issue: int = Field(100_000, description="the largest code issue accepted in one request")
    max_pending_issues: int = Field(4, description="per merchant, code issues drawn and not yet anchored (429 beyond)")
    max_pending_codes: int = Field(200_000, description="per merchant, codes drawn and not yet anchored (429 beyond)")
    scan_cache_s: float = Field(
        2,
        description="how long a scan's batch facts and deposit are cached; a scan shows "
        "them at most twice this old (an expired value is shown while one refresh runs); 0: never cached",
    )
    tree_cache_leaves: int = Field(
        2_000_000,
        description="leaves of Merkle trees (code issues'; anchored EPCIS roots) "
        "each worker keeps built, per kind, least recently used out first (~64 bytes a leaf, so ~128 MB); a scan of a "
        "code whose issue's tree is not kept waits for it to be rebuilt from the database",
    )

    # -- EPCIS ------------------------------------------------------------------------------------
    epcis_max_events: int = Field(10_000, description="events per capture (413 beyond)")
    anchor_max_events: int = Field(1000, description="EPCIS events per anchored Merkle root")
    anchor_max_age_s: float = Field(
        10,
        validation_alias=_as("anchor_max_age_s", "LEDGER_ANCHOR_MAX_AGE"),
        description="an anchor is due when the oldest pending event has waited this long (seconds)",
    )
    anchor_interval_s: float = Field(
        1,
        validation_alias=_as("anchor_interval_s", "LEDGER_ANCHOR_INTERVAL"),
        description="how often the background anchorer looks (seconds; 0: off); while anchoring fails it waits twice "
        "as long after each try, up to 10 s, and logs the failure's traceback once (the same failure again: nothing)",
    )
    anchor_manual_every_s: float = Field(
        10,
        validation_alias=_as("anchor_manual_every_s", "LEDGER_ANCHOR_MANUAL_EVERY"),
        description="a recorder's `POST /v1/epcis/anchor` anchors at most this often (429 sooner; operators "
        "unlimited; 0: the limit off)",
    )
    anchor_account: str | None = Field(
        None, description=_d("the member whose key signs EPCIS anchors", "the platform operator")
    )
    anchor_one_by_one_max: int = Field(
        1,
        description="at most this many pending events, when due, go one by one into "
        "their batches' on-chain hash chains, signed by their recorders (0: roots only)",
    )
    webhook_interval_s: float = Field(
        0.1,
        validation_alias=_as("webhook_interval_s", "LEDGER_WEBHOOK_INTERVAL"),
        description="how often subscriptions are looked at for new events (seconds; 0: never)",
    )
    webhook_backoff_s: float = Field(
        1,
        description="the first retry of a failed webhook delivery waits this long "
        "(seconds), each next one twice as long",
    )
    webhook_allow_private: bool = Field(
        False, description="webhooks may call private and loopback addresses (development and tests)"
    )
    ws_per_member: int = Field(10, description="WebSocket subscriptions one member may hold open at once, per worker")

    zk_ptau: Path | None = Field(None, description="a public ceremony's prepared phase-1 file (`make zk`)")
    zk_anchor_interval_s: float = Field(5, description="purchases tree: how often the worker looks (seconds; 0: off)")
    zk_anchor_min_leaves: int = Field(100, ge=1, description="...anchors once this many changes wait (joins, refunds)")
    zk_anchor_max_age_s: float = Field(600, description="...or once any wait and this long passed since its last (s)")

    # -- devices (docs/devices.md) ---------------------------------------------------------------
    mosquitto: str | None = Field(None, description="the Mosquitto broker's binary [default: `mosquitto` on PATH]")
    mqtt_dir: Path | None = Field(None, description="where the broker keeps its files [default: `<data dir>/mqtt`]")
    mqtt_psk_port: int = Field(8883, description="the broker's TLS 1.2 PSK listener, for devices")
    mqtt_local_port: int = Field(1884, description="the broker's loopback listener, for the ingester")

    # -- money ------------------------------------------------------------------------------------
    ageing_withdrawal_days: int = Field(
        30,
        description="reconciliation ageing: a withdrawal request past its unlock time, neither taken nor "
        "cancelled, is over its limit after this many days (warning past 80%)",
    )
    ageing_freeze_days: int = Field(
        30,
        description="reconciliation ageing: a complaint case freezing deposit is over its limit after this many days",
    )
    ageing_payout_days: int = Field(90, description="reconciliation ageing: fen owed to an account and not pulled "
                                    "is over its limit after this many days")  # fmt: skip


_BUILT: dict[tuple[tuple[str, str], ...], Settings] = {}


def env() -> Settings:
    """The settings as the environment says now (a process's start-up, or a helper run alone);
    built again only when a `LEDGER_*` variable changed (building one takes about a millisecond)."""
    key = tuple(sorted((k, v) for k, v in os.environ.items() if k.startswith("LEDGER_")))
    if key not in _BUILT:
        if len(_BUILT) > 64:  # tests change the environment often: keep the memo small
            _BUILT.clear()
        _BUILT[key] = Settings()
    return _BUILT[key]
