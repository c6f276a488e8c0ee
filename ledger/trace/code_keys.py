"""The code-signing key: Ed25519, encrypted at rest, rotated and retired, and named on chain by
the SHA-256 of its raw public key (for revocation). The key id in codes (`k`) is the first 16 hex
digits of that hash."""

from __future__ import annotations

import base64
import hashlib
import os
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from ledger.access.sealed import passphrase
from ledger.store.locks import file_lock


def _b64(b: bytes) -> str:
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode()


def _unb64(s: str) -> bytes:
    return base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))


def key_id(public: Ed25519PublicKey) -> str:
    raw = public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()[:16]


def public_key_b64(public: Ed25519PublicKey) -> str:
    return _b64(public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw))


def public_key_from_b64(text: str) -> Ed25519PublicKey:
    return Ed25519PublicKey.from_public_bytes(_unb64(text))


def key_hash(public: Ed25519PublicKey) -> bytes:
    """SHA-256 of the raw public key: how the chain names a key (`Provenance.revokeCodeKey`)."""
    return hashlib.sha256(public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)).digest()


def _passphrase(directory: Path) -> bytes:
    """What the signing key is encrypted with at rest; in development the random passphrase lives
    beside the key directory (`<key dir>/../passphrase`, the data dir's `keys/passphrase` by default)."""
    return passphrase(directory.parent / "passphrase")


class CodeSigner:
    """An Ed25519 signing key kept as encrypted PKCS#8 PEM in `directory` (created on first use);
    `rotate` retires it to `retired/<kid>.pem` and makes a new one current."""

    def __init__(self, directory: Path):
        directory.mkdir(parents=True, exist_ok=True)
        self.directory = directory
        current = directory / "current.pem"
        if not current.exists():
            self._write_new(current)
        pem = current.read_bytes()
        key = _load(pem, _passphrase(directory))
        if b"ENCRYPTED" not in pem:  # written in the clear by an older version: encrypt it now
            self._write(current, key)
        self.loaded_mtime = current.stat().st_mtime_ns
        self._key = key
        self.public = key.public_key()
        self.kid = key_id(self.public)
        #: the key this one replaced, when made by `rotate`
        self.replaced: str | None = None

    def _write_new(self, current: Path) -> None:
        self._write(current, Ed25519PrivateKey.generate())

    def _write(self, current: Path, key: Ed25519PrivateKey) -> None:
        encryption = serialization.BestAvailableEncryption(_passphrase(self.directory))
        pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption)
        tmp = current.with_suffix(".pem.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(pem)
        tmp.replace(current)

    def rotate(self) -> CodeSigner:
        """Retire the current key and make a new one current; the new signer. One rotation at a time
        across processes, each retiring the key current when it runs under its own id: rotations at
        once in two workers retired another's key under this one's id and lost keys made meanwhile."""
        retired = self.directory / "retired"
        retired.mkdir(exist_ok=True)
        current = self.directory / "current.pem"
        with file_lock(self.directory / "rotate.lock"):
            pem = current.read_bytes()
            kid = key_id(_load(pem, _passphrase(self.directory)).public_key())
            (retired / f"{kid}.pem").write_bytes(pem)
            self._write_new(current)
            new = CodeSigner(self.directory)
        new.replaced = kid
        return new

    def stale(self) -> bool:
        """Another process rotated the key since this one was loaded."""
        try:
            return (self.directory / "current.pem").stat().st_mtime_ns != self.loaded_mtime
        except FileNotFoundError:
            return True

    def sign(self, key_path: str) -> str:
        return _b64(self._key.sign(key_path.encode()))


def _load(pem: bytes, passphrase: bytes) -> Ed25519PrivateKey:
    """The key; a key written unencrypted by an older version is still read."""
    try:
        key = serialization.load_pem_private_key(pem, password=passphrase)
    except TypeError:  # not encrypted
        key = serialization.load_pem_private_key(pem, password=None)
    assert isinstance(key, Ed25519PrivateKey)
    return key
