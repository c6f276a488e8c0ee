"""The date-times EPCIS documents carry, as both schema validators check them: well formed (each
validator's own `date-time` check) and a time that exists in UTC. `0001-01-01T00:00:00+14:00` is a
well-formed date-time before year 1 in UTC: hashing an event (times are hashed in UTC) overflowed
into a 500 at every capture door; it is a problem at its path now, like any other malformed field.
Only years 0001 and 9999 can fall outside, so no other date-time is parsed twice."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import fastjsonschema.draft04
from jsonschema import FormatChecker

_FRACTION = re.compile(r"(\.\d{6})\d+")  # Python reads at most microseconds
_WELL_FORMED = re.compile(fastjsonschema.draft04.CodeGeneratorDraft04.FORMAT_REGEXS["date-time"])


def in_utc(value: str) -> bool:
    """Whether a well-formed date-time is a time in UTC (years 1 to 9999)."""
    if value[:4] not in ("0001", "9999"):
        return True
    try:
        datetime.fromisoformat(_FRACTION.sub(r"\1", value)).astimezone(UTC)
    except ValueError:
        return True  # a form Python does not read: as the validator judged it
    except OverflowError:
        return False
    return True


def fast_date_time(value: str) -> bool:
    """The compiled validator's `date-time` check (its own pattern), and a time in UTC."""
    return bool(_WELL_FORMED.match(value)) and in_utc(value)


def checker() -> FormatChecker:
    """jsonschema's format checks, with `date-time` also a time in UTC."""
    formats = FormatChecker()
    well_formed = formats.checkers["date-time"][0]

    @formats.checks("date-time")
    def date_time(value: object) -> bool:
        return well_formed(value) and (not isinstance(value, str) or in_utc(value))

    return formats
