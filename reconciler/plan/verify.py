"""What a saved plan may do, checked against the state it is applied to (``apply FILE``).

A saved plan is the approval of a pull request, but it is only a file: its integrity hash
(:mod:`reconciler.plan.planfile`) catches edits, not a plan written by someone who recomputed
it. So before anything is sent, every change is held against the current state (which has the
plan's lineage and serial, else the plan is stale):

- a change to an address the state manages must name the state's remote id for it (never another
  object, say an unmanaged campaign);
- a change to an address the state does not manage may only create, or adopt an object no other
  address manages; it may not update, delete, replace or record a remote id the state never had;
- a remote id the state records for one address is never written through another;
- deleting or replacing an object the state marks ``prevent_destroy`` is refused, whatever the
  plan's own flag says.

The plan's ``Moved`` renames are taken into account (the state as they leave it). Pure: reads
the snapshot it is given, returns the problems.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from reconciler.plan.model import Action, Change, Plan
from reconciler.state.base import ResourceState, StateSnapshot

if TYPE_CHECKING:
    from reconciler.moves import Move

_DESTROYS = (Action.DELETE, Action.REPLACE)


def saved_plan_problems(plan: Plan, state: StateSnapshot, moves: Sequence[Move] = ()) -> list[str]:
    """One line per change the state does not allow (empty when the plan may be applied)."""
    resources = dict(state.resources)
    for move in moves:
        old = resources.get(move.source)
        if old is not None and old.remote_id == move.remote_id:
            resources[move.target] = resources.pop(move.source)
    owners = {(rs.provider, rs.kind, rs.remote_id): address for address, rs in resources.items()}
    problems: list[str] = []
    for change in plan.changes:
        problem = _problem(change, resources.get(change.address), owners)
        if problem:
            problems.append(f"{change.address} ({change.action.value}): {problem}")
    return problems


def _problem(change: Change, known: ResourceState | None, owners: dict[tuple[str, str, str], str]) -> str:
    rid = change.remote_id
    if known is not None:
        if rid is not None and rid != known.remote_id:
            return f"the plan points it at remote id {rid}, but the state manages it as remote id {known.remote_id}"
        if change.action in _DESTROYS and known.prevent_destroy:
            return "the state marks it lifecycle.prevent_destroy; a saved plan cannot delete or replace it"
        return ""
    if rid is None:
        return ""
    owner = owners.get((change.provider, change.kind, rid))
    if owner is not None:
        return f"remote id {rid} is managed by {owner} in the state"
    if change.action is not Action.ADOPT:
        return f"the state does not manage it, so the plan cannot {change.action.value} remote id {rid}"
    return ""
