"""The API's settings: `ledger.config.Settings` (every `LEDGER_*` variable, declared once) with the
values the API needs resolved at start-up (the chain node, the database, the manifest, the code
key folder, the custodial mnemonic). One instance per process, built by `create_app` (or handed to
it) and handed down on the context (`services.settings`); nothing in `api` reads the environment.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, model_validator

from ledger.chain.client import rpc_url
from ledger.config import Settings as LedgerSettings
from ledger.paths import data_dir, manifest_path
from ledger.store.db import database_url


class Settings(LedgerSettings):
    rpc_url: str = Field(default_factory=rpc_url)  # type: ignore[assignment]
    database_url: str = Field(default_factory=database_url)  # type: ignore[assignment]
    manifest_path: Path = Field(default_factory=manifest_path, validation_alias=LedgerSettings.model_fields[
        "manifest_path"].validation_alias)  # type: ignore[assignment]  # fmt: skip
    code_key_dir: Path = Field(default_factory=lambda: data_dir() / "keys" / "codes")  # type: ignore[assignment]

    @model_validator(mode="after")
    def _sealed_mnemonic(self) -> Settings:
        """`LEDGER_SIGNER_MNEMONIC_FILE` wins over `LEDGER_SIGNER_MNEMONIC` in the clear; on the
        consortium, the operator's sealed file (`ledger.access.sealed.signer_mnemonic`, which
        `ledger worker` reads alike)."""
        from ledger.access.sealed import sealed_mnemonic

        sealed = sealed_mnemonic(self.signer_mnemonic_file)
        if sealed is not None:  # else the one given (in the clear, or to the constructor) stands
            object.__setattr__(self, "signer_mnemonic", sealed)
        return self
