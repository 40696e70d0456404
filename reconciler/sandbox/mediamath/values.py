"""Values of the MediaMath v2.0 emulator: what a field holds, as stored and as sent.

:func:`coerce` turns one submitted form value into its stored form (or raises
:class:`~reconciler.sandbox.mediamath.models.FieldError`); :func:`wire_value` turns a stored value
into the XML ``value`` text; dates travel
as UTC ``YYYY-MM-DDTHH:MM:SS`` (:func:`parse_datetime`, :func:`format_datetime`,
:func:`local_time` for ``<local_time>`` in the campaign's zone). The field declarations themselves
are in :mod:`.models`.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any
from zoneinfo import ZoneInfo

from reconciler.sandbox.mediamath.models import DEFAULT_ZONE, DT_FORMAT, Field, FieldError, FieldType

_INT = re.compile(r"^[+-]?\d+$")
_DT = re.compile(
    r"^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.\d+)?)?)?\s*(Z|[+-]\d{2}:?\d{2})?$"
)


def parse_datetime(text: str) -> datetime:
    """``YYYY-MM-DD[THH:MM[:SS]][Z|+HHMM|+HH:MM]`` -> aware UTC datetime (naive input is UTC)."""
    m = _DT.match(text.strip())
    if not m:
        raise ValueError(f"invalid date {text!r}")
    year, month, day, hour, minute, second, offset = m.groups()
    tz: timezone = UTC
    if offset and offset != "Z":
        sign = -1 if offset[0] == "-" else 1
        digits = offset[1:].replace(":", "")
        tz = timezone(sign * timedelta(hours=int(digits[:2]), minutes=int(digits[2:])))
    value = datetime(int(year), int(month), int(day), int(hour or 0), int(minute or 0), int(second or 0),
                     tzinfo=tz)
    return value.astimezone(UTC)


def format_datetime(value: datetime) -> str:
    return value.astimezone(UTC).strftime(DT_FORMAT)


def quantize(value: Decimal, places: int) -> str:
    return str(value.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP))


def _zone(name: str) -> ZoneInfo | None:
    # any failure means "unknown zone": for a name missing from the system database zoneinfo falls back
    # to importing the tzdata package, which can fail in odd ways (import hooks of other libraries)
    try:
        return ZoneInfo(name)
    except Exception:
        return None


def valid_zone(name: str) -> bool:
    return _zone(name) is not None


def coerce(f: Field, raw: Any) -> Any:
    """One submitted value (form text or JSON-native) -> stored value. ``""`` means null."""
    if raw is None or (isinstance(raw, str) and raw == "" and f.type is not FieldType.STR):
        return None
    if f.type is FieldType.STR:
        value = str(raw)
        if f.enum is not None and value not in f.enum:
            raise FieldError(f.name, f"must be one of {', '.join(f.enum)}")
        if f.max_length is not None and len(value) > f.max_length:
            raise FieldError(f.name, f"must be at most {f.max_length} characters")
        if f.min_length is not None and len(value) < f.min_length:
            raise FieldError(f.name, f"must be at least {f.min_length} characters")
        return value
    if f.type is FieldType.BOOL:
        text = str(raw).strip().lower()
        if isinstance(raw, bool):
            return raw
        if text in ("1", "true"):
            return True
        if text in ("0", "false"):
            return False
        raise FieldError(f.name, "must be 0 or 1")
    if f.type is FieldType.INT:
        if isinstance(raw, bool) or not _INT.match(str(raw).strip()):
            raise FieldError(f.name, "must be an integer")
        number = int(str(raw).strip())
        _check_range(f, Decimal(number))
        return number
    if f.is_decimal:
        try:
            dec = Decimal(str(raw).strip())
        except InvalidOperation:
            raise FieldError(f.name, "must be a number") from None
        if not dec.is_finite():
            raise FieldError(f.name, "must be a number")
        _check_range(f, dec)
        return quantize(dec, f.places)
    if f.type is FieldType.DATETIME:
        try:
            return format_datetime(parse_datetime(str(raw)))
        except ValueError:
            raise FieldError(f.name, "must be a date (YYYY-MM-DDTHH:MM:SS)") from None
    raise AssertionError(f.type)  # pragma: no cover


def _check_range(f: Field, value: Decimal) -> None:
    if f.minimum is not None and value < f.minimum:
        raise FieldError(f.name, f"must be at least {f.minimum}")
    if f.maximum is not None and value > f.maximum:
        raise FieldError(f.name, f"must be at most {f.maximum}")


def wire_value(f: Field, value: Any) -> str:
    """Stored value -> XML ``value`` text (booleans 0/1)."""
    if value is None:
        return ""
    if f.type is FieldType.BOOL:
        return "1" if value else "0"
    return str(value)


def local_time(utc_text: str, zone: str) -> str:
    value = datetime.strptime(utc_text, DT_FORMAT).replace(tzinfo=UTC)
    tz = _zone(zone) or ZoneInfo(DEFAULT_ZONE)
    return value.astimezone(tz).strftime(DT_FORMAT)


def now_text() -> str:
    return datetime.now(UTC).strftime(DT_FORMAT)
