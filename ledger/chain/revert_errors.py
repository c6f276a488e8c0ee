"""Revert data decoded into the contract's custom error by name: `Name(arg, ...)`."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any

from eth_abi import decode as abi_decode
from eth_utils import keccak, to_checksum_address


@dataclass(frozen=True)
class _ErrorSig:
    name: str
    types: list[str]


@functools.lru_cache(maxsize=4096)
def _selector(signature: str) -> bytes:
    """An error's 4-byte selector: a decoder is built for every sender (an anchoring round makes
    three), and hashing every error of every contract again cost ~2.6 ms each time."""
    return keccak(text=signature)[:4]


class ErrorDecoder:
    """Decodes revert data into `Name(arg, ...)` using the custom errors of the given ABIs."""

    def __init__(self, abis: list[list[dict[str, Any]]]):
        self._by_selector: dict[bytes, _ErrorSig] = {}
        for abi in abis:
            for item in abi:
                if item.get("type") == "error":
                    types = [abi_type(i) for i in item["inputs"]]
                    sel = _selector(f"{item['name']}({','.join(types)})")
                    self._by_selector[sel] = _ErrorSig(item["name"], types)

    def decode(self, data: str | bytes) -> tuple[str, tuple[Any, ...]] | None:
        raw = bytes.fromhex(data[2:] if data.startswith("0x") else data) if isinstance(data, str) else data
        sig = self._by_selector.get(raw[:4])
        if sig is None:
            return None
        values = abi_decode(sig.types, raw[4:])
        return sig.name, tuple(
            to_checksum_address(v) if t == "address" else v for t, v in zip(sig.types, values, strict=True)
        )


def error_text(name: str, args: tuple[Any, ...]) -> str:
    """`Name(arg, ...)` as a person reads it: bytes as 0x-hex (a device key's `KeyInUse(b'V\\xa5...')`
    showed Python's repr of bytes, outside probe)."""
    return f"{name}({', '.join('0x' + a.hex() if isinstance(a, bytes) else str(a) for a in args)})"


def abi_type(param: dict[str, Any]) -> str:
    """The canonical type string of an ABI parameter (tuples spelled out)."""
    t = param["type"]
    if t.startswith("tuple"):
        return "(" + ",".join(abi_type(c) for c in param["components"]) + ")" + t[5:]
    return t
