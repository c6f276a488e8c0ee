"""SM2 (OpenSSL 3 through ctypes), SM3 and SM4-GCM against the GB/T 32918 / GM/T test vectors."""

import json
from pathlib import Path

import pytest

from ledger.devices import gm
from ledger.devices.sm2 import DEFAULT_ID, Sm2Key
from ledger.errors import LedgerError

VECTORS = json.loads((Path(__file__).parents[1] / "fixtures/gm/sm2_vectors.json").read_text())["vectors"]
TEST_CURVE, RECOMMENDED = VECTORS
P256 = int("FFFFFFFEFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF00000000FFFFFFFFFFFFFFFF", 16)
N256 = int("FFFFFFFEFFFFFFFFFFFFFFFFFFFFFFFF7203DF6B21C6052B53BBF40939D54123", 16)


def _mul(k, point, p, a):
    """Affine double-and-add: a slow, independent reference for the checks below only."""
    acc = None
    while k:
        if k & 1:
            acc = _add(acc, point, p, a)
        point, k = _add(point, point, p, a), k >> 1
    return acc


def _add(P, Q, p, a):
    if P is None:
        return Q
    if Q is None:
        return P
    if P[0] == Q[0] and (P[1] + Q[1]) % p == 0:
        return None
    lam = (3 * P[0] * P[0] + a) * pow(2 * P[1], -1, p) if P == Q else (Q[1] - P[1]) * pow(Q[0] - P[0], -1, p)
    x = (lam * lam - P[0] - Q[0]) % p
    return x, (lam * (P[0] - x) - P[1]) % p


def _reference_verify(e, r, s, public, p, a, generator, n):
    """GB/T 32918.2 section 7.1 steps B5-B7 (t = r + s; (x1, y1) = sG + tP; R = e + x1)."""
    G = (int.from_bytes(generator[1:33], "big"), int.from_bytes(generator[33:], "big"))
    P = (int.from_bytes(public[1:33], "big"), int.from_bytes(public[33:], "big"))
    x1 = _add(_mul(s, G, p, a), _mul((r + s) % n, P, p, a), p, a)[0]
    return (e + x1) % n == r


def _hex(v, k):
    return bytes.fromhex(v[k])


def test_annex_a_z_and_e_and_signature_equation():
    v, c = TEST_CURVE, {k: bytes.fromhex(x) for k, x in TEST_CURVE["curve"].items()}
    z = gm.z_value(_hex(v, "public"), v["id"].encode(), c)
    assert z == _hex(v, "z")
    e = gm.sm3(z + v["message"].encode())
    assert e == _hex(v, "e")
    p, a, n = (int.from_bytes(c[k], "big") for k in ("p", "a", "order"))
    r, s = int(v["r"], 16), int(v["s"], 16)
    assert _reference_verify(int.from_bytes(e, "big"), r, s, _hex(v, "public"), p, a, c["generator"], n)
    assert not _reference_verify(int.from_bytes(e, "big") + 1, r, s, _hex(v, "public"), p, a, c["generator"], n)


def test_openssl_verifies_the_recommended_curve_vector_and_refuses_changes():
    v = RECOMMENDED
    key = Sm2Key(_hex(v, "public"))
    sig, msg, uid = _hex(v, "r") + _hex(v, "s"), v["message"].encode(), v["id"].encode()
    assert uid == DEFAULT_ID
    assert key.verify(sig, msg)
    assert not key.verify(sig, msg + b".")
    assert not key.verify(sig, msg, b"ALICE123@YAHOO.COM")  # Z differs
    assert not key.verify(sig[:31] + bytes([sig[31] ^ 1]) + sig[32:], msg)
    assert not key.verify(sig[:63], msg)


def test_openssl_signatures_satisfy_the_standard_with_our_z():
    """OpenSSL signs with a random k; the reference equation, fed our Z and SM3, accepts them: so
    OpenSSL's Z (ID + curve + key) is the standard's, for the default ID and another."""
    v = RECOMMENDED
    key = Sm2Key(_hex(v, "public"), _hex(v, "private"))
    a, generator = int.from_bytes(gm.SM2P256V1["a"], "big"), gm.SM2P256V1["generator"]
    for uid in (DEFAULT_ID, b"reader-0001@traceledger"):
        sig = key.sign(b"message digest", uid)
        assert sig != _hex(v, "r") + _hex(v, "s")
        e = int.from_bytes(gm.sm3(gm.z_value(key.public, uid) + b"message digest"), "big")
        r, s = int.from_bytes(sig[:32], "big"), int.from_bytes(sig[32:], "big")
        assert _reference_verify(e, r, s, key.public, P256, a, generator, N256)
        assert Sm2Key(key.public).verify(sig, b"message digest", uid)


def test_generated_keys_and_bad_keys():
    k = Sm2Key.generate()
    assert len(k.public) == 65 and len(k.private) == 32
    assert Sm2Key(k.public).verify(k.sign(b"batch"), b"batch")
    assert not Sm2Key(Sm2Key.generate().public).verify(k.sign(b"batch"), b"batch")
    with pytest.raises(LedgerError):
        Sm2Key(b"\x04" + b"\x01" * 64)  # not on the curve
    with pytest.raises(LedgerError):
        Sm2Key(k.public[:33])
    with pytest.raises(LedgerError):
        Sm2Key(k.public).sign(b"x")


def test_sm3_and_sm4_gcm():
    # GB/T 32905-2016 Annex A example 1
    assert gm.sm3(b"abc").hex() == "66c7f0f462eeedd9d1f2d46bdc10e4e24167c4875cf2f7a2297da02b8f4ba8e0"
    key = bytes(range(16))
    box = gm.seal(key, b"readings", b"device-1")
    assert gm.unseal(key, box, b"device-1") == b"readings"
    for bad in (lambda: gm.unseal(key, box, b"device-2"), lambda: gm.unseal(bytes(16), box, b"device-1")):
        with pytest.raises(LedgerError):
            bad()
