"""Which planned writes set back a change made outside reconciler, and whose (pure).

A plan's ``drift`` lists the fields changed outside reconciler since the last apply; a change
whose own field changes overlap them reverts (or, setting yet another value, overwrites) that
outside change. :func:`reverting` finds those changes; the engine reads each object's change
history (``Provider.history``) and :func:`with_reverts` fills ``Change.reverts`` with who and
when (:mod:`reconciler.attribution`), for the renderers to say "reverts jdoe's change of ...".
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from typing import Any

from reconciler.attribution import attribute, overlapping
from reconciler.model import HistoryEntry
from reconciler.plan.model import Action, FieldChange, Plan

Pairs = list[tuple[FieldChange, FieldChange]]  # (the change's field, the drift's field)


def _plain(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def reverting(plan: Plan) -> dict[int, Pairs]:
    """Index of each change (update, replace, manual) that sets a field drift found changed."""
    outside = {c.address: c for c in plan.drift if c.action is Action.UPDATE}
    hits: dict[int, Pairs] = {}
    for index, change in enumerate(plan.changes):
        drifted = outside.get(change.address)
        if drifted is None or change.action not in (Action.UPDATE, Action.REPLACE, Action.MANUAL):
            continue
        pairs = [(fc, dfc) for fc in change.field_changes for dfc in drifted.field_changes
                 if overlapping(fc.path, dfc.path)]
        if pairs:
            hits[index] = pairs
    return hits


def with_reverts(plan: Plan, hits: Mapping[int, Pairs], histories: Mapping[int, Sequence[HistoryEntry]]) -> Plan:
    """``plan`` with ``Change.reverts`` filled from each object's history (empty: no names)."""
    if not hits:
        return plan
    changes = list(plan.changes)
    for index, pairs in hits.items():
        entries = histories.get(index, ())
        changes[index] = changes[index]._replace(reverts=tuple(
            attribute(fc.path, entries, overwrite=fc.path == dfc.path and _plain(fc.after) != _plain(dfc.before))
            for fc, dfc in pairs
        ))
    return dataclasses.replace(plan, changes=tuple(changes))
