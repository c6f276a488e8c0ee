"""API settings, read from the environment once at start-up."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from ledger.chain import rpc_url
from ledger.db import database_url
from ledger.paths import manifest_path


@dataclass(frozen=True)
class Settings:
    rpc_url: str = field(default_factory=rpc_url)
    database_url: str = field(default_factory=database_url)
    manifest_path: Path = field(default_factory=manifest_path)
    rpc_timeout_s: float = field(default_factory=lambda: float(os.environ.get("LEDGER_RPC_TIMEOUT", "5")))
