"""Why a saved plan no longer fits the state: the message of ``apply FILE``'s refusal (exit 3).

A saved plan records the state's lineage and serial; ``apply FILE`` refuses it once another
write has moved them, before anything else is checked (guardrails, reads, writes), so the
refusal names the real reason. :func:`stale_reason` compares the plan with the state as it is
now and says what it can tell: the state replaced (another lineage) or rolled back, this plan
applied already in part (a run that stopped on a conflict or an error bumped the serial), objects
imported or created since, or else how many writes happened. Pure.
"""

from __future__ import annotations

from collections.abc import Mapping

from reconciler.apply.conflicts import same
from reconciler.model import resolve_refs
from reconciler.plan.model import Action, Plan
from reconciler.providers.base import Precondition, PreconditionKind
from reconciler.state.base import StateSnapshot

WAY_OUT = (
    "Plan again and apply the new plan ('reconciler plan --out FILE', then 'reconciler apply FILE'), "
    "or plan and apply in one step with 'reconciler apply' (add --force-conflicts to overwrite values "
    "another writer set since)."
)


def is_stale(plan: Plan, state: StateSnapshot) -> bool:
    return (state.lineage, state.serial) != (plan.lineage, plan.serial)


def stale_reason(plan: Plan, state: StateSnapshot) -> str:
    """``stale plan: <why>. <way out>`` for a plan whose lineage/serial no longer match."""
    numbers = f"(plan: serial {plan.serial}; state: serial {state.serial})"
    if not plan.lineage:
        why = ("the state did not exist when this plan was made, and something has written it since "
               f"(an apply or an import; state lineage {state.lineage}, serial {state.serial})")
    elif plan.lineage != state.lineage:
        why = (f"the state was replaced since this plan was made (lineage {plan.lineage}, now {state.lineage}: "
               "a 'state push --force', a migration from another state, or another workspace's state)")
    elif state.serial < plan.serial:
        why = (f"the state is older than this plan {numbers}: it was restored from a backup or pushed "
               "with --force since")
    else:
        why = _what_happened(plan, state) or (
            f"the state was written {state.serial - plan.serial} time(s) since this plan was made {numbers}: "
            "an apply (one that stopped on a conflict or an error counts), an import or a state command ran"
        )
    return f"stale plan: {why}. {WAY_OUT}"


def _what_happened(plan: Plan, state: StateSnapshot) -> str:
    """What the state says about the plan's own changes: applied already, or taken over since."""
    ids: Mapping[str, str] = {a: rs.remote_id for a, rs in state.resources.items()}
    applied: list[str] = []
    arrived: list[str] = []
    gone: list[str] = []
    for change in plan.changes:
        now = state.resources.get(change.address)
        if change.action in (Action.DELETE, Action.ABANDON):
            if now is None:
                gone.append(change.address)
            continue
        if change.action not in (Action.CREATE, Action.ADOPT, Action.UPDATE, Action.REPLACE) or now is None:
            continue
        wanted = resolve_refs(change.after or {}, ids, keep_unknown=True)
        matches = same({k: now.applied_spec.get(k) for k in wanted}, wanted)
        if change.action in (Action.CREATE, Action.ADOPT):  # not in the state when the plan was made
            (applied if matches else arrived).append(change.address)
        elif matches and _written_since(change.precondition, now.version):
            applied.append(change.address)
    parts = []
    if applied or gone:
        done = applied + gone
        it = "is already as this plan would leave it" if len(done) == 1 else "are already as this plan would leave them"
        parts.append(f"this plan was applied already, at least in part: {_names(done)} {it} (a run of this "
                     "plan that stopped on a conflict or an error still records what it did)")
    if arrived:
        parts.append(f"{_names(arrived)} entered the state since this plan was made (imported, or created "
                     "by another run)")
    return "; ".join(parts)


def _written_since(precondition: Precondition | None, version: int | None) -> bool:
    """Whether the recorded version is newer than the one the plan read (a write since: without
    versions, last-applied values alone cannot tell an applied update from a drift it reverts)."""
    if precondition is None or precondition.kind is not PreconditionKind.VERSION or version is None:
        return False
    return isinstance(precondition.value, int) and version > precondition.value


def _names(addresses: list[str]) -> str:
    shown = ", ".join(sorted(addresses)[:5])
    return shown + (f" and {len(addresses) - 5} more" if len(addresses) > 5 else "")
