"""Retention (Food Safety Law Art. 50, GB/T 37029): a batch's records are kept at least 6 months
past its shelf life, 2 years past its last record when it declares none. `retain_until` says until
when (the report shows it). The only deletion of trace records, `ledger compliance prune`
(`prune`), refuses a batch before this date; `ledger backup` copies the whole database, these
records and the compliance tables with it."""

from __future__ import annotations

from datetime import date

from .completeness import _SHELF, _date, _ilmd, made_lots

SHELF_MARGIN_MONTHS = 6
NO_SHELF_YEARS = 2


def _plus_months(d: date, months: int) -> date:
    y, m = divmod(d.month - 1 + months, 12)
    year, month = d.year + y, m + 1
    for day in (d.day, 30, 29, 28):
        try:
            return date(year, month, day)
        except ValueError:
            continue
    raise AssertionError("unreachable")


def retain_until(events: list[dict], lot: tuple[str, str]) -> dict:
    """{"until": date, "rule": ..., "shelf_life_ends": date | None} for the events of batch
    `lot` (gtin, lot): its shelf life is what the events that made it declare."""
    ends = [d for e in events if lot in made_lots(e) for k in _SHELF if (d := _date(_ilmd(e).get(k)))]
    if ends:
        end = max(ends)
        return {
            "until": _plus_months(end, SHELF_MARGIN_MONTHS),
            "rule": "shelf life + 6 months",
            "shelf_life_ends": end,
        }
    last = max((d for e in events if (d := _date(e.get("eventTime")))), default=None)
    if last is None:
        return {"until": None, "rule": "no records", "shelf_life_ends": None}
    return {"until": _plus_months(last, 12 * NO_SHELF_YEARS), "rule": "no shelf life: 2 years", "shelf_life_ends": None}
