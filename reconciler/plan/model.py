"""The Plan: an immutable, serialisable list of changes, in execution order.

Built by ``reconciler.plan.builder`` (pure: no I/O), rendered by ``reconciler.plan.render``,
saved/loaded by ``reconciler.plan.planfile``, executed by ``reconciler.apply``. Rendering and
executing walk the same ``changes`` so ``plan`` output and ``apply`` behaviour cannot disagree.

JSON form of values: a :class:`~reconciler.model.Ref` is ``{"$ref": "provider.Kind/name"}``;
everything else is plain JSON.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, NamedTuple

from reconciler.attribution import Attribution
from reconciler.model import Address, Ref
from reconciler.providers.base import Precondition


class Action(StrEnum):
    CREATE = "create"
    UPDATE = "update"
    REPLACE = "replace"  # an immutable field changed: delete + create, said loudly
    DELETE = "delete"
    NOOP = "no-op"
    ADOPT = "adopt"  # take an existing live object into state without writing it
    MANUAL = "manual"  # the API cannot do it; a human must (the step is in ``manual_steps``)
    ABANDON = "abandon"  # forget from state, leave the live object (on_delete: abandon / undeletable)

    @property
    def writes(self) -> bool:
        return self in (Action.CREATE, Action.UPDATE, Action.REPLACE, Action.DELETE)

    @property
    def symbol(self) -> str:
        return {
            Action.CREATE: "+",
            Action.UPDATE: "~",
            Action.REPLACE: "-/+",
            Action.DELETE: "-",
            Action.NOOP: " ",
            Action.ADOPT: "<=",
            Action.MANUAL: "!",
            Action.ABANDON: "x",
        }[self]


@dataclass(frozen=True)
class FieldChange:
    """One field's difference: ``path`` is dotted (``total_budget``, ``members.0.purposes``)."""

    path: str
    before: Any
    after: Any


class Change(NamedTuple):
    """What will happen to one resource.

    An immutable named tuple rather than a frozen dataclass: a plan holds one per resource
    (100,000 for a large account) and a tuple is built four times faster. Copy with changes
    through ``change._replace(...)``.

    - ``before``: the live object's owned fields (normalised), None for creates.
    - ``after``: the desired spec (Refs kept: an id not known until apply), None for deletes.
    - ``precondition``: what the write will check (version read at plan time, or fingerprint).
    - ``reason``: why (``no changes``, ``immutable field 'type' changed``, ``not in manifests``).
    - ``deactivates``: the API has no delete for this kind: a delete (or the delete half of a
      replace) sets ``status=0`` and forgets the object (MediaMath); plan and apply say
      "deactivate", never "delete".
    - ``lifecycle``: for a no-op, the lifecycle settings apply records in state although the live
      object does not change (``prevent_destroy true``): a change of its own, counted and shown.
    - ``reverts``: fields this change sets back (or over) a change made outside reconciler
      since the last apply, with who and when where the API keeps history (on ``Plan.drift``
      entries: who made each change). Filled by the engine after the pure build.
    """

    address: str
    provider: str
    kind: str
    action: Action
    remote_id: str | None = None
    before: Mapping[str, Any] | None = None
    after: Mapping[str, Any] | None = None
    field_changes: tuple[FieldChange, ...] = ()
    precondition: Precondition | None = None
    depends_on: tuple[str, ...] = ()
    reason: str = ""
    replace_paths: tuple[str, ...] = ()
    status: str | None = None
    manual_steps: tuple[str, ...] = ()
    prevent_destroy: bool = False
    on_delete: str | None = None
    deactivates: bool = False
    lifecycle: tuple[str, ...] = ()
    reverts: tuple[Attribution, ...] = ()

    @property
    def addr(self) -> Address:
        return Address.parse(self.address)


@dataclass(frozen=True)
class Plan:
    """Changes in execution order: creates/updates follow dependencies, deletes come last, reversed.

    ``lineage``/``serial`` are the state's at planning time (``apply FILE`` refuses a plan whose
    numbers no longer match). ``drift`` lists managed objects changed outside reconciler since the
    last apply (Terraform's ``resource_drift``). ``warnings`` are shown but do not fail the plan.
    """

    lineage: str
    serial: int
    changes: tuple[Change, ...]
    drift: tuple[Change, ...] = ()
    warnings: tuple[str, ...] = ()
    targets: tuple[str, ...] = ()
    options: Mapping[str, Any] = field(default_factory=dict)

    @property
    def has_changes(self) -> bool:
        """Anything to do: a write, an adopt/abandon, a manual step, a ``Moved`` rename, or a
        lifecycle setting to record in state."""
        return bool(self.options.get("moved")) or any(
            c.action is not Action.NOOP or c.lifecycle for c in self.changes
        )

    def counts(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for c in self.changes:
            out[c.action.value] = out.get(c.action.value, 0) + 1
        return out


def value_to_json(value: Any) -> Any:
    """Plain-JSON form of a spec value (Refs become ``{"$ref": address}``)."""
    if isinstance(value, Ref):
        return {"$ref": str(value.target)}
    if isinstance(value, Mapping):
        return {str(k): value_to_json(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [value_to_json(v) for v in value]
    return value


def value_from_json(value: Any) -> Any:
    if isinstance(value, Mapping):
        if set(value) == {"$ref"}:
            return Ref(Address.parse(str(value["$ref"])))
        return {k: value_from_json(v) for k, v in value.items()}
    if isinstance(value, list):
        return [value_from_json(v) for v in value]
    return value
