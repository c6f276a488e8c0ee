"""The links behind a GS1 Digital Link URI (GS1-Conformant Resolver standard 1.2): what merchants
registered for a product, a batch or one item, the verification page this service adds for each
item, and the choice among them.

Links of the most specific level win: an item's over its batch's over its product's; an unknown
lot or serial under a known GTIN falls back to the product's links. A recalled batch's recall
link (`gs1:recallStatus`) becomes the default. Among links of one type the request's `context`,
languages (Accept-Language) and media types (Accept) choose; what stays equal is offered as a
300 Multiple Choices, except for the default link, of which exactly one is chosen."""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, replace
from datetime import datetime
from urllib.parse import parse_qsl, quote, urlencode, urlsplit

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from ledger import plain_text
from ledger.errors import Forbidden, InvalidInput, NotFound
from ledger.store.models import Product, ResolverLink

from . import link_fields as lf
from .link_fields import GS1_VOC, LINK_TYPES, known_type, link_type

log = logging.getLogger(__name__)

DEFAULT = GS1_VOC + "defaultLink"
VERIFY = GS1_VOC + "verificationService"
RECALL = GS1_VOC + "recallStatus"
__all__ = ["GS1_VOC", "LINK_TYPES", "link_type", "known_type"]


def compact(uri: str) -> str:
    return "gs1:" + uri.removeprefix(GS1_VOC) if uri.startswith(GS1_VOC) else uri


@dataclass(frozen=True)
class Link:
    link_type: str
    href: str
    title: str
    media_type: str | None = None
    hreflang: tuple[str, ...] = ()
    context: str | None = None
    is_default: bool = False
    level: int = 0  # 0 product, 1 batch, 2 item

    def out(self) -> dict:
        """As a target object of an RFC 9264 linkset."""
        body: dict = {"href": self.href, "title": self.title}
        if self.media_type:
            body["type"] = self.media_type
        if self.hreflang:
            body["hreflang"] = list(self.hreflang)
        if self.context:
            body["context"] = [self.context]  # an array, as GS1's linkset schema has it
        return body


def register(db: Session, merchant: str, gtin: str, body: dict, now: datetime) -> ResolverLink:
    """A merchant's link for its own product (or one lot or serial of it)."""
    product = db.get(Product, gtin)
    if product is None:
        raise NotFound(f"product {gtin}")
    if product.merchant != merchant:
        raise Forbidden(f"product {gtin} belongs to {product.merchant}; only its merchant registers its links")
    kind = link_type(str(body.get("linkType", "")))
    if kind in (DEFAULT, GS1_VOC + "defaultLinkMulti"):  # GS1: a default SHALL also have a descriptive link type
        raise InvalidInput(
            f"linkType: {compact(kind)} is not registered on its own: register the link under the type that "
            'describes it (gs1:pip, gs1:homepage...) with "default": true'
        )
    href = body.get("href")
    if not lf.href_ok(href) or not urlsplit(href).netloc:
        raise InvalidInput(
            "href: an absolute http or https URL of at most 2000 characters, RFC 3986 characters only "
            "(percent-encode others; no spaces or control characters)"
        )
    title = body.get("title")
    if not lf.title_ok(title):
        why = plain_text.refused(title) if isinstance(title, str) else None
        raise InvalidInput(
            f"title: {why}" if why else "title: 1 to 300 characters (GS1 requires a title for every link)"
        )
    langs = body.get("hreflang") or []
    if isinstance(langs, str):
        langs = [langs]
    if not isinstance(langs, list) or not all(isinstance(x, str) and lf.LANGUAGE.fullmatch(x) for x in langs):
        raise InvalidInput("hreflang: two-letter languages, optionally with a two-letter region (en, zh, zh-CN)")
    media = body.get("type")
    if media is not None and not lf.media_type_ok(media):
        raise InvalidInput("type: a media type such as text/html (ASCII, as RFC 6838 names them)")
    context = body.get("context")
    if isinstance(context, list) and len(context) == 1:  # as a linkset writes it
        context = context[0]
    if context is not None and not (isinstance(context, str) and re.fullmatch(r"[\w.-]{1,100}", context)):
        raise InvalidInput("context: up to 100 letters, digits, '.', '_' or '-'")
    lot, serial = body.get("lot"), body.get("serial")
    for name, v in (("lot", lot), ("serial", serial)):
        if v is not None and not (isinstance(v, str) and 1 <= len(v) <= 20):
            raise InvalidInput(f"{name}: 1 to 20 characters")
    if serial is not None and lot is None:
        raise InvalidInput("serial: give its lot too (our codes name GTIN, lot and serial)")
    row = ResolverLink(
        gtin=gtin, lot=lot, serial=serial, link_type=kind, href=href, title=title,
        media_type=media, hreflang=",".join(x.lower() for x in langs) or None, context=context,
        is_default=bool(body.get("default", False)), merchant=merchant, created_at=now,
    )  # fmt: skip
    db.add(row)
    db.commit()
    return row


