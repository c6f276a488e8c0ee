"""Where the project's files and runtime data live. Everything is relative to the project root
(the folder holding `contracts/`), overridable by environment variables."""

from __future__ import annotations

import json
from pathlib import Path

from ledger.config import env

ROOT = Path(__file__).resolve().parent.parent


def data_dir() -> Path:
    """Runtime state (anvil chain state, SQLite database, manifest): `LEDGER_DATA_DIR` or `.data/`."""
    return Path(env().data_dir or ROOT / ".data").resolve()


def consortium() -> bool:
    """`LEDGER_NETWORK=consortium`: the chain is the consortium's validators under `network_dir()`,
    with its own manifest, database and nodes: the defaults `make run` and the CLI both take."""
    return env().network == "consortium"


def network_dir() -> Path:
    """The consortium network's folder: `<data dir>/network`."""
    return data_dir() / "network"


def network_urls() -> list[str]:
    """The JSON-RPC URLs of the consortium's nodes as `network.json` lists them (none before init)."""
    f = network_dir() / "network.json"
    if not f.exists():
        return []
    return [f"http://127.0.0.1:{n['http_port']}" for n in json.loads(f.read_text())["nodes"]]


def manifest_path() -> Path:
    """The deployment manifest: `LEDGER_MANIFEST` or `<data dir>/deployment.json` (the consortium's:
    `<data dir>/network/deployment.json`)."""
    default = (network_dir() if consortium() else data_dir()) / "deployment.json"
    return Path(env().manifest_path or default).resolve()


def api_url() -> str:
    """Where the API (and the resolver in it) answers: `LEDGER_RESOLVER_URL`, or `make run`'s
    http://127.0.0.1:8000."""
    return env().resolver_url.rstrip("/")


def node_modules() -> Path:
    return ROOT / "node_modules"


def anvil_binary() -> Path:
    """anvil as shipped by the npm package `@foundry-rs/anvil` (its postinstall is not run)."""
    return node_modules() / "@foundry-rs" / "anvil-linux-amd64" / "bin" / "anvil"
