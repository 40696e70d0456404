"""Shared pieces of the LiveRamp emulator: the vendor error, ids, the (shiftable) clock, settings,
paging and rendering helpers, and :class:`BackendBase` that the domain modules build on.

Documents live in the sandbox :class:`~reconciler.sandbox.base.Store` under api ``liveramp``.
Keys starting with ``_`` are internal (parent ids, hashes, budgets) and never rendered.
"""

from __future__ import annotations

import re
import time
import uuid
from datetime import UTC, date, datetime
from typing import Any

from reconciler.sandbox.base import EmulatorError, Store

API = "liveramp"

DEFAULT_SETTINGS: dict[str, Any] = {
    # token issuance: 2 per 24 h per API client (S2, enforced from 2025-10-08); lifetime 12 h
    "token_limit": 2,
    "token_window_seconds": 86400,
    "token_lifetime_seconds": 43200,
    # create-run budget: 20 per hour per API user (S2 api-limits page)
    "run_limit": 20,
    "run_window_seconds": 3600,
    # how long a run stays QUEUED+RUNNING before it completes (half queued, half running)
    "run_duration_seconds": 0.5,
    "run_outcome": "COMPLETED",
    # added to the wall clock: lets tests move past the 24 h / 1 h windows
    "clock_offset_seconds": 0.0,
}

DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


