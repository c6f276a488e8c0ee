"""Words, numbers and times of the pages and reports (the console, the scan page, reconciliation
reports), as people read them: one language negotiation, strings from gettext catalogs
(`locale/<lang>/LC_MESSAGES/<domain>.po`, read with Babel), money in yuan from integer fen
formatted by the locale, times in Beijing time.

The catalogs use symbolic message ids (`deposit_title`), so the page's script gets the same table
by the same keys, and a test checks every id is translated in both languages."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from functools import cache
from pathlib import Path
from zoneinfo import ZoneInfo

from babel import Locale
from babel.dates import parse_pattern
from babel.messages.pofile import read_po
from babel.numbers import format_currency, get_currency_symbol

LOCALE_DIR = Path(__file__).parent / "locale"
LANGUAGES = ("zh", "en")
LOCALES = {"zh": Locale.parse("zh_CN"), "en": Locale.parse("en")}
BEIJING = ZoneInfo("Asia/Shanghai")
#: the scan page renders on the hot path: each language's date pattern parsed once, the yuan sign once
_WHEN = {"zh": parse_pattern("yyyy年M月d日 HH:mm"), "en": parse_pattern("d MMM yyyy, HH:mm")}
_BEIJING_WORD = {"zh": "（北京时间）", "en": " (Beijing)"}
_SIGN = {lang: get_currency_symbol("CNY", locale) for lang, locale in LOCALES.items()}


def negotiate(query_lang: str | None, accept_language: str | None) -> str:
    """`?lang=` when it names one of ours; else the browser's first language we speak by its
    Accept-Language preferences (q-values honoured); Chinese when it states none, English when it
    states only languages we do not speak (a visitor reads English before Chinese)."""
    if query_lang in LANGUAGES:
        return query_lang  # type: ignore[return-value]
    ranked: list[tuple[float, int, str]] = []
    for i, part in enumerate((accept_language or "")[:500].split(",")[:20]):
        tag, _, params = part.strip().partition(";")
        q = 1.0
        if params.strip().startswith("q="):
            try:
                q = float(params.strip()[2:])
            except ValueError:
                q = 0.0
        ranked.append((-q, i, tag.strip().lower()))
    for q, _, tag in sorted(ranked):
        primary = tag.split("-")[0]
        if q < 0 and primary in LANGUAGES:
            return primary
    return "en" if ranked and any(tag and tag != "*" for _, _, tag in ranked) else "zh"


@cache
def catalog(domain: str, lang: str) -> dict[str, str]:
    """Message id => translated string, from the domain's .po catalog for the language."""
    with open(LOCALE_DIR / lang / "LC_MESSAGES" / f"{domain}.po", "rb") as f:
        po = read_po(f, locale=LOCALES[lang], domain=domain)
    return {str(m.id): str(m.string) for m in po if m.id and m.string}


def yuan(fen: int, lang: str) -> str:
    """Integer fen as yuan in the locale's currency format: `¥1,000.00` (zh), `CN¥1,000.00` (en);
    the sign from Babel's data, digits exact from the integer (both locales group by thousands with
    `,` and write `.` before the fen: checked against Babel's `format_currency` by a test)."""
    fen = int(fen)
    minus = "-" if fen < 0 else ""
    return f"{minus}{_SIGN[lang]}{abs(fen) // 100:,}.{abs(fen) % 100:02d}"


def yuan_by_babel(fen: int, lang: str) -> str:
    return format_currency(Decimal(int(fen)) / 100, "CNY", locale=LOCALES[lang])


def beijing(value: str | datetime | None, lang: str) -> str:
    """An ISO 8601 time (or datetime) in Beijing time, to the minute, as the locale writes it."""
    if not value:
        return ""
    when = value if isinstance(value, datetime) else _parse(value)
    if when is None:
        return str(value)
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return _WHEN[lang].apply(when.astimezone(BEIJING), LOCALES[lang]) + _BEIJING_WORD[lang]


def _parse(text: str) -> datetime | None:
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
