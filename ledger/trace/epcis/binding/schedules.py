"""Query schedules of EPCIS subscriptions (EPCIS 2.0 section 8.2.5.3, as cron): `second`, `minute`,
`hour`, `dayOfMonth`, `month`, `dayOfWeek` (1 Monday .. 7 Sunday), each a number, a list
(`1,15`), a range (`[9-17]`) or a step (`0/30`). An omitted `second` is 0; any other field
omitted matches every value. Times are UTC."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

FIELDS = {"second": (0, 59), "minute": (0, 59), "hour": (0, 23), "dayOfMonth": (1, 31), "month": (1, 12),
          "dayOfWeek": (1, 7)}  # fmt: skip


class ScheduleError(ValueError):
    pass


def _values(name: str, spec: str) -> list[int]:
    low, high = FIELDS[name]
    out: set[int] = set()
    for part in str(spec).replace(" ", "").split(","):
        if m := re.fullmatch(r"\d{1,2}", part):
            out.add(int(part))
        elif m := re.fullmatch(r"\[(\d{1,2})-(\d{1,2})\]", part):
            out.update(range(int(m.group(1)), int(m.group(2)) + 1))
        elif m := re.fullmatch(r"(\d{1,2}|\*)/(\d{1,2})", part):
            start, step = (low if m.group(1) == "*" else int(m.group(1))), int(m.group(2))
            if step == 0:
                raise ScheduleError(f"{name}: a step of 0")
            out.update(range(start, high + 1, step))
        elif part == "*":
            out.update(range(low, high + 1))
        else:
            raise ScheduleError(f"{name}: {part!r} is not a number, list, [a-b] range or a/b step")
    if not out or min(out) < low or max(out) > high:
        raise ScheduleError(f"{name}: values from {low} to {high}")
    return sorted(out)


def check(schedule: object) -> dict[str, list[int]]:
    """The schedule's allowed values per field; ScheduleError saying what is wrong."""
    if not isinstance(schedule, dict) or not schedule:
        raise ScheduleError("a schedule is an object with second, minute, hour, dayOfMonth, month or dayOfWeek")
    unknown = set(schedule) - set(FIELDS)
    if unknown:
        raise ScheduleError(f"unknown schedule field {sorted(unknown)[0]!r}")
    out = {name: _values(name, spec) for name, spec in schedule.items() if spec is not None}
    out.setdefault("second", [0])
    return out


def next_after(schedule: dict, t: datetime) -> datetime:
    """The first time after `t` the schedule names (within 5 years; ScheduleError if never, e.g. 31 February)."""
    allowed = check(schedule)
    hours = allowed.get("hour", list(range(24)))
    minutes = allowed.get("minute", list(range(60)))
    seconds = allowed["second"]
    t = t.astimezone(UTC)
    day = t.replace(hour=0, minute=0, second=0, microsecond=0)
    for _ in range(366 * 5):
        if (
            day.day in allowed.get("dayOfMonth", [day.day])
            and day.month in allowed.get("month", [day.month])
            and day.isoweekday() in allowed.get("dayOfWeek", [day.isoweekday()])
        ):
            for h in hours:
                for mi in minutes:
                    for s in seconds:
                        candidate = day.replace(hour=h, minute=mi, second=s)
                        if candidate > t:
                            return candidate
        day += timedelta(days=1)
    raise ScheduleError("the schedule names no time in the next five years")
