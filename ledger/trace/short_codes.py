"""Short codes: the signed code printed with only a tag of its signature, so its QR is version 5
(37 x 37 modules) at level M instead of version 9 (53 x 53).

A short code is `<resolver>/01/<gtin>/10/<lot>/21/<serial>?t=<tag>`, where the tag is the first
TAG_BYTES (80 bits, 14 base64url characters) of the code's Ed25519 signature. The full signed URI
(`?k=<kid>&s=<signature>`) is stored at issue, as for every code, and the Merkle leaf is the same
(keccak256 of the key path): a short code is its long code printed shorter.

The resolver checks a short code by its stored signed URI: the tag must equal the stored
signature's first 80 bits (compared in constant time), then the stored signature is checked under
the key published on chain exactly as a long code's. So a genuine short code proves what a long
one does (signed by the merchant's code key, in the anchored set, key not revoked); what is lost is
checking the label with no one's help: the other 432 bits of the signature come from the resolver
(`GET /v1/proofs/...?t=<tag>`, which gives them only to whoever shows the tag), and anyone can
check them against the chain. A forger who knows an issued serial (e.g. found by hashing guesses
against a leaf of a published Merkle path) still has to guess the 80-bit tag, which depends on the
private key; the only place to test a guess is the rate-limited resolver: at a million guesses a
second for a year, the chance is 2^-35.
"""

from __future__ import annotations

import hmac

from ledger.trace import digital_link
from ledger.trace.code_keys import _b64, _unb64
from ledger.trace.codes import SignatureCheck

TAG_BYTES = 10
TAG_CHARS = 14  # base64url of 10 bytes, unpadded


def tag_of(signature_b64: str) -> str:
    """The tag printed for a signature (base64url)."""
    return _b64(_unb64(signature_b64)[:TAG_BYTES])


def short_uri(signed_uri: str) -> str:
    """The printed short form of a signed code URI."""
    link = digital_link.parse(signed_uri)
    return f"{link.resolver.rstrip('/')}/{link.key_path}?t={tag_of(link.params['s'])}"


def printed(signed_uri: str, short: bool) -> str:
    """What goes on the label: the short form for a short issue, else the signed URI itself."""
    return short_uri(signed_uri) if short else signed_uri


def is_short(link: digital_link.ItemLink) -> bool:
    return "t" in link.params


def expand(link: digital_link.ItemLink, signed_uri: str | None) -> tuple[str | None, SignatureCheck | None]:
    """The stored signed URI a short code stands for, or None with the failed check: no such code
    issued, a tag that is not its signature's, or a short code that also carries `k`/`s`."""
    if "k" in link.params or "s" in link.params:
        return None, SignatureCheck(False, "malformed", {"detail": "t with k or s"}, "a code carries t or k and s")
    fail = SignatureCheck(False, "bad_tag", {}, "the code's tag matches no code issued with this serial")
    if signed_uri is None:
        return None, fail
    stored = digital_link.parse(signed_uri)
    if stored.key_path != link.key_path or "s" not in stored.params:
        return None, fail
    want = tag_of(stored.params["s"]).encode()
    if not hmac.compare_digest(want, link.params["t"].encode()):
        return None, fail
    return signed_uri, None
