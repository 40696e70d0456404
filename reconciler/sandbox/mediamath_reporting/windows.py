"""Time for the reporting emulator: RFC 3339 parsing, time windows and rollup buckets.

Time is counted in whole hours since the Unix epoch ("hour indexes"): metrics accrue per hour,
windows are half-open ``[start, end)`` hour ranges and rollups cut them into calendar buckets
(``by_week`` starts on Monday, ``by_month`` on the 1st). Calendar days are UTC days unless a time
zone is given (``time_zone`` of the datasets that support it): then "today", "yesterday", days,
weeks and months are those of that zone (DST included; a local midnight that falls inside a UTC
hour starts that hour), and ``agg_timestamp`` labels carry the zone's offset
(``2026-03-08T00:00:00-05:00``) instead of ``Z``.

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
from datetime import UTC, date, datetime, timedelta, tzinfo
from zoneinfo import ZoneInfo

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


def zone_of(name: str) -> tzinfo:
    """``UTC`` or an IANA zone name -> tzinfo; :class:`WindowError` for an unknown name."""
    if name == "UTC":
        return UTC
    try:
        return ZoneInfo(name)
    except Exception:  # ZoneInfoNotFoundError, ValueError, and odd tzdata import failures
        raise WindowError(f"unknown time_zone: {name}") from None


def _midnight(day: date, zone: tzinfo) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=zone)


def _label(moment: datetime, zone: tzinfo) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ") if zone is UTC else moment.isoformat()


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


def resolve(time_window: str, now: datetime, zone: tzinfo = UTC) -> Window:
    """The hours a named time window covers at ``now``, its days being those of ``zone``."""
    now_h = hour_of(now)
    today = now.astimezone(zone).date()
    today_h = hour_of(_midnight(today, zone))
    if time_window in ("current_date", "current_day"):
        return Window(today_h, now_h + 1)
    if time_window == "yesterday":
        return Window(hour_of(_midnight(today - timedelta(days=1), zone)), today_h)
    if time_window == "month_to_date":
        return Window(hour_of(_midnight(today.replace(day=1), zone)), now_h + 1)
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
        return Window(hour_of(_midnight(today - timedelta(days=n), zone)), today_h)
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


def _bucket_start(hour: int, rollup: str, zone: tzinfo) -> datetime:
    """The local start of the rollup bucket containing ``hour``."""
    moment = datetime.fromtimestamp(hour * HOUR, zone)
    if rollup == "by_hour":
        return moment
    day = moment.date()
    if rollup == "by_day":
        return _midnight(day, zone)
    if rollup == "by_week":
        return _midnight(day - timedelta(days=day.weekday()), zone)
    if rollup == "by_month":
        return _midnight(day.replace(day=1), zone)
    raise WindowError(f"unknown rollup: {rollup}")


def _next_start(start: datetime, rollup: str, zone: tzinfo) -> datetime:
    if rollup == "by_hour":
        return datetime.fromtimestamp((hour_of(start) + 1) * HOUR, zone)
    day = start.date()
    if rollup == "by_day":
        return _midnight(day + timedelta(days=1), zone)
    if rollup == "by_week":
        return _midnight(day + timedelta(days=7), zone)
    year, month = (day.year + 1, 1) if day.month == 12 else (day.year, day.month + 1)
    return _midnight(date(year, month, 1), zone)


def buckets(rollup: str, start: int, end: int, zone: tzinfo = UTC) -> list[Bucket]:
    """The rollup buckets covering ``[start, end)``, each clipped to it, oldest first; calendar
    buckets follow ``zone``'s days."""
    if end <= start:
        return []
    if rollup == "all":
        return [Bucket(start, end, None)]
    out: list[Bucket] = []
    cursor = _bucket_start(start, rollup, zone)
    while hour_of(cursor) < end:
        nxt = _next_start(cursor, rollup, zone)
        out.append(Bucket(max(hour_of(cursor), start), min(hour_of(nxt), end), _label(cursor, zone)))
        cursor = nxt
    return out