def row_out(r: ResolverLink) -> dict:
    body = Link(r.link_type, r.href, r.title, r.media_type, tuple(filter(None, (r.hreflang or "").split(","))),
                r.context).out()  # fmt: skip
    return {"id": r.id, "gtin": r.gtin, "lot": r.lot, "serial": r.serial, "linkType": compact(r.link_type),
            "default": r.is_default} | body  # fmt: skip


def links_for(db: Session, gtin: str, lot: str | None, serial: str | None) -> list[Link]:
    """Registered links of the product, the lot and the item (most specific level first)."""
    stmt = select(ResolverLink).where(
        ResolverLink.gtin == gtin,
        or_(ResolverLink.lot.is_(None), ResolverLink.lot == lot),
        or_(ResolverLink.serial.is_(None), ResolverLink.serial == serial),
    )
    out = []
    for r in db.scalars(stmt.order_by(ResolverLink.id)):
        level = 2 if r.serial else 1 if r.lot else 0
        langs = tuple(filter(None, (r.hreflang or "").split(",")))
        if not lf.servable(r.href, r.title, r.media_type, langs):  # stored before today's rules
            log.warning("resolver link %s left out: it cannot be sent as it is", r.id)
            continue
        out.append(Link(r.link_type, r.href, r.title, r.media_type, langs, r.context, r.is_default, level))
    return sorted(out, key=lambda x: -x.level)


def _languages(accept_language: str | None) -> list[str]:
    """Language ranges by preference (q values honoured; q=0 dropped)."""
    ranked = []
    for i, part in enumerate((accept_language or "").split(",")):
        tag, _, params = part.strip().partition(";")
        q = 1.0
        if m := re.search(r"q=([0-9.]+)", params):
            try:
                q = float(m.group(1))
            except ValueError:
                q = 0.0
        if tag and q > 0:
            ranked.append((-q, i, tag.lower()))
    return [t for *_, t in sorted(ranked)]


def _media(accept: str | None) -> list[str]:
    return [a.split(";")[0].strip().lower() for a in (accept or "").split(",") if a.strip()]


def choose(links: list[Link], accept: str | None, accept_language: str | None, context: str | None) -> list[Link]:
    """The best of `links` (one type) for the request: the most specific level, then the context,
    then the first preferred language any link has, then a media type the client accepts."""
    if not links:
        return []
    top = max(x.level for x in links)
    pool = [x for x in links if x.level == top]
    if context:
        pool = [x for x in pool if x.context == context] or [x for x in pool if x.context is None] or pool
    for lang in _languages(accept_language):
        hits = [x for x in pool if any(h == lang or h.split("-")[0] == lang.split("-")[0] for h in x.hreflang)]
        if hits:
            pool = hits
            break
    wanted = [t for t in _media(accept) if t not in ("*/*", "text/*", "application/*")]
    typed = [x for x in pool if x.media_type and x.media_type.lower() in wanted]
    return typed or pool


