"""Time for the reporting emulator: RFC 3339 parsing, time windows and rollup buckets.

Everything is in UTC and counted in whole hours since the Unix epoch ("hour indexes"): metrics
accrue per hour, windows are half-open ``[start, end)`` hour ranges and rollups cut them into
calendar buckets (``by_week`` starts on Monday, ``by_month`` on the 1st).

Time windows (seed 002 and the spec's tables; both spellings are accepted):

- ``current_date`` / ``current_day``: today up to now (the current hour is included);
- ``yesterday``; ``last_N_hours`` (up to but not including the current hour);
- ``last_N_days`` (up to but not including today); ``month_to_date``;
- ``campaign_to_date`` / ``flight_to_date``: from each campaign's (or its current budget
  flight's) start to now. Such windows have no global start: rows are clipped per entity.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

HOUR = 3600
_RFC3339 = re.compile(
    r"^(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$"
)
_LAST_N = re.compile(r"^last_(\d+)_(hours|days)$")
ROLLUPS = ("all", "by_hour", "by_day", "by_week", "by_month")


class WindowError(ValueError):
    """A time window, date or rollup the request cannot use (rendered as a 400 BadRequest)."""


def parse_rfc3339(text: object, what: str) -> datetime:
    if not isinstance(text, str) or not _RFC3339.match(text):
        raise WindowError(f"{what} must be an RFC 3339 date-time such as 2023-07-27T12:00:00Z, got {text!r}")
    try:
        value = datetime.fromisoformat(text.replace("z", "Z").replace("Z", "+00:00").replace("t", "T"))
    except ValueError:
        raise WindowError(f"{what} is not a valid date-time: {text!r}") from None
    return value.astimezone(UTC)


def hour_of(moment: datetime) -> int:
    """The hour index containing ``moment``."""
    return int(moment.timestamp()) // HOUR


def ceil_hour(moment: datetime) -> int:
    seconds = int(moment.timestamp())
    return -(-seconds // HOUR)


def hour_text(hour: int) -> str:
    """RFC 3339 (``Z``) text of the start of hour ``hour``."""
    return datetime.fromtimestamp(hour * HOUR, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def stored_time_hour(text: str | None) -> int | None:
    """Hour index of a management-API datetime (``YYYY-MM-DDTHH:MM:SS``, UTC), floored."""
    if not text:
        return None
    value = datetime.fromisoformat(str(text).replace("Z", "")).replace(tzinfo=UTC)
    return hour_of(value)


@dataclass(frozen=True)
class Window:
    """Hours ``[start, end)``; ``start`` None means "from each entity's own start" (``clip``)."""

    start: int | None
    end: int
    clip: str | None = None  # "campaign" | "flight": per-entity lower bound


def window_name_matches(requested: str, supported: tuple[str, ...]) -> bool:
    """Whether a requested time window is one the dataset lists (``last_X_days`` patterns)."""
    name = "current_day" if requested == "current_date" else requested
    if name in supported:
        return True
    # Spec quirk: the tables never list flight_to_date; the seed's prose does. It is accepted
    # wherever campaign_to_date is.
    if name == "flight_to_date" and "campaign_to_date" in supported:
        return True
    match = _LAST_N.match(name)
    return bool(match and f"last_X_{match.group(2)}" in supported)


def resolve(time_window: str, now: datetime) -> Window:
    """The hours a named time window covers at ``now``."""
    now_h = hour_of(now)
    today = datetime(now.year, now.month, now.day, tzinfo=UTC)
    today_h = hour_of(today)
    if time_window in ("current_date", "current_day"):
        return Window(today_h, now_h + 1)
    if time_window == "yesterday":
        return Window(today_h - 24, today_h)
    if time_window == "month_to_date":
        return Window(hour_of(today.replace(day=1)), now_h + 1)
    if time_window == "campaign_to_date":
        return Window(None, now_h + 1, "campaign")
    if time_window == "flight_to_date":
        return Window(None, now_h + 1, "flight")
    match = _LAST_N.match(time_window)
    if match:
        n = int(match.group(1))
        if n < 1:
            raise WindowError(f"time window {time_window}: N must be at least 1")
        if match.group(2) == "hours":
            return Window(now_h - n, now_h)
        return Window(today_h - 24 * n, today_h)
    raise WindowError(f"unknown time window: {time_window}")


def date_range(start_time: object, end_time: object, now: datetime) -> Window:
    start = parse_rfc3339(start_time, "start_time")
    end = parse_rfc3339(end_time, "end_time") if end_time is not None else now
    if end <= start:
        raise WindowError("end_time must be after start_time")
    return Window(hour_of(start), ceil_hour(end))


@dataclass(frozen=True)
class Bucket:
    start: int  # hour index, clipped to the window
    end: int
    label: str | None  # agg_timestamp (None for rollup "all")


def truncate(hour: int, rollup: str) -> int:
    """Start hour of the rollup bucket containing ``hour``."""
    if rollup == "by_hour":
        return hour
    moment = datetime.fromtimestamp(hour * HOUR, UTC)
    day = datetime(moment.year, moment.month, moment.day, tzinfo=UTC)
    if rollup == "by_day":
        return hour_of(day)
    if rollup == "by_week":
        return hour_of(day - timedelta(days=day.weekday()))
    if rollup == "by_month":
        return hour_of(day.replace(day=1))
    raise WindowError(f"unknown rollup: {rollup}")


def _next_start(start: int, rollup: str) -> int:
    if rollup == "by_hour":
        return start + 1
    if rollup == "by_day":
        return start + 24
    if rollup == "by_week":
        return start + 24 * 7
    moment = datetime.fromtimestamp(start * HOUR, UTC)
    year, month = (moment.year + 1, 1) if moment.month == 12 else (moment.year, moment.month + 1)
    return hour_of(datetime(year, month, 1, tzinfo=UTC))


def buckets(rollup: str, start: int, end: int) -> list[Bucket]:
    """The rollup buckets covering ``[start, end)``, each clipped to it, oldest first."""
    if end <= start:
        return []
    if rollup == "all":
        return [Bucket(start, end, None)]
    out: list[Bucket] = []
    cursor = truncate(start, rollup)
    while cursor < end:
        nxt = _next_start(cursor, rollup)
        out.append(Bucket(max(cursor, start), min(nxt, end), hour_text(cursor)))
        cursor = nxt
    return out
