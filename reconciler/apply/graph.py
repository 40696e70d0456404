"""The order apply walks a plan in: which change waits for which, and which failure skips what.

- A create/update/replace/adopt/no-op waits for the changes of the resources it depends on;
  if one of them did not apply, it is skipped.
- Deletes run after every other change (so an object is moved out of a parent before the parent
  goes), and in reverse dependency order: a delete waits for the deletes of the resources that
  depend on it, and is skipped if one of those did not apply.

Dependencies on addresses that have no change in the plan are already satisfied.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from reconciler.errors import PlanError
from reconciler.plan.model import Action, Change


@dataclass(frozen=True)
class ApplyGraph:
    order: tuple[str, ...]  # plan order: ready changes start in this order
    waits: dict[str, frozenset[str]]  # address -> changes that must finish first
    blockers: dict[str, frozenset[str]]  # address -> changes whose failure skips it


def build_graph(changes: Sequence[Change]) -> ApplyGraph:
    by_address: dict[str, Change] = {}
    for change in changes:
        if change.address in by_address:
            raise PlanError(f"the plan has two changes for {change.address}")
        by_address[change.address] = change
    deletes = [c for c in changes if c.action is Action.DELETE]
    others = [c for c in changes if c.action is not Action.DELETE]
    other_addresses = frozenset(c.address for c in others)
    waits: dict[str, frozenset[str]] = {}
    blockers: dict[str, frozenset[str]] = {}
    for change in others:
        deps = frozenset(d for d in change.depends_on if d in other_addresses and d != change.address)
        waits[change.address] = deps
        blockers[change.address] = deps
    for change in deletes:
        dependents = frozenset(
            d.address for d in deletes if change.address in d.depends_on and d.address != change.address
        )
        waits[change.address] = dependents | other_addresses
        blockers[change.address] = dependents
    return ApplyGraph(tuple(c.address for c in changes), waits, blockers)
