"""Semantic checks of LiveRamp specs that the API would refuse, run by ``validate`` (no
credentials, no calls), so the mistake is named by file, line and manifest field instead of by a
vendor field (``daysOfWeek``) in an apply log.

- Cleanroom: real ``start_at``/``end_at`` dates, the end after the start;
- QuestionRunSchedule: real ``start``/``end`` moments, the end after the start, ``WEEKLY`` with
  ``days_of_week``, ``MONTHLY`` with ``days_of_month``;
- CleanroomQuestion: each assignment's ``macro`` once, and declared by the question's
  ``data_types`` when the question is in the manifests.

(The same question twice in one room is the loader's generic check: one natural key, two documents.)
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, date, datetime
from typing import Any

from reconciler.model import Ref
from reconciler.providers.base import RelatedSpec, SpecProblem


def _moment(value: Any, *, date_only: bool = False) -> datetime | None:
    """A date or date-time as an aware UTC datetime; raises ValueError for one that is not real."""
    if value is None or isinstance(value, Ref):
        return None
    if isinstance(value, datetime):
        parsed = value
    elif isinstance(value, date):
        parsed = datetime(value.year, value.month, value.day)
    else:
        text = str(value).strip()
        if date_only:
            parsed = datetime.combine(date.fromisoformat(text), datetime.min.time())
        else:
            parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _period(values: Mapping[str, Any], start: str, end: str, *, date_only: bool) -> list[SpecProblem]:
    problems: list[SpecProblem] = []
    moments: dict[str, datetime] = {}
    for field in (start, end):
        try:
            moment = _moment(values.get(field), date_only=date_only)
        except ValueError as exc:
            what = "a date (yyyy-mm-dd)" if date_only else "a date or date-time (yyyy-mm-dd[THH:MM:SS][offset])"
            problems.append(SpecProblem(field, f"{values.get(field)!r} is not a real {what}: {exc}"))
            continue
        if moment is not None:
            moments[field] = moment
    if start in moments and end in moments and moments[end] <= moments[start]:
        problems.append(SpecProblem(end, f"ends before it starts: {end} {values.get(end)!s} is not after "
                                         f"{start} {values.get(start)!s}"))
    return problems


def cleanroom_dates(values: Mapping[str, Any], related: RelatedSpec) -> Iterable[SpecProblem]:
    return _period(values, "start_at", "end_at", date_only=True)


def schedule_rules(values: Mapping[str, Any], related: RelatedSpec) -> Iterable[SpecProblem]:
    problems = _period(values, "start", "end", date_only=False)
    frequency = values.get("frequency")
    if frequency == "WEEKLY" and not values.get("days_of_week"):
        problems.append(SpecProblem("days_of_week", "a WEEKLY schedule needs days_of_week (e.g. [MON, THU])"))
    if frequency == "MONTHLY" and not values.get("days_of_month"):
        problems.append(SpecProblem("days_of_month", "a MONTHLY schedule needs days_of_month (e.g. [1, 15])"))
    return problems


def assignment_macros(values: Mapping[str, Any], related: RelatedSpec) -> Iterable[SpecProblem]:
    problems: list[SpecProblem] = []
    question_id = values.get("question_id")
    question = related(question_id) if isinstance(question_id, Ref) else None
    declared = None
    if question is not None:
        declared = sorted(
            {str(t.get("macro") or t.get("import_data_type")) for t in question.get("data_types") or [] if isinstance(t, Mapping)}
        )
    seen: set[str] = set()
    for index, item in enumerate(values.get("assignments") or []):
        macro = item.get("macro") if isinstance(item, Mapping) else None
        if not isinstance(macro, str):
            continue
        if macro in seen:
            problems.append(SpecProblem(f"assignments.{index}.macro", f"macro '{macro}' is assigned twice"))
        seen.add(macro)
        if declared is not None and macro not in declared:
            target = question_id.target if isinstance(question_id, Ref) else question_id
            listing = ", ".join(declared) or "none"
            problems.append(SpecProblem(
                f"assignments.{index}.macro",
                f"macro '{macro}' is not declared by {target} (its data_types declare: {listing})",
            ))
    return problems
