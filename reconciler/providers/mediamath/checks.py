"""Semantic checks of MediaMath specs that the API would refuse, run by ``validate`` (no
credentials, no calls): the schema says a date looks like one, these say it is one.

- every date-time is a real calendar moment (``2026-13-45T99:00:00`` is not), read in the
  campaign's ``zone_name`` when it has no offset (as the provider sends it), and the zone exists;
- campaigns and budget flights end after they start; a strategy with its own dates
  (``use_campaign_start``/``use_campaign_end`` false) too;
- a strategy day part's days are letters of ``MTWRFSU`` in week order, each once, and its window
  does not end before it starts.

One function per concern; :func:`checks_for` gives each kind its tuple (``KindInfo.checks``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from reconciler.model import Ref
from reconciler.providers.base import RelatedSpec, SpecCheck, SpecProblem
from reconciler.providers.mediamath.kinds import FieldType, KindSpec
from reconciler.providers.mediamath.normalize import ValueProblem, canonical_datetime


def checks_for(spec: KindSpec) -> tuple[SpecCheck, ...]:
    """The checks of one kind (none for kinds without date-times)."""
    if spec.kind == "StrategyDayPart":
        return (check_day_part,)
    if not _datetime_fields(spec):
        return ()

    def dates(values: Mapping[str, Any], related: RelatedSpec) -> Iterable[SpecProblem]:
        return check_dates(spec, values)

    return (dates,)


_DATETIME_FIELDS: dict[str, tuple[str, ...]] = {}


def _datetime_fields(spec: KindSpec) -> tuple[str, ...]:
    found = _DATETIME_FIELDS.get(spec.kind)
    if found is None:
        found = _DATETIME_FIELDS[spec.kind] = tuple(f for f, t in spec.fields.items() if t is FieldType.DATETIME)
    return found


def check_dates(spec: KindSpec, values: Mapping[str, Any]) -> list[SpecProblem]:
    """Real date-times, an existing zone, and start before end where both are the object's own."""
    problems: list[SpecProblem] = []
    zone = values.get(spec.zone_field) if spec.zone_field else None
    if zone is not None and not isinstance(zone, str | Ref):
        zone = None
    if isinstance(zone, str):
        try:
            canonical_datetime("2000-01-01T00:00:00", zone)
        except ValueProblem as exc:
            problems.append(SpecProblem(spec.zone_field or "zone_name", str(exc)))
            zone = None
    moments: dict[str, str] = {}
    for field in _datetime_fields(spec):
        value = values.get(field)
        if value is None or isinstance(value, Ref):
            continue
        try:
            moment = canonical_datetime(value, zone if isinstance(zone, str) else None)
        except ValueProblem as exc:
            problems.append(SpecProblem(field, str(exc)))
            continue
        if moment:
            moments[field] = moment
    own_dates = spec.kind != "Strategy" or (
        values.get("use_campaign_start") is False and values.get("use_campaign_end") is False
    )
    start, end = moments.get("start_date"), moments.get("end_date")
    if own_dates and start and end and end <= start:
        problems.append(SpecProblem(
            "end_date",
            f"ends before it starts: end_date {values.get('end_date')!s} is not after start_date "
            f"{values.get('start_date')!s} ({end} <= {start} in UTC)",
        ))
    return problems


WEEK = "MTWRFSU"


def check_day_part(values: Mapping[str, Any], related: RelatedSpec) -> Iterable[SpecProblem]:
    """Days as the API takes them (``MTWRF``), and an hour window that does not end before it starts."""
    days = values.get("days")
    if isinstance(days, str) and days:
        positions = [WEEK.find(d) for d in days]
        if -1 in positions or positions != sorted(set(positions)):
            yield SpecProblem("days", f"'{days}' must be letters of {WEEK} (Monday, Tuesday, Wednesday, thuRsday, "
                                      "Friday, Saturday, sUnday), each once, in that order: e.g. 'MTWRF'")
    start, end = values.get("start_hour"), values.get("end_hour")
    if type(start) is int and type(end) is int and end < start:
        yield SpecProblem("end_hour", f"{end} is before start_hour {start}: a day part ends after it starts")
