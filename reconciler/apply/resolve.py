"""Replacing ``{ref: Kind/name}`` values in a desired spec with remote ids known at apply time.

A plan keeps :class:`~reconciler.model.Ref` values where the id is not known yet (a parent
created earlier in the same run); apply resolves them against the state as it is *now*.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from reconciler import model
from reconciler.errors import PlanError


class UnresolvedReference(PlanError):
    """A spec refers to a resource that has no remote id in state (it was not created)."""

    def __init__(self, target: str) -> None:
        super().__init__(f"reference to {target} cannot be resolved: it has no remote id in state")
        self.target = target


def resolve_refs(value: Any, ids: Mapping[str, str]) -> Any:
    """A copy of ``value`` with every Ref replaced by the target's remote id."""
    try:
        return model.resolve_refs(value, ids)
    except KeyError as missing:
        raise UnresolvedReference(str(missing.args[0])) from None