def default_link(links: list[Link], accept, accept_language, context, recalled: bool) -> Link | None:
    """Exactly one default link: the recall notice of a recalled batch, else the registered
    default, else a product information page, else None."""
    for kind in ([RECALL] if recalled else []) + [DEFAULT]:
        chosen = choose([x for x in links if x.link_type == kind], accept, accept_language, context)
        if chosen:
            return next((x for x in chosen if x.is_default), chosen[0])
    flagged = choose([x for x in links if x.is_default], accept, accept_language, context)
    if flagged:
        return flagged[0]
    pip = choose([x for x in links if x.link_type == GS1_VOC + "pip"], accept, accept_language, context)
    return pip[0] if pip else None


def as_default(x: Link) -> Link:
    """`x` as the gs1:defaultLink: its href and title only (GS1-Conformant Resolver: "The default
    link SHALL NOT have any optional attributes"; it SHALL include a title)."""
    return replace(x, link_type=DEFAULT, media_type=None, hreflang=(), context=None)


def linkset(anchors: list[str], links: list[Link], default: Link | None, descriptions: list[str]) -> dict:
    """An RFC 9264 JSON linkset (GS1 Digital Link 1.2 section 6): one entry per level the request
    names (`anchors`: product, batch, item URIs, uncompressed), each with that level's links and
    its `itemDescription` (GS1's linkset schema requires one in every entry); the request's own
    entry carries the default link and comes first (GS1's resolver conformance suite reads the
    default link of `linkset[0]`), then the broader levels."""
    entries: list[dict] = []
    for level, anchor in enumerate(anchors):
        body: dict = {"anchor": anchor, "itemDescription": descriptions[min(level, len(descriptions) - 1)]}
        for x in links:
            if x.level != level or x.link_type == DEFAULT:
                continue
            targets = body.setdefault(x.link_type, [])
            if x.out() not in targets:
                targets.append(x.out())
        if level == len(anchors) - 1 and default is not None:
            body[DEFAULT] = [as_default(default).out()]
        if len(body) > 2 or level == len(anchors) - 1:
            entries.append(body)
    return {"linkset": entries[-1:] + entries[:-1]}


def descriptions(name: str, lot: str | None, serial: str | None) -> list[str]:
    """Each level's `itemDescription`: the product's name, then with its lot, then with its serial."""
    return [name, f"{name}, lot {lot}", f"{name}, lot {lot}, serial {serial}"][: 1 + bool(lot) + bool(serial)]


def forwarded(href: str, pairs: list[tuple[str, str]]) -> str:
    """`href` with the request's key=value pairs passed on (GS1: by default, all of them), each once:
    a pair the target already holds (an item's verification link holds its k and s) is not added again."""
    parts = urlsplit(href)
    held = set(parse_qsl(parts.query, keep_blank_values=True))
    more = urlencode([p for p in pairs if p not in held])
    if not more:
        return href
    head, hash_, fragment = href.partition("#")  # into the query, before a fragment (never sent to the server)
    joint = "" if head.endswith(("?", "&")) else "&" if "?" in head else "?"
    return head + joint + more + hash_ + fragment


def link_header(links: list[Link]) -> str:
    """The links as an HTTP Link header (RFC 8288), each with its link type, title, type, languages."""
    parts = []
    for x in links:
        attrs = [f'rel="{x.link_type}"', *_title(x)]
        if x.media_type:
            attrs.append(f'type="{x.media_type}"')
        attrs += [f'hreflang="{h}"' for h in x.hreflang]
        parts.append(f"<{x.href}>; " + "; ".join(attrs))
    return ", ".join(parts)


def _title(x: Link) -> list[str]:
    """`title="..."` (ASCII, as every client reads it) and, for other scripts, RFC 8187's `title*`."""
    text = re.sub(r'[\\"\x00-\x1f\x7f-\x9f,;]', " ", x.title)
    if text.isascii():
        return [f'title="{text}"']
    return [f'title="{compact(x.link_type)}"', "title*=UTF-8''" + quote(text, safe="")]