class LiveRampError(EmulatorError):
    """An API error; ``app`` renders it in the live Spring shape ``{status, code, timestamp, ...}``."""

    def __init__(self, status: int, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(status, str(status), message, headers)


def bad_request(message: str) -> LiveRampError:
    return LiveRampError(400, message)


def not_found(what: str, id_: str) -> LiveRampError:
    return LiveRampError(404, f"{what} not found with id {id_}")


def public(doc: dict[str, Any]) -> dict[str, Any]:
    """The rendered form of a stored document: internal ``_`` keys and None values dropped."""
    return {k: v for k, v in doc.items() if not k.startswith("_") and v is not None}


def iso(ts: float) -> str:
    """ISO-8601 with milliseconds and a numeric offset: ``2030-01-01T00:00:00.000+00:00``."""
    return datetime.fromtimestamp(ts, UTC).isoformat(timespec="milliseconds")


def parse_date(value: Any, field: str) -> str:
    """A ``yyyy-mm-dd`` request date (an ISO date-time is cut to its date part)."""
    if not isinstance(value, str) or not value:
        raise bad_request(f"{field} must be a date string in the format yyyy-mm-dd")
    text = value[:10]
    if not DATE_RE.match(text):
        raise bad_request(f"{field} '{value}' is not in the format yyyy-mm-dd")
    try:
        date.fromisoformat(text)
    except ValueError as exc:
        raise bad_request(f"{field} '{value}' is not a valid date") from exc
    return text


def parse_datetime(value: Any, field: str) -> float:
    """Epoch seconds from ``yyyy-mm-dd`` or an ISO date-time (``Z`` or offset; naive = UTC)."""
    if not isinstance(value, str) or not value:
        raise bad_request(f"{field} must be a date or date-time string")
    text = value.strip().replace("Z", "+00:00")
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError as exc:
        raise bad_request(f"{field} '{value}' is not an ISO-8601 date or date-time") from exc
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.timestamp()


def as_string(value: Any) -> str:
    """Jackson's coercion of a scalar into a ``Map<String,String>`` value."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return ""
    if isinstance(value, (int, float, str)):
        return str(value)
    raise bad_request(f"expected a string value, got {type(value).__name__}")


def as_bool(value: Any, field: str, default: bool = False) -> bool:
    if value is None:
        return default
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    raise bad_request(f"{field} must be a boolean")


def require_object(body: Any, what: str) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise bad_request(f"request body for {what} must be a JSON object")
    return body


def require_list(body: Any, what: str) -> list[Any]:
    if not isinstance(body, list):
        raise bad_request(f"request body for {what} must be a JSON array")
    return body


def page(items: list[Any], args: Any, default: int, maximum: int | None = None) -> list[Any]:
    """Apply ``limit``/``offset`` query parameters (over-maximum limits are clamped)."""
    limit = _int_arg(args, "limit", default)
    offset = _int_arg(args, "offset", 0)
    if limit < 0 or offset < 0:
        raise bad_request("limit and offset must not be negative")
    if maximum is not None:
        limit = min(limit, maximum)
    return items[offset : offset + limit]


def _int_arg(args: Any, name: str, default: int) -> int:
    raw = args.get(name)
    if raw in (None, ""):
        return default
    try:
        return int(raw)
    except ValueError as exc:
        raise bad_request(f"Failed to convert value of type 'java.lang.String' to required type 'int'; {name}={raw!r}") from exc


class BackendBase:
    """Store access, ids, the clock and settings for the domain mixins."""

    def __init__(self, store: Store) -> None:
        self.store = store

    # -- documents -------------------------------------------------------------------------------
    def get(self, coll: str, id_: str) -> dict[str, Any] | None:
        doc = self.store.get(API, coll, id_)
        return dict(doc) if doc is not None else None

    def must(self, coll: str, id_: str, what: str) -> dict[str, Any]:
        doc = self.get(coll, id_)
        if doc is None or doc.get("_deleted"):
            raise not_found(what, id_)
        return doc

    def put(self, coll: str, doc: dict[str, Any]) -> dict[str, Any]:
        self.store.put(API, coll, doc["id"], doc)
        return doc

    def all(self, coll: str) -> list[dict[str, Any]]:
        return [dict(d) for d in self.store.all(API, coll) if not d.get("_deleted")]

    def delete(self, coll: str, id_: str) -> None:
        self.store.delete(API, coll, id_)

    def new_id(self) -> str:
        return str(uuid.uuid4())

    def display_id(self, coll: str, prefix: str) -> str:
        return f"{prefix}-{self.store.next_id(API, 'display:' + coll):06d}"

    # -- clock and settings ----------------------------------------------------------------------
    def settings(self) -> dict[str, Any]:
        stored = self.store.get(API, "_settings", "settings") or {}
        return {**DEFAULT_SETTINGS, **stored}

    def update_settings(self, changes: dict[str, Any]) -> dict[str, Any]:
        unknown = sorted(set(changes) - set(DEFAULT_SETTINGS))
        if unknown:
            raise bad_request(f"unknown settings {unknown}; known: {sorted(DEFAULT_SETTINGS)}")
        merged = {**self.settings(), **changes}
        self.store.put(API, "_settings", "settings", merged)
        return merged

    def now(self) -> float:
        return time.time() + float(self.settings()["clock_offset_seconds"])

    def stamp(self) -> str:
        return iso(self.now())

    def time_audit(self, created: str | None = None) -> dict[str, str]:
        now = self.stamp()
        return {"createdAt": created or now, "updatedAt": now}

    # -- budgets (sliding windows of event times) -------------------------------------------------
    def take_budget(self, name: str, key: str, limit: int, window: float) -> bool:
        """Record one event for ``key`` unless ``limit`` events already happened in ``window``."""
        doc = self.store.get(API, "_budget", f"{name}:{key}") or {"times": []}
        now = self.now()
        times = [t for t in doc["times"] if t > now - window]
        if len(times) >= limit:
            return False
        times.append(now)
        self.store.put(API, "_budget", f"{name}:{key}", {"id": f"{name}:{key}", "times": times})
        return True

    def clear_budget(self, name: str) -> None:
        for doc in self.store.all(API, "_budget"):
            if str(doc.get("id", "")).startswith(f"{name}:"):
                self.store.delete(API, "_budget", doc["id"])

    def count_event(self, name: str, key: str) -> None:
        doc = self.store.get(API, "_counters", name) or {}
        doc = dict(doc)
        doc[key] = int(doc.get(key, 0)) + 1
        self.store.put(API, "_counters", name, doc)

    def counters(self) -> dict[str, dict[str, int]]:
        return {
            name: dict(self.store.get(API, "_counters", name) or {})
            for name in ("tokens_issued", "tokens_refused", "runs_created", "runs_refused")
        }
