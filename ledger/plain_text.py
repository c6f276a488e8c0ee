"""Free text members register and others read (product names, trading parties, API key names, link
titles): nothing in it may hide or reorder what is shown. Refused, naming the character: control
characters (Unicode category Cc: NUL, CR, LF, ...), bidirectional overrides and isolates (U+202A to
U+202E, U+2066 to U+2069: `U+202E` shows `gpj.exe` as `exe.jpg`) and zero-width characters (U+200B
to U+200F, U+FEFF), which make two names that look alike differ, and lone UTF-16 surrogates (JSON's
`\\ud800` alone), which are no character at all (a 500 when stored). That refuses a zero-width joiner
in an emoji sequence and a Persian zero-width non-joiner too: a name is read by people, and one
that looks like another must be the other."""

from __future__ import annotations

import re
import unicodedata

#: Cc (C0, DEL, C1), zero-width, bidi embeddings/overrides, bidi isolates, the BOM
_REFUSED = re.compile("[\x00-\x1f\x7f-\x9f\u200b-\u200f\u202a-\u202e\u2066-\u2069\ufeff\ud800-\udfff]")


def refused(text: str) -> str | None:
    """Why `text` may not be shown as it is: its first refused character, by code point and name;
    None if it holds none."""
    m = _REFUSED.search(text)
    if m is None:
        return None
    ch = m.group()
    if unicodedata.category(ch) == "Cc":
        kind = "a control character"
    elif unicodedata.category(ch) == "Cs":  # JSON's "\\ud800" alone: no character, and no database stores it
        kind = "a lone UTF-16 surrogate"
    elif "\u200b" <= ch <= "\u200f" or ch == "\ufeff":
        kind = "a zero-width character"
    else:
        kind = "a bidirectional override or isolate"
    name = unicodedata.name(ch, "")  # control characters have none
    return f"U+{ord(ch):04X}{' ' + name if name else ''} at position {m.start() + 1} is {kind}, not allowed"
