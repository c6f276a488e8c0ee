"""Compressed GS1 Digital Link URIs (GS1 Digital Link: Compression, 2019): a URI-safe base64 path
segment holding a bit string of GS1 Application Identifiers and their values, and optionally
other key=value pairs (our code signature's `k` and `s`).

The bit string is a sequence of: an AI as hex digits (2, 3 or 4 of them, `tableP` by the first
two), or a two-character optimisation code standing for several AIs (`tableOpt`), each followed
by its value as `tableF` describes it (fixed-length numeric parts as binary numbers, others with
a length and one of five character encodings); or `F` and a non-GS1 key with its value. The
tables come from GS1's toolkit (`tools/extract_dl_compression_tables.js`)."""

from __future__ import annotations

import json
import math
import re
from functools import cache
from pathlib import Path

BASE64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
HEX = "0123456789ABCDEF"
SEGMENT = re.compile(r"[A-Za-z0-9_-]{6,400}")


class CompressionError(ValueError):
    """Not a compressed GS1 Digital Link; the message says where it stops making sense."""


@cache
def tables() -> dict:
    return json.loads(Path(__file__).with_name("dl_compression.json").read_text(encoding="utf-8"))


def length_bits(max_length: int) -> int:
    return math.ceil(math.log2(max_length) + 0.01)


def value_bits(digits: int) -> int:
    return math.ceil(digits * math.log2(10) + 0.01)


class _Bits:
    def __init__(self, segment: str):
        self.bits = "".join(format(BASE64.index(c), "06b") for c in segment)
        self.at = 0

    def take(self, n: int) -> str:
        if n < 0 or self.at + n > len(self.bits):
            raise CompressionError(f"the bit string ends early (needs {n} bits at {self.at})")
        out = self.bits[self.at : self.at + n]
        self.at += n
        return out

    def number(self, n: int) -> int:
        return int(self.take(n), 2) if n else 0

    def left(self) -> int:
        return len(self.bits) - self.at


def _chars(bits: _Bits, encoding: int, count: int) -> str:
    if encoding == 0:  # digits
        return str(bits.number(value_bits(count))) if count else ""
    if encoding in (1, 2):  # hexadecimal, lower / upper case
        s = "".join(HEX[bits.number(4)] for _ in range(count))
        return s.lower() if encoding == 1 else s
    if encoding == 3:  # URI-safe base64 alphabet
        return "".join(BASE64[bits.number(6)] for _ in range(count))
    if encoding == 4:  # 7-bit ASCII
        return "".join(chr(bits.number(7)) for _ in range(count))
    raise CompressionError(f"unknown character encoding {encoding}")


def _value(bits: _Bits, ai: str) -> str:
    parts = tables()["tableF"].get(ai)
    if parts is None:
        raise CompressionError(f"AI {ai} has no known format")
    out = ""
    for part in parts:
        numeric = part["E"] == "N"
        if "L" in part and numeric:
            n = int(part["L"])
            out += str(bits.number(value_bits(n))).zfill(n)
        elif "M" in part and numeric:
            n = bits.number(length_bits(int(part["M"])))
            out += str(bits.number(value_bits(n))) if n else ""
        elif "L" in part:
            encoding = bits.number(3)
            out += _chars(bits, encoding, int(part["L"]))
        else:
            encoding = bits.number(3)
            out += _chars(bits, encoding, bits.number(length_bits(int(part["M"]))))
    return out


def decompress(segment: str) -> tuple[dict[str, str], dict[str, str]]:
    """({AI: value}, {other key: value}) from a compressed path segment; CompressionError if it is not one."""
    if not SEGMENT.fullmatch(segment):
        raise CompressionError("not a URI-safe base64 segment")
    t = tables()
    bits = _Bits(segment)
    ais: dict[str, str] = {}
    other: dict[str, str] = {}
    while bits.left() > 8:
        h1, h2 = HEX[bits.number(4)], HEX[bits.number(4)]
        if h1.isdigit() and h2.isdigit():
            size = t["tableP"].get(h1 + h2)
            if size is None:
                raise CompressionError(f"no AI starts with {h1}{h2}")
            ai = h1 + h2 + "".join(HEX[bits.number(4)] for _ in range(int(size) - 2))
            if not ai.isdigit():
                raise CompressionError(f"AI {ai} is not all digits")
            ais[ai] = _value(bits, ai)
        elif h1 + h2 in t["tableOpt"]:
            for ai in t["tableOpt"][h1 + h2]:
                ais[ai] = _value(bits, ai)
        elif h1 == "F":
            bits.at -= 4  # the key's length is 7 bits from h2 on
            key = "".join(BASE64[bits.number(6)] for _ in range(bits.number(7)))
            encoding = bits.number(3)
            other[key] = _chars(bits, encoding, bits.number(7))
        else:
            raise CompressionError(f"no optimisation {h1}{h2}")
    return ais, other
