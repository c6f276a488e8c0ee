"""Where the project's files and runtime data live. Everything is relative to the project root
(the folder holding `contracts/`), overridable by environment variables."""

from __future__ import annotations

import os
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def data_dir() -> Path:
    """Runtime state (anvil chain state, SQLite database, manifest): `LEDGER_DATA_DIR` or `.data/`."""
    return Path(os.environ.get("LEDGER_DATA_DIR", ROOT / ".data")).resolve()


def manifest_path() -> Path:
    """The deployment manifest: `LEDGER_MANIFEST` or `<data dir>/deployment.json`."""
    return Path(os.environ.get("LEDGER_MANIFEST", data_dir() / "deployment.json")).resolve()


def node_modules() -> Path:
    return ROOT / "node_modules"


def anvil_binary() -> Path:
    """anvil as shipped by the npm package `@foundry-rs/anvil` (its postinstall is not run)."""
    return node_modules() / "@foundry-rs" / "anvil-linux-amd64" / "bin" / "anvil"
