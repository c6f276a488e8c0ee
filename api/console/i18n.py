"""Words, numbers and times of the console and the scan page, as people read them: one language
negotiation, strings from gettext catalogs (`locale/<lang>/LC_MESSAGES/<domain>.po`, read with
Babel), money in yuan from integer fen formatted by the locale, times in Beijing time.

The catalogs use symbolic message ids (`deposit_title`), so the page's script gets the same table
by the same keys, and a test checks every id is translated in both languages."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from functools import cache
from pathlib import Path
from zoneinfo import ZoneInfo

from babel import Locale
from babel.dates import format_datetime
from babel.messages.pofile import read_po
from babel.numbers import format_currency

LOCALE_DIR = Path(__file__).parent / "locale"
LANGUAGES = ("zh", "en")
LOCALES = {"zh": Locale.parse("zh_CN"), "en": Locale.parse("en")}
BEIJING = ZoneInfo("Asia/Shanghai")


def negotiate(query_lang: str | None, accept_language: str | None) -> str:
    """`?lang=` when it names one of ours; else the browser's first language we speak by its
    Accept-Language preferences (q-values honoured); Chinese when it states none we speak."""
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
    return "zh"


@cache
def catalog(domain: str, lang: str) -> dict[str, str]:
    """Message id => translated string, from the domain's .po catalog for the language."""
    with open(LOCALE_DIR / lang / "LC_MESSAGES" / f"{domain}.po", "rb") as f:
        po = read_po(f, locale=LOCALES[lang], domain=domain)
    return {str(m.id): str(m.string) for m in po if m.id and m.string}


def yuan(fen: int, lang: str) -> str:
    """Integer fen as yuan in the locale's currency format: `¥1,000.00` (zh), `CN¥1,000.00` (en)."""
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
    pattern = "yyyy年M月d日 HH:mm" if lang == "zh" else "d MMM yyyy, HH:mm"
    return format_datetime(when, pattern, tzinfo=BEIJING, locale=LOCALES[lang]) + (
        "（北京时间）" if lang == "zh" else " (Beijing)"
    )


def _parse(text: str) -> datetime | None:
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
