"""Replacing ``{ref: Kind/name}`` values in a desired spec with remote ids known at apply time.

A plan keeps :class:`~reconciler.model.Ref` values where the id is not known yet (a parent
created earlier in the same run); apply resolves them against the state as it is *now*.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from reconciler.errors import PlanError
from reconciler.model import Ref


class UnresolvedReference(PlanError):
    """A spec refers to a resource that has no remote id in state (it was not created)."""

    def __init__(self, target: str) -> None:
        super().__init__(f"reference to {target} cannot be resolved: it has no remote id in state")
        self.target = target


def resolve_refs(value: Any, ids: Mapping[str, str]) -> Any:
    """A copy of ``value`` with every Ref replaced by the target's remote id."""
    if isinstance(value, Ref):
        target = str(value.target)
        if target not in ids:
            raise UnresolvedReference(target)
        return ids[target]
    if isinstance(value, Mapping):
        return {str(k): resolve_refs(v, ids) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [resolve_refs(v, ids) for v in value]
    return value
