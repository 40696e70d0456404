"""Renaming managed addresses without touching live objects: ``state mv`` and ``Moved`` documents.

Two ways to rename ``mediamath.Campaign/old`` to ``mediamath.Campaign/new``:

- imperatively, ``reconciler state mv OLD NEW`` (:func:`move_state`): the state entry is renamed
  at once, under the state lock; NEW must be declared in the manifests unless ``--force``;
- declaratively, a ``Moved`` document in the manifests (:mod:`reconciler.manifest.moved`), the
  way Terraform's ``moved`` block works: when planning, :func:`plan_moves` renames the state
  entries *in memory* before the plan builder sees them, so the resource keeps its remote id and
  plans as ``no-op`` (or ``update`` for real field differences), never ``create`` + ``delete``.
  :func:`annotate` records the moves in the plan (``Plan.options["moved"]``, which saved plans
  keep) and says ``X has moved to Y`` in the plan's messages; applying the plan renames the
  entries in the state for good (:func:`persist_moves`, after the stale-plan check).

Rules (as Terraform's): a move whose ``from`` is not in the state does nothing (already moved,
or never managed); chains ``a -> b -> c`` end at ``c``; when ``to`` is already managed under
another remote id the move is ignored with a warning; when ``to`` already holds the *same* remote
id (a rename interrupted between its two writes) the old entry is dropped. References recorded
as dependencies of other entries follow the rename. Nothing here calls a provider.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from reconciler.errors import InputError, StateError
from reconciler.manifest.moved import MovedEntry, final_targets
from reconciler.model import Address
from reconciler.plan.model import Plan
from reconciler.state.base import ResourceState, StateBackend, StateSnapshot

OPTION_KEY = "moved"


@dataclass(frozen=True)
class Move:
    """One rename of a state entry: the object keeps ``remote_id``."""

    source: str
    target: str
    remote_id: str

    def describe(self) -> str:
        return f"{self.source} has moved to {self.target} (remote id {self.remote_id}; nothing is created or deleted)"

    def to_json(self) -> dict[str, str]:
        return {"from": self.source, "to": self.target, "remote_id": self.remote_id}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Move:
        return cls(str(data["from"]), str(data["to"]), str(data["remote_id"]))


@dataclass(frozen=True)
class PlannedMoves:
    """The state as the moves leave it (in memory), the moves, and warnings about ignored ones."""

    snapshot: StateSnapshot
    moves: tuple[Move, ...] = ()
    warnings: tuple[str, ...] = ()


def plan_moves(snapshot: StateSnapshot, entries: Sequence[MovedEntry]) -> PlannedMoves:
    """Apply ``Moved`` entries to ``snapshot`` in memory (lineage and serial unchanged)."""
    if not entries:
        return PlannedMoves(snapshot)
    resources = dict(snapshot.resources)
    moves: list[Move] = []
    warnings: list[str] = []
    for source, (target, entry) in sorted(final_targets(entries).items(), key=lambda kv: str(kv[0])):
        old = resources.get(str(source))
        if old is None:
            continue
        existing = resources.get(str(target))
        if existing is not None and existing.remote_id != old.remote_id:
            warnings.append(
                f"{entry.location}: the move {source} -> {target} is ignored: {target} is already managed "
                f"(remote id {existing.remote_id}) and {source} still is too (remote id {old.remote_id}); "
                f"remove one of them with 'reconciler state rm' or delete the Moved document"
            )
            continue
        resources = _rename(resources, str(source), str(target))
        moves.append(Move(str(source), str(target), old.remote_id))
    renamed = StateSnapshot(lineage=snapshot.lineage, serial=snapshot.serial, resources=resources)
    return PlannedMoves(renamed, tuple(moves), tuple(warnings))


def annotate(plan: Plan, planned: PlannedMoves) -> Plan:
    """``plan`` carrying its moves: ``options["moved"]`` (kept by saved plans, read by apply) and
    one message per move (shown with the plan), plus ``moved from ...`` in the change's reason."""
    if not planned.moves and not planned.warnings:
        return plan
    by_target = {m.target: m for m in planned.moves}
    changes = tuple(
        c._replace(reason=f"moved from {by_target[c.address].source}; {c.reason}".rstrip("; "))
        if c.address in by_target
        else c
        for c in plan.changes
    )
    options = dict(plan.options)
    if planned.moves:
        options[OPTION_KEY] = [m.to_json() for m in planned.moves]
    messages = tuple(m.describe() for m in planned.moves) + planned.warnings
    return dataclasses.replace(
        plan, changes=changes, options=options, warnings=messages + tuple(plan.warnings)
    )


