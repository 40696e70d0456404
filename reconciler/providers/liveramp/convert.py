"""Pure value conversions shared by the LiveRamp kinds (no I/O).

- ``compact``: drop empty values (None, "", False, [], {}) from nested items, so an item written
  with defaults compares equal to the one the API returns with them filled in.
- ``day``/``instant``: dates and date-times in one canonical form (``yyyy-mm-dd``,
  ``yyyy-mm-ddTHH:MM:SSZ`` in UTC) whatever the API or YAML produced (``date`` objects,
  ``...T00:00:00.000+00:00``).
- ``flag_string``: the API's ``Map<String,String>`` values (``True`` -> ``"true"``).
- ``split_id``/``join_id``: composite remote ids ``parent:child`` for kinds whose API paths need
  the parent (partners, users, schedules).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, date, datetime
from typing import Any

from reconciler.errors import ProviderError

SEPARATOR = ":"
WEEK = ("SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT")


def compact(value: Any) -> Any:
    """Recursively drop keys whose value is None, "", False, [] or {}."""
    if isinstance(value, Mapping):
        out = {}
        for k, v in value.items():
            v = compact(v)
            if v is None or v == "" or v is False or v == [] or v == {}:
                continue
            out[str(k)] = v
        return out
    if isinstance(value, (list, tuple)):
        return [compact(v) for v in value]
    return value


def flag_string(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return ""
    return str(value)


def day(value: Any) -> str | None:
    """``yyyy-mm-dd`` from a date, a datetime or an ISO string (None stays None)."""
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        return value.date().isoformat()
    if isinstance(value, date):
        return value.isoformat()
    return str(value)[:10]


def instant(value: Any) -> str | None:
    """``yyyy-mm-ddTHH:MM:SSZ`` (UTC) from a date, datetime or ISO string; dates mean midnight UTC."""
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        parsed = value
    elif isinstance(value, date):
        parsed = datetime(value.year, value.month, value.day)
    else:
        text = str(value).strip().replace("Z", "+00:00")
        try:
            parsed = datetime.fromisoformat(text)
        except ValueError:
            return str(value)
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def week_sorted(days: Any) -> list[str]:
    items = [str(d) for d in days or []]
    return sorted(items, key=lambda d: (WEEK.index(d) if d in WEEK else 99, d))


def join_id(parent: str, child: str) -> str:
    return f"{parent}{SEPARATOR}{child}"


def split_id(remote_id: str, kind: str) -> tuple[str, str]:
    parent, sep, child = str(remote_id).partition(SEPARATOR)
    if not sep or not parent or not child:
        raise ProviderError(f"liveramp {kind} id '{remote_id}' is not of the form <parent id>{SEPARATOR}<id>")
    return parent, child


def as_id(value: Any) -> str:
    """A reference or literal id as the API's string id."""
    return "" if value is None else str(value)
