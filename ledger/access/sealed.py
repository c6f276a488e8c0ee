"""Secrets at rest, sealed: AES-256-GCM under a key derived (scrypt) from the passphrase, which is
`LEDGER_KEY_PASSPHRASE` or, in development, a random one made once in
`<data dir>/keys/passphrase` (0600). A sealed file starts with `TLSEAL1`; a file written in the
clear by an older version is read as it is (and sealed when next written)."""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

from ledger.config import env
from ledger.errors import LedgerError
from ledger.paths import data_dir

MAGIC = b"TLSEAL1"


def passphrase(path: Path | None = None) -> bytes:
    """`LEDGER_KEY_PASSPHRASE`, or (development) a random one made once in `path` (default
    `<data dir>/keys/passphrase`), 0600, apart from what it locks."""
    given = env().key_passphrase
    if given:
        return given.encode()
    path = path or data_dir() / "keys" / "passphrase"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as f:
                f.write(secrets.token_urlsafe(32))
        except FileExistsError:  # another process made it first
            pass
    return path.read_text().strip().encode()


def _key(salt: bytes) -> bytes:
    return Scrypt(salt=salt, length=32, n=2**14, r=8, p=1).derive(passphrase())


def seal(plain: bytes) -> bytes:
    salt, nonce = secrets.token_bytes(16), secrets.token_bytes(12)
    return MAGIC + salt + nonce + AESGCM(_key(salt)).encrypt(nonce, plain, MAGIC)


def unseal(blob: bytes) -> bytes:
    if not blob.startswith(MAGIC):
        return blob
    salt, nonce, body = blob[7:23], blob[23:35], blob[35:]
    try:
        return AESGCM(_key(salt)).decrypt(nonce, body, MAGIC)
    except InvalidTag:
        raise LedgerError("a sealed secret does not open: wrong LEDGER_KEY_PASSPHRASE?") from None


def write_sealed(path: Path, plain: bytes) -> bool:
    """Write `plain` sealed to `path` (0600) unless it exists; whether this call wrote it."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return False
    with os.fdopen(fd, "wb") as f:
        f.write(seal(plain))
    return True


def signer_mnemonic() -> str | None:
    """The custodial keys' mnemonic: `LEDGER_SIGNER_MNEMONIC_FILE` (sealed at rest by `ledger keys
    seal-mnemonic`, opened with `LEDGER_KEY_PASSPHRASE`), or `LEDGER_SIGNER_MNEMONIC` in the clear
    (development). On the consortium, the operator's sealed file that `ledger network init` wrote,
    by default."""
    sealed = sealed_mnemonic(env().signer_mnemonic_file)
    return sealed if sealed is not None else env().signer_mnemonic


def sealed_mnemonic(path: Path | str | None) -> str | None:
    """The mnemonic sealed in `path`, or on the consortium (no path) in the operator's file that
    `ledger network init` wrote; None when there is none."""
    from ledger.paths import consortium, network_dir

    operator_keys = network_dir() / "platform" / "custodial.sealed"
    if not path and consortium() and operator_keys.exists():
        path = operator_keys
    return unseal(Path(path).read_bytes()).decode() if path else None