def moves_of(plan: Plan) -> tuple[Move, ...]:
    """The moves a (possibly saved and reloaded) plan carries."""
    raw = plan.options.get(OPTION_KEY) or []
    return tuple(Move.from_json(item) for item in raw)


def persist_moves(backend: StateBackend, moves: Sequence[Move]) -> list[str]:
    """Rename the state entries of ``moves`` for good (the caller holds the state lock).

    Each rename writes the new entry before forgetting the old one, so a crash in between leaves
    both with the same remote id, which the next plan or ``state mv`` finishes. Returns one line
    per rename done.
    """
    done: list[str] = []
    for move in moves:
        snapshot = backend.read()
        old = snapshot.get(move.source)
        if old is None:
            continue  # already renamed
        if old.remote_id != move.remote_id:
            raise StateError(
                f"cannot move {move.source} to {move.target}: the state now has remote id {old.remote_id} "
                f"there, the plan expected {move.remote_id}; run 'reconciler plan' again"
            )
        _rename_durably(backend, snapshot, old, move.target)
        done.append(f"{move.source} -> {move.target}: renamed in the state (remote id {move.remote_id})")
    return done


def move_state(
    backend: StateBackend,
    source: str,
    target: str,
    *,
    declared: Collection[str] | None,
) -> Move:
    """``reconciler state mv SOURCE TARGET`` (the caller holds the state lock).

    ``declared`` is the set of addresses the manifests declare (None with ``--force``): TARGET
    must be one of them, so the next plan does not delete what was just renamed.
    """
    old_address, new_address = _parse(source, "OLD"), _parse(target, "NEW")
    if old_address == new_address:
        raise InputError(f"OLD and NEW are the same address ({source})")
    if (old_address.provider, old_address.kind) != (new_address.provider, new_address.kind):
        raise InputError(
            f"state mv keeps the provider and kind: {old_address.provider}.{old_address.kind} cannot become "
            f"{new_address.provider}.{new_address.kind}"
        )
    snapshot = backend.read()
    old = snapshot.get(str(old_address))
    existing = snapshot.get(str(new_address))
    if old is None:
        if existing is not None:
            raise InputError(
                f"{source} is not in the state; {target} already is (remote id {existing.remote_id})"
            )
        raise InputError(f"{source} is not in the state (see 'reconciler state list')")
    if existing is not None and existing.remote_id != old.remote_id:
        raise InputError(
            f"{target} is already managed (remote id {existing.remote_id}); remove it first with "
            f"'reconciler state rm {target}' if that is intended"
        )
    if declared is not None and str(new_address) not in declared:
        raise InputError(
            f"{target} is not declared in the manifests, so the next plan would delete it: rename its "
            "manifest first (metadata.name), or pass --force"
        )
    _rename_durably(backend, snapshot, old, str(new_address))
    return Move(str(old_address), str(new_address), old.remote_id)


# -- helpers ------------------------------------------------------------------------------------
def _parse(text: str, what: str) -> Address:
    try:
        return Address.parse(text)
    except ValueError as exc:
        raise InputError(f"{what}: {exc}") from None


def _renamed_entry(rs: ResourceState, address: str) -> ResourceState:
    return dataclasses.replace(rs, address=address)


def _renamed_dependencies(rs: ResourceState, source: str, target: str) -> ResourceState:
    deps = tuple(sorted({target if d == source else d for d in rs.dependencies}))
    return dataclasses.replace(rs, dependencies=deps)


def _rename(resources: Mapping[str, ResourceState], source: str, target: str) -> dict[str, ResourceState]:
    """``resources`` with ``source`` renamed to ``target`` (and dependencies on it following)."""
    out: dict[str, ResourceState] = {}
    for address, rs in resources.items():
        if address == source:
            continue
        if source in rs.dependencies:
            rs = _renamed_dependencies(rs, source, target)
        out[address] = rs
    if target not in out:  # else: the same remote id is already there (an interrupted rename)
        out[target] = _renamed_entry(resources[source], target)
    return dict(sorted(out.items()))


def _rename_durably(backend: StateBackend, snapshot: StateSnapshot, old: ResourceState, target: str) -> None:
    if snapshot.get(target) is None:
        backend.record(_renamed_entry(old, target))
    backend.forget(old.address)
    for rs in backend.read().resources.values():
        if old.address in rs.dependencies:
            backend.record(_renamed_dependencies(rs, old.address, target))
