"""Date-times in plans, shown one way whatever the action (create, update, delete, drift).

A manifest may write ``2026-12-01T00:00:00`` (read in the campaign's ``zone_name``), an offset
(``-05:00``) or ``Z``; the API answers in UTC. Plans show every value of a date-time field
(``KindInfo.datetime_fields``) as the same instant:

- in the object's own zone with its offset where the kind has a zone field and the object names
  one (a MediaMath campaign with ``zone_name: America/New_York``: ``2026-12-01T00:00:00-05:00``);
- else in UTC with ``Z`` (strategies and budget flights: ``2026-12-01T05:00:00Z``).

A time without an offset is read in that zone (or UTC), as the provider reads it. Values that
do not parse are shown as written. Ids the canonical form holds as text are shown as the schema
types them (``vertical_id = 12 -> 13``). Only the display changes: the JSON plan keeps the values.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from reconciler.plan.model import Change, FieldChange
from reconciler.providers.base import KindInfo
from reconciler.schematype import typed_at

_DATETIME = re.compile(r"^\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:?\d{2})?)?$")


def _zone(name: Any) -> dt.tzinfo | None:
    if not isinstance(name, str) or not name:
        return None
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return None


def show_datetime(value: Any, zone: dt.tzinfo | None) -> Any:
    """``value`` as shown (see the module docstring), or unchanged when it is not a date-time."""
    if not isinstance(value, str) or not _DATETIME.match(value.strip()):
        return value
    text = value.strip().replace(" ", "T")
    if text.endswith("Z"):
        text = text[:-1] + "+00:00"
    elif re.search(r"[+-]\d{4}$", text):
        text = text[:-2] + ":" + text[-2:]
    try:
        moment = dt.datetime.fromisoformat(text)
    except ValueError:
        return value
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=zone or dt.UTC)
    moment = moment.replace(microsecond=0)
    if zone is None:
        return moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S") + "Z"
    return moment.astimezone(zone).isoformat()


def for_display(change: Change, info: KindInfo | None) -> Change:
    """``change`` with its date-time field values in the display form, and values the canonical
    form holds as text typed as the kind's schema types them (ids: ``vertical_id = 12 -> 13``,
    not ``"12" -> "13"``; :mod:`reconciler.schematype`); others untouched."""
    if info is None or not change.field_changes:
        return change
    zone = None
    if info.zone_field:
        name = (change.after or {}).get(info.zone_field) or (change.before or {}).get(info.zone_field)
        zone = _zone(name)
    fields = []
    touched = False
    for fc in change.field_changes:
        if fc.path in info.datetime_fields:
            fc = FieldChange(fc.path, show_datetime(fc.before, zone), show_datetime(fc.after, zone))
            touched = True
        elif isinstance(fc.before, str) or isinstance(fc.after, str):
            shown = FieldChange(fc.path, typed_at(info.schema, fc.path, fc.before), typed_at(info.schema, fc.path, fc.after))
            if shown != fc:
                fc, touched = shown, True
        fields.append(fc)
    return change._replace(field_changes=tuple(fields)) if touched else change
