"""Judging a write whose precondition failed: applied already, safe to rebase, or a conflict.

Pure functions (and, for a rebase, which of another writer's values it kept:
:func:`kept_values`, :func:`kept_note`). After a precondition failure (or a retryable error, when the write may have
landed) the executor re-reads the object and compares, for every top-level field the change sets,
three values: the plan's ``before`` (what the plan saw), ``ours`` (what we want, normalised) and
``theirs`` (live now). A field equal to ours is applied; equal to before, untouched by the other
writer; anything else is a conflict (the other writer set a field we set, to another value).

Values are compared in the plan's shape: the builder's ``before`` is the live object projected
onto the owned fields (:func:`reconciler.diff.project`: nested keys the manifest never wrote are
dropped), so live and ours are cut to that shape too, and a key someone else added inside a map
we own part of is not a conflict.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from reconciler.apply.result import ConflictField
from reconciler.attribution import attribute, by_whom
from reconciler.diff import project, top_field
from reconciler.model import HistoryEntry
from reconciler.plan.model import Change
from reconciler.plan.render import format_value

SENSITIVE = "(sensitive)"


class Verdict(StrEnum):
    APPLIED = "applied"  # every field we set already holds our value
    CLEAN = "clean"  # the other writer touched none of our fields: rebase and write
    CONFLICT = "conflict"  # the other writer set one of our fields to something else


@dataclass(frozen=True)
class Judgement:
    verdict: Verdict
    conflicts: tuple[ConflictField, ...] = ()

    @property
    def fields(self) -> tuple[str, ...]:
        return tuple(c[0] for c in self.conflicts)


def plain(value: Any) -> Any:
    """Tuples as lists and mappings as dicts, so values compare the way their JSON would."""
    if isinstance(value, Mapping):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    return value


def same(a: Any, b: Any) -> bool:
    return bool(plain(a) == plain(b))


def fields_set_by(change: Change) -> tuple[str, ...]:
    """Top-level spec fields an update writes (``labels.team`` changes write ``labels``)."""
    paths = {top_field(fc.path) for fc in change.field_changes}
    if not paths and change.after is not None:
        before = change.before or {}
        paths = {k for k, v in change.after.items() if not same(v, before.get(k))}
    return tuple(sorted(paths))


def judge_update(
    fields: Iterable[str],
    before: Mapping[str, Any],
    ours: Mapping[str, Any],
    live: Mapping[str, Any],
    sensitive: frozenset[str] = frozenset(),
) -> Judgement:
    conflicts: list[ConflictField] = []
    pending = False
    for name in sorted(fields):
        planned = before.get(name)
        shape = planned if isinstance(planned, Mapping) else ours.get(name)
        theirs = project(live.get(name), shape)
        mine = project(ours.get(name), shape)
        if same(theirs, mine):
            continue
        if same(theirs, planned):
            pending = True
            continue
        conflicts.append(_field(name, planned, mine, theirs, sensitive))
    if conflicts:
        return Judgement(Verdict.CONFLICT, tuple(conflicts))
    return Judgement(Verdict.CLEAN if pending else Verdict.APPLIED)


def judge_delete(
    before: Mapping[str, Any], live: Mapping[str, Any], sensitive: frozenset[str] = frozenset()
) -> Judgement:
    """A delete conflicts when someone changed any owned field since the plan (ours: deleted)."""
    conflicts = tuple(
        _field(name, planned, None, project(live.get(name), planned), sensitive)
        for name, planned in sorted(before.items())
        if not same(project(live.get(name), planned), planned)
    )
    return Judgement(Verdict.CONFLICT, conflicts) if conflicts else Judgement(Verdict.CLEAN)


def _field(name: str, before: Any, ours: Any, theirs: Any, sensitive: frozenset[str]) -> ConflictField:
    if name in sensitive:
        return (name, SENSITIVE, SENSITIVE, SENSITIVE)
    return (name, plain(before), plain(ours), plain(theirs))


def kept_values(
    before: Mapping[str, Any], fields: Iterable[str], ours: Mapping[str, Any], live: Mapping[str, Any]
) -> list[tuple[str, Any, Any]]:
    """After a rebase: the manifest's fields this change did not set (``fields``) whose live
    value is another writer's, not ours: ``(field, theirs, ours)``. A rebase must keep them, and
    the next plan sets them back; said so nobody is surprised when it does."""
    out = []
    for name in sorted(set(before) - set(fields)):
        shape = before[name]
        theirs, mine = project(live.get(name), shape), project(ours.get(name), shape)
        if name in ours and not same(theirs, mine):
            out.append((name, plain(theirs), plain(mine)))
    return out


def kept_note(address: str, kept: Sequence[tuple[str, Any, Any]], entries: Sequence[HistoryEntry]) -> str:
    """``kept another writer's pacing_amount 900 (by jdoe at ...; the manifest says 700): ...``"""
    parts = [f"{name} {format_value(theirs)} ({by_whom(attribute(name, entries))}; the manifest says "
             f"{format_value(mine)})" for name, theirs, mine in kept]
    return (f"kept another writer's {'; '.join(parts)}: the next plan will set "
            f"{'it' if len(kept) == 1 else 'them'} back unless the manifest is updated "
            f"('reconciler drift --accept {address}' writes the live value into it)")


def overlay(live: Any, ours: Any, shape: Any) -> Any:
    """What to send for a map we own only partly: ``live`` with the owned keys (those of
    ``shape``, the plan's projected ``before``) set to ours, recursively; other keys are kept
    so another writer's entries are not silently dropped. Anything else is sent as ours."""
    if not (isinstance(shape, Mapping) and isinstance(live, Mapping) and isinstance(ours, Mapping)):
        return ours
    out = dict(live)
    for key, sub in shape.items():
        if key in ours:
            out[key] = overlay(live.get(key), ours[key], sub)
    return out
