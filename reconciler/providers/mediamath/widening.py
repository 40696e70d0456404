"""Targeting guardrail on MediaMath plans: a change that widens what a strategy buys is said first.

``MediaMathProvider.check_plan`` runs :func:`check_widening` beside the money checks
(:mod:`.guardrails`). Its findings are WARNINGS, shown at the top of the plan; the plan goes
ahead (targeting can be narrowed again, spend cannot be unspent, but a widened strategy spends
its budget on everything until someone notices):

- **Every include of a dimension removed**: a ``StrategyTargeting`` update (or adoption) that
  leaves a dimension's (or the audience's) ``include`` empty where it held values (``region: {include: [US-CA]}``
  becoming ``region: {}``): the strategy then buys in every region not excluded.
- **Targeting of an active strategy cleared**: deleting a ``StrategyTargeting`` (``on_delete:
  delete`` empties every dimension) whose strategy is active live and is not itself deactivated
  by the same plan.

The strategies' status is read (one batched read) only when the plan deletes a targeting.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from reconciler.model import LiveObject
from reconciler.providers.base import Finding, PlannedWrite, Severity
from reconciler.providers.mediamath.domains import DOMAINS
from reconciler.providers.mediamath.targeting import KIND as TARGETING
from reconciler.providers.mediamath.targeting import LIST_KEYS, SETS

StrategyLookup = Callable[[list[str]], Mapping[str, LiveObject]]
_NOUNS: Mapping[str, str] = {DOMAINS: "domain"}  # what a block's values are, where not its name


def check_widening(writes: Sequence[PlannedWrite], strategies: StrategyLookup) -> list[Finding]:
    """The WARNING findings for ``writes`` (see the module docstring), sorted."""
    findings: list[Finding] = []
    for write in writes:
        if write.kind == TARGETING and write.action in ("update", "adopt"):
            findings.extend(_includes_removed(write))
    deletes = [w for w in writes if w.kind == TARGETING and w.action == "delete" and w.remote_id]
    if deletes:
        stopping = _strategies_stopped(writes)
        live = strategies(sorted({str(w.remote_id) for w in deletes}, key=int))
        for write in deletes:
            strategy = live.get(str(write.remote_id))
            if strategy is None or strategy.fields.get("status") is not True or strategy.remote_id in stopping:
                continue
            held = _held(write.before)
            if held:
                name = strategy.fields.get("name") or strategy.remote_id
                findings.append(Finding(write.address, Severity.WARNING, (
                    f"clears the targeting of active strategy '{name}' (id {strategy.remote_id}): it then buys "
                    f"everywhere ({'; '.join(held)} dropped)")))
    unique = {(f.address, f.message): f for f in findings}
    return [unique[k] for k in sorted(unique)]


def _includes_removed(write: PlannedWrite) -> list[Finding]:
    out = []
    for name in sorted(SETS):
        if name not in write.after:
            continue  # a dimension the manifest does not write is left alone
        was = _values(write.before.get(name), "include")
        now = _values(write.after.get(name), "include")
        if was and not now:
            out.append(Finding(write.address, Severity.WARNING, (
                f"removes every {name} include ({', '.join(was)}): the strategy then buys in every "
                f"{_NOUNS.get(name, name)} not excluded")))
    return out


def _held(fields: Mapping[str, Any]) -> list[str]:
    """``region include US-CA, US-NY`` (``deals ACME-PREMIUM``) per non-empty list of a live targeting."""
    out = []
    for name in sorted((*SETS, *LIST_KEYS)):
        if name in LIST_KEYS:
            values = sorted(str(v) for v in fields.get(name) or ())
            if values:
                out.append(f"{name} {', '.join(values)}")
            continue
        for lst in ("include", "exclude"):
            values = _values(fields.get(name), lst)
            if values:
                out.append(f"{name} {lst} {', '.join(values)}")
    return out


def _values(lists: Any, lst: str) -> list[str]:
    if not isinstance(lists, Mapping):
        return []
    return sorted(str(v) for v in lists.get(lst) or ())


def _strategies_stopped(writes: Sequence[PlannedWrite]) -> set[str]:
    """Strategies this plan deactivates (deletes, or sets ``status`` false)."""
    return {
        str(w.remote_id) for w in writes
        if w.kind == "Strategy" and w.remote_id
        and (w.action == "delete" or (w.action == "update" and w.after.get("status") is False))
    }
