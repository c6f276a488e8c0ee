"""Web3 Secret Storage (keystore v3) files as every reader accepts them.

eth-account writes the AES-CTR IV as the integer's big-endian bytes, so a random IV whose first byte
is zero (1 in 256) is stored as 15 bytes. geth then refuses the file ("bad IV length") and ethers in
the console cannot read it ("invalid counter initial Uint8Array value length"). The IV is that
integer, so writing it back as 16 bytes with its leading zeros is the same key, readable everywhere.
"""

from __future__ import annotations

from typing import Any

IV_HEX = 32  # AES-CTR counter: 16 bytes


def padded_iv(keystore: dict[str, Any]) -> dict[str, Any]:
    """The keystore with its IV written as the full 16 bytes (the same counter value)."""
    params = keystore["crypto"]["cipherparams"]
    params["iv"] = params["iv"].rjust(IV_HEX, "0")
    return keystore


def seal(key: bytes, password: str, **kdf: Any) -> dict[str, Any]:
    """`key` encrypted under `password` (eth-account's keystore; `kdf`, `iterations` as it takes them)."""
    from eth_account import Account

    return padded_iv(Account.encrypt(key, password, **kdf))
