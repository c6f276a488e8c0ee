"""Reading whole EPCIS JSON documents: parsed with Python's cyclic garbage collector paused.

A document of 500 events parses into ~30,000 dicts and lists, every one of them still referenced
when the parse ends. Each 700 new containers start a collection that walks the young ones, and
every tenth of those walks the survivors again, so with the collector running a third of a parse
went on walking objects that could not be garbage (measured on GS1's examples and 20,000
generated events: file read, parse and hash IDs 9,500 events/s with the collector, 11,500 with it
paused). Nothing a parse builds is a cycle, so pausing loses nothing: what the rest of the
process frees meanwhile is freed by reference counting, and cycles wait for the next collection.

The pause is process-wide (the collector has one switch) and counted: nested or concurrent
readers share it, the last one out restores the collector as it found it.
"""

from __future__ import annotations

import contextlib
import gc
import json
import math
import re
import threading
from collections.abc import Iterator
from typing import Any

from .hashid import document_hash_ids

_lock = threading.Lock()
_readers = 0
_was_enabled = False


@contextlib.contextmanager
def collector_paused() -> Iterator[None]:
    """The cyclic collector off while the block runs (and for as long as any other reader's block
    runs); restored as it was when the last one leaves, also when a block raises."""
    global _readers, _was_enabled
    with _lock:
        if _readers == 0:
            _was_enabled = gc.isenabled()
            gc.disable()
        _readers += 1
    try:
        yield
    finally:
        with _lock:
            _readers -= 1
            if _readers == 0 and _was_enabled:
                gc.enable()


def parse(raw: bytes | str) -> Any:
    """`json.loads`, with the collector paused; a ValueError for what is no JSON, for JSON nested
    deeper than the decoder's recursion allows (a RecursionError, else a 500 for 4 KB of `[`), and
    for `NaN`, `Infinity` and numbers beyond a double (`1e999`), which Python's decoder reads but
    JSON has not: stored, they broke every listing that held them (a 500 on writing them out)."""
    with collector_paused():
        try:
            doc = json.loads(raw, parse_float=_finite, parse_constant=_no_number)
        except RecursionError:
            raise ValueError("nested too deep") from None
    data = raw if isinstance(raw, bytes) else raw.encode("utf-8", "surrogatepass")
    # (`in` first: the regex was 2.5 % of a hash ID; one byte first: `in` finds one byte at memchr's speed, two
    # bytes at a third of it, 1 % of a hash ID)
    if ((b"\\" in data and b"\\u" in data) or b"\xed" in data) and _SURROGATE.search(data):
        _no_lone_surrogate(doc)  # (a pair, an emoji escaped, is one character; only a lone one is refused)
    return doc


#: a UTF-16 surrogate escaped in JSON text (`\ud83d\ude00`, or `\ud800` alone): what json.loads keeps
#: of a lone one is no character, and storing it was a 500 (outside probe)
_SURROGATE = re.compile(rb"\\u[dD][89a-fA-F]|\xed[\xa0-\xbf]")  # escaped, or as UTF-8 would encode it


def _no_lone_surrogate(doc: Any) -> None:
    try:
        json.dumps(doc, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError("a lone UTF-16 surrogate (\\ud800 to \\udfff alone) is no character") from None


def _finite(text: str) -> float:
    number = float(text)
    if math.isinf(number):
        raise ValueError(f"{text[:40]} is beyond what a number may be")
    return number


def _no_number(name: str) -> Any:
    raise ValueError(f"{name} is no JSON number")


def hash_ids(raw: bytes | str) -> list[str]:
    """The CBV 2.0 hash IDs of a serialised EPCIS JSON document's events (`hashid.document_hash_ids`),
    read as the capture doors read it (`parse`; hashing with the collector paused gained nothing)."""
    return document_hash_ids(parse(raw))
