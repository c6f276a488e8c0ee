"""Ethereum addresses checked and written in their EIP-55 checksummed form, with the answers kept.

A batch of 500 orders names five addresses an order, the same few hundred times over; eth_utils'
`to_checksum_address` hashes each one again (about 40 µs with its conversions), and that was most
of an escrow request's time on the event loop (py-spy, `make bench` part `settle`). The same
address is checked once here and remembered (bounded: 65,536 entries, about 10 MiB at most).
"""

from __future__ import annotations

import functools
import re

from eth_utils import keccak

_HEX40 = re.compile(r"0[xX][0-9a-fA-F]{40}")


@functools.lru_cache(maxsize=1 << 16)
def checksum(address: str) -> str:
    """`address` (0x and 40 hex digits, any case) in its EIP-55 form; ValueError otherwise. The
    case given is not checked: `is_address` does that."""
    if not _HEX40.fullmatch(address):
        raise ValueError(f"not an Ethereum address: {address[:50]!r}")
    body = address[2:].lower()
    digest = keccak(body.encode()).hex()
    return "0x" + "".join(c.upper() if d in "89abcdef" else c for c, d in zip(body, digest, strict=False))


def is_address(address: object) -> bool:
    """Whether `address` is 0x and 40 hex digits, in one case or with a valid EIP-55 checksum (a
    mistyped mixed-case address is refused, as eth_utils' `is_address` does)."""
    if not isinstance(address, str) or not _HEX40.fullmatch(address):
        return False
    body = address[2:]
    return body.islower() or body.isupper() or body.isdigit() or checksum(address) == address
