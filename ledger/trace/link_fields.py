"""What a resolver link may hold: its link type (any of the GS1 Web Vocabulary's link types, read
from `gs1_link_types.json`) and the fields of a link as they end up in HTTP headers (`Location`,
`Link`) and in GS1's linkset schema.

A link's `href` is a URI of RFC 3986 characters only (no spaces, controls, quotes, angle brackets,
nor characters outside ASCII: an IRI is percent-encoded by its writer); its `type` a media type of
RFC 6838 ASCII names; its title any text without control, bidi override or zero-width characters
(`ledger.plain_text`). Links stored before these rules that break them are left out when resolving
(`servable`), never sent."""

from __future__ import annotations

import json
import re
from pathlib import Path

from ledger import plain_text
from ledger.errors import InvalidInput

_VOCABULARY = json.loads(Path(__file__).with_name("gs1_link_types.json").read_text(encoding="utf-8"))
GS1_VOC = _VOCABULARY["namespace"]  # https://ref.gs1.org/voc/ (formerly https://gs1.org/voc/)
_OLD_VOC = ("https://gs1.org/voc/", "http://gs1.org/voc/", "https://www.gs1.org/voc/")
#: every link type of the GS1 Web Vocabulary, by its short name
LINK_TYPES: dict[str, str] = _VOCABULARY["linkTypes"]

#: an href: RFC 3986 characters only, an http(s) scheme (checked with urlsplit besides)
HREF = re.compile(r"https?://[A-Za-z0-9\-._~:/?#\[\]@!$&'()*+,;=%]+")
#: a media type as RFC 6838 names them (ASCII), as GS1's linkset schema's `type` pattern reads it
MEDIA_TYPE = re.compile(r"[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,63}/[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,63}")
#: a language as GS1's linkset schema allows it in `hreflang`: two letters, optionally a two-letter region
LANGUAGE = re.compile(r"[A-Za-z]{2}(-[A-Za-z]{2})?")


def known_type(value: str) -> str | None:
    """`gs1:pip`, `pip`, `https://ref.gs1.org/voc/pip` or `https://gs1.org/voc/pip` as its URI;
    None if it is none of the GS1 Web Vocabulary's link types."""
    name = value.removeprefix("gs1:").removeprefix(GS1_VOC)
    for old in _OLD_VOC:
        name = name.removeprefix(old)
    return GS1_VOC + name if name in LINK_TYPES else None


def link_type(value: str) -> str:
    """As `known_type`; InvalidInput if it is no GS1 link type."""
    uri = known_type(value)
    if uri is None:
        raise InvalidInput(f"linkType: {value[:80]!r} is none of the GS1 Web Vocabulary's link types (gs1:pip, ...)")
    return uri


def href_ok(href: object) -> bool:
    return isinstance(href, str) and len(href) <= 2000 and HREF.fullmatch(href) is not None


def media_type_ok(media: object) -> bool:
    return isinstance(media, str) and MEDIA_TYPE.fullmatch(media) is not None


def title_ok(title: object) -> bool:
    return isinstance(title, str) and 1 <= len(title) <= 300 and plain_text.refused(title) is None


def servable(href: str, title: str, media: str | None, languages: tuple[str, ...]) -> bool:
    """Whether a stored link can be sent in headers and linksets as it is."""
    return (href_ok(href) and title_ok(title) and (media is None or media_type_ok(media))
            and all(LANGUAGE.fullmatch(x) for x in languages))  # fmt: skip
