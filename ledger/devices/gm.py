"""SM3 hashes and SM4-GCM sealing (from `cryptography`), and the SM2 Z value of GB/T 32918.2.

Z = SM3(ENTL || ID || a || b || xG || yG || xA || yA) binds a signature to the signer's
distinguishing ID and public key; OpenSSL computes it inside `sm2.Sm2Key`, and `z_value` here
computes it in the open so the test vectors of the standard can be checked step by step."""

from __future__ import annotations

import secrets

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from ledger.errors import LedgerError

#: the recommended curve of GB/T 32918.5 (a, b, xG, yG), for Z
SM2P256V1 = {
    "a": bytes.fromhex("FFFFFFFEFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF00000000FFFFFFFFFFFFFFFC"),
    "b": bytes.fromhex("28E9FA9E9D9F5E344D5A9E4BCF6509A7F39789F515AB8F92DDBCBD414D940E93"),
    "generator": bytes.fromhex(
        "0432C4AE2C1F1981195F9904466A39C9948FE30BBFF2660BE1715A4589334C74C7"
        "BC3736A2F4F6779C59BDCEE36B692153D0A9877CC62A474002DF32E52139F0A0"
    ),
}


def sm3(data: bytes) -> bytes:
    h = hashes.Hash(hashes.SM3())
    h.update(data)
    return h.finalize()


def z_value(public: bytes, uid: bytes, curve: dict[str, bytes] = SM2P256V1) -> bytes:
    """Z_A of GB/T 32918.2 section 5.5 for a 65-byte public point and an ID."""
    if len(uid) >= 8192:
        raise LedgerError("an SM2 ID is shorter than 8192 bytes")
    entl = (len(uid) * 8).to_bytes(2, "big")
    return sm3(entl + uid + curve["a"] + curve["b"] + curve["generator"][1:] + public[1:])


def seal(key: bytes, plain: bytes, aad: bytes = b"") -> bytes:
    """SM4-GCM: 12-byte nonce || ciphertext || 16-byte tag."""
    nonce = secrets.token_bytes(12)
    enc = Cipher(algorithms.SM4(key), modes.GCM(nonce)).encryptor()
    enc.authenticate_additional_data(aad)
    return nonce + enc.update(plain) + enc.finalize() + enc.tag


def unseal(key: bytes, blob: bytes, aad: bytes = b"") -> bytes:
    if len(blob) < 28:
        raise LedgerError("an SM4-GCM box is at least 28 bytes")
    nonce, body, tag = blob[:12], blob[12:-16], blob[-16:]
    dec = Cipher(algorithms.SM4(key), modes.GCM(nonce, tag)).decryptor()
    dec.authenticate_additional_data(aad)
    try:
        return dec.update(body) + dec.finalize()
    except InvalidTag:
        raise LedgerError("an SM4-GCM box does not open (wrong key or altered)") from None
