"""SM2 signatures (GB/T 32918.2) through OpenSSL 3's libcrypto, the one Python already links.

`cryptography` has SM3 and SM4 but no SM2, so this binds a handful of libcrypto's EVP calls with
ctypes: keys come in and out as raw bytes (a 32-byte private scalar, a 65-byte uncompressed public
point), signatures as 64 bytes r||s. The signer's distinguishing ID goes into Z (the hash of the
ID, the curve and the public key) inside OpenSSL; the default ID is GB/T 35276's
`1234567812345678`. Keys are loaded once and kept (`Sm2Key`): loading costs as much as a verify.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import ssl

from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature, encode_dss_signature

from ledger.errors import LedgerError

DEFAULT_ID = b"1234567812345678"
_PUBLIC_KEY, _KEYPAIR = 0x86, 0x87  # EVP_PKEY_PUBLIC_KEY, EVP_PKEY_KEYPAIR (OpenSSL 3 selections)


def _libcrypto() -> ctypes.CDLL:
    import _ssl  # the libcrypto Python's ssl module links, so both agree on the version

    for name in ("libcrypto.so.3", ctypes.util.find_library("crypto")):
        if name:
            try:
                lib = ctypes.CDLL(name)
                lib.OpenSSL_version_num.restype = ctypes.c_ulong
                if lib.OpenSSL_version_num() >> 28 >= 3:
                    return lib
            except OSError:
                continue
    raise LedgerError(f"SM2 needs OpenSSL 3's libcrypto ({ssl.OPENSSL_VERSION}, {_ssl.__file__})")


_lib = _libcrypto()
_P, _I, _S, _Z = ctypes.c_void_p, ctypes.c_int, ctypes.c_size_t, ctypes.c_char_p
for _name, _res, _args in [
    ("EVP_PKEY_CTX_new_from_name", _P, [_P, _Z, _Z]),
    ("EVP_PKEY_CTX_new_from_pkey", _P, [_P, _P, _Z]),
    ("EVP_PKEY_CTX_free", None, [_P]),
    ("EVP_PKEY_keygen_init", _I, [_P]),
    ("EVP_PKEY_generate", _I, [_P, ctypes.POINTER(_P)]),
    ("EVP_PKEY_fromdata_init", _I, [_P]),
    ("EVP_PKEY_fromdata", _I, [_P, ctypes.POINTER(_P), _I, _P]),
    ("EVP_PKEY_free", None, [_P]),
    ("EVP_PKEY_get_octet_string_param", _I, [_P, _Z, _Z, _S, ctypes.POINTER(_S)]),
    ("EVP_PKEY_get_bn_param", _I, [_P, _Z, ctypes.POINTER(_P)]),
    ("EVP_PKEY_CTX_set1_id", _I, [_P, _Z, _I]),
    ("EVP_MD_CTX_new", _P, []),
    ("EVP_MD_CTX_free", None, [_P]),
    ("EVP_MD_CTX_set_pkey_ctx", None, [_P, _P]),
    ("EVP_MD_fetch", _P, [_P, _Z, _Z]),
    ("EVP_DigestSignInit", _I, [_P, _P, _P, _P, _P]),
    ("EVP_DigestSign", _I, [_P, _Z, ctypes.POINTER(_S), _Z, _S]),
    ("EVP_DigestVerifyInit", _I, [_P, _P, _P, _P, _P]),
    ("EVP_DigestVerify", _I, [_P, _Z, _S, _Z, _S]),
    ("OSSL_PARAM_BLD_new", _P, []),
    ("OSSL_PARAM_BLD_free", None, [_P]),
    ("OSSL_PARAM_BLD_push_utf8_string", _I, [_P, _Z, _Z, _S]),
    ("OSSL_PARAM_BLD_push_octet_string", _I, [_P, _Z, _Z, _S]),
    ("OSSL_PARAM_BLD_push_BN", _I, [_P, _Z, _P]),
    ("OSSL_PARAM_BLD_to_param", _P, [_P]),
    ("OSSL_PARAM_free", None, [_P]),
    ("BN_bin2bn", _P, [_Z, _I, _P]),
    ("BN_bn2binpad", _I, [_P, _Z, _I]),
    ("BN_free", None, [_P]),
    ("BN_clear_free", None, [_P]),
    ("ERR_clear_error", None, []),
]:
    _fn = getattr(_lib, _name)
    _fn.restype, _fn.argtypes = _res, _args
# fetched once: `EVP_sm3()` would have every DigestSignInit/VerifyInit fetch it from the provider
_SM3 = _lib.EVP_MD_fetch(None, b"SM3", None)


def _check(ok: int, what: str) -> None:
    if ok != 1:
        _lib.ERR_clear_error()
        raise LedgerError(f"SM2: {what} failed")


def _fromdata(params: list[tuple[str, object]], selection: int) -> int:
    bld = _lib.OSSL_PARAM_BLD_new()
    bns: list[int] = []
    keep: list[bytes] = []  # the builder keeps pointers until to_param: hold the bytes till then
    try:
        for key, value in params:
            keep.append(name := key.encode())
            if isinstance(value, str):
                keep.append(text := value.encode())
                _check(_lib.OSSL_PARAM_BLD_push_utf8_string(bld, name, text, 0), key)
            elif key == "priv":
                bn = _lib.BN_bin2bn(value, len(value), None)
                bns.append(bn)
                _check(_lib.OSSL_PARAM_BLD_push_BN(bld, name, bn), key)
            else:
                _check(_lib.OSSL_PARAM_BLD_push_octet_string(bld, name, value, len(value)), key)
        osp = _lib.OSSL_PARAM_BLD_to_param(bld)
        ctx = _lib.EVP_PKEY_CTX_new_from_name(None, b"SM2", None)
        pkey = _P()
        try:
            _check(_lib.EVP_PKEY_fromdata_init(ctx), "fromdata_init")
            _check(_lib.EVP_PKEY_fromdata(ctx, ctypes.byref(pkey), selection, osp), "key import")
        finally:
            _lib.EVP_PKEY_CTX_free(ctx)
            _lib.OSSL_PARAM_free(osp)
        return pkey.value
    finally:
        for bn in bns:
            _lib.BN_clear_free(bn)
        _lib.OSSL_PARAM_BLD_free(bld)


class Sm2Key:
    """An SM2 key on the recommended curve held by libcrypto: public (verify) or a pair (sign too).

    OpenSSL's SM2 takes the recommended curve only (its key manager refuses any other group), so
    the test curve of GB/T 32918.2 Annex A cannot be loaded; its Z and e are checked in the open."""

    def __init__(self, public: bytes, private: bytes | None = None):
        if len(public) != 65 or public[0] != 4:
            raise LedgerError("an SM2 public key is 65 bytes: 04 || x || y")
        if private is not None and len(private) != 32:
            raise LedgerError("an SM2 private key is 32 bytes")
        params: list[tuple[str, object]] = [("group", "SM2"), ("pub", public)]
        if private is not None:
            params.append(("priv", private))
        self.public, self._private = public, private
        self._pkey = _fromdata(params, _KEYPAIR if private else _PUBLIC_KEY)

    @classmethod
    def generate(cls) -> Sm2Key:
        ctx = _lib.EVP_PKEY_CTX_new_from_name(None, b"SM2", None)
        pkey = _P()
        try:
            _check(_lib.EVP_PKEY_keygen_init(ctx), "keygen_init")
            _check(_lib.EVP_PKEY_generate(ctx, ctypes.byref(pkey)), "keygen")
            pub, n = ctypes.create_string_buffer(65), _S()
            _check(_lib.EVP_PKEY_get_octet_string_param(pkey, b"pub", pub, 65, ctypes.byref(n)), "pub")
            bn = _P()
            _check(_lib.EVP_PKEY_get_bn_param(pkey, b"priv", ctypes.byref(bn)), "priv")
            priv = ctypes.create_string_buffer(32)
            _lib.BN_bn2binpad(bn, priv, 32)
            _lib.BN_clear_free(bn)
            return cls(pub.raw, priv.raw)
        finally:
            _lib.EVP_PKEY_free(pkey)
            _lib.EVP_PKEY_CTX_free(ctx)

    @property
    def private(self) -> bytes:
        if self._private is None:
            raise LedgerError("a public SM2 key cannot sign")
        return self._private

    def _digest_ctx(self, uid: bytes, init) -> tuple[int, int]:
        mctx = _lib.EVP_MD_CTX_new()
        pctx = _lib.EVP_PKEY_CTX_new_from_pkey(None, self._pkey, None)
        if _lib.EVP_PKEY_CTX_set1_id(pctx, uid, len(uid)) != 1:
            _lib.EVP_PKEY_CTX_free(pctx)
            _lib.EVP_MD_CTX_free(mctx)
            _check(0, "set ID")
        _lib.EVP_MD_CTX_set_pkey_ctx(mctx, pctx)
        if init(mctx, None, _SM3, None, self._pkey) != 1:
            self._free(mctx, pctx)
            _check(0, "digest init")
        return mctx, pctx

    @staticmethod
    def _free(mctx: int, pctx: int) -> None:
        _lib.EVP_MD_CTX_free(mctx)  # does not free a pkey ctx set with set_pkey_ctx
        _lib.EVP_PKEY_CTX_free(pctx)

    def sign(self, message: bytes, uid: bytes = DEFAULT_ID) -> bytes:
        """r||s (64 bytes) over SM3(Z || message), Z from `uid` and this key."""
        self.private  # noqa: B018 (raises for a public key)
        mctx, pctx = self._digest_ctx(uid, _lib.EVP_DigestSignInit)
        try:
            der, n = ctypes.create_string_buffer(80), _S(80)
            _check(_lib.EVP_DigestSign(mctx, der, ctypes.byref(n), message, len(message)), "sign")
            r, s = decode_dss_signature(der.raw[: n.value])
            return r.to_bytes(32, "big") + s.to_bytes(32, "big")
        finally:
            self._free(mctx, pctx)

    def verify(self, signature: bytes, message: bytes, uid: bytes = DEFAULT_ID) -> bool:
        if len(signature) != 64:
            return False
        der = encode_dss_signature(int.from_bytes(signature[:32], "big"), int.from_bytes(signature[32:], "big"))
        mctx, pctx = self._digest_ctx(uid, _lib.EVP_DigestVerifyInit)
        try:
            ok = _lib.EVP_DigestVerify(mctx, der, len(der), message, len(message)) == 1
            if not ok:
                _lib.ERR_clear_error()
            return ok
        finally:
            self._free(mctx, pctx)

    def __del__(self):
        if getattr(self, "_pkey", None):
            _lib.EVP_PKEY_free(self._pkey)
            self._pkey = None
