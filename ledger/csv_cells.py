"""CSV cells a spreadsheet opens as text, never as a formula (CSV injection, CWE-1236).

A cell starting with `=`, `+`, `-` or `@` (or a tab or line break, which some spreadsheets skip
before one) is a formula to Excel, LibreOffice and Google Sheets: an order id `-A1-11e6` became
one. Such a text cell is written with a leading `'`, which spreadsheets show as text and do not
display; numbers (ints, never negative here) are written as they are. Every CSV the service
writes passes its rows through `row` (or `cells`)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r", "\n")


def cell(value: Any) -> Any:
    """`value`, with a `'` before a text that a spreadsheet would read as a formula."""
    if isinstance(value, str) and value.startswith(_FORMULA_STARTS):
        return "'" + value
    return value


def row(values: Iterable[Any]) -> list[Any]:
    """A row for `csv.writer`, each cell guarded."""
    return [cell(v) for v in values]


def cells(record: Mapping[str, Any]) -> dict[str, Any]:
    """A row for `csv.DictWriter`, each cell guarded."""
    return {k: cell(v) for k, v in record.items()}
