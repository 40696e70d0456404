"""Hand-built Plans for engine tests: small Change constructors and a minimal planner.

The real builder lives in ``reconciler.plan``; this one only knows what executor tests need
(field ownership, refs, immutable fields -> replace, version/fingerprint preconditions, deletes
of state entries no longer desired) so those tests do not depend on it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from reconciler.apply.conflicts import same
from reconciler.apply.resolve import UnresolvedReference, resolve_refs
from reconciler.model import Address, LiveObject, Ref, iter_refs
from reconciler.plan.model import Action, Change, FieldChange, Plan
from reconciler.providers.base import Precondition, PreconditionKind, Provider
from reconciler.state.base import StateBackend


@dataclass(frozen=True)
class Desired:
    address: str
    spec: Mapping[str, Any]
    prevent_destroy: bool = False
    depends_on: tuple[str, ...] = field(default=())

    @property
    def deps(self) -> tuple[str, ...]:
        return tuple(sorted({str(r.target) for r in iter_refs(self.spec)} | set(self.depends_on)))


def ref(address: str) -> Ref:
    return Ref(Address.parse(address))


def split(address: str) -> tuple[str, str]:
    a = Address.parse(address)
    return a.provider, a.kind


def create(address: str, spec: Mapping[str, Any], *, depends_on: Sequence[str] = ()) -> Change:
    provider, kind = split(address)
    deps = tuple(sorted({str(r.target) for r in iter_refs(spec)} | set(depends_on)))
    return Change(address, provider, kind, Action.CREATE, after=dict(spec), depends_on=deps,
                  precondition=Precondition(PreconditionKind.NONE),
                  field_changes=tuple(FieldChange(k, None, v) for k, v in sorted(spec.items())))


def update(
    address: str, live: LiveObject, after: Mapping[str, Any], provider: Provider,
    *, depends_on: Sequence[str] = (), precondition: Precondition | None = None,
) -> Change:
    """An update from ``live`` (as read at plan time) to ``after`` (owned fields only)."""
    prov, kind = split(address)
    before = {k: live.fields.get(k) for k in after}
    changes = tuple(FieldChange(k, before[k], v) for k, v in sorted(after.items()) if not same(before[k], v))
    deps = tuple(sorted({str(r.target) for r in iter_refs(after)} | set(depends_on)))
    return Change(address, prov, kind, Action.UPDATE, remote_id=live.remote_id, before=before, after=dict(after),
                  field_changes=changes, precondition=precondition or provider.precondition_for(live),
                  depends_on=deps)


def delete(
    address: str, live: LiveObject, provider: Provider, *, depends_on: Sequence[str] = (),
    owned: Sequence[str] | None = None, prevent_destroy: bool = False,
) -> Change:
    prov, kind = split(address)
    keys = owned if owned is not None else sorted(live.fields)
    return Change(address, prov, kind, Action.DELETE, remote_id=live.remote_id,
                  before={k: live.fields.get(k) for k in keys}, precondition=provider.precondition_for(live),
                  depends_on=tuple(depends_on), reason="not in manifests", prevent_destroy=prevent_destroy)


def make_plan(state: StateBackend, *changes: Change) -> Plan:
    snap = state.read()
    return Plan(snap.lineage, snap.serial, tuple(changes))


def plan_for(desired: Sequence[Desired], state: StateBackend, providers: Mapping[str, Provider]) -> Plan:
    """Diff ``desired`` (in dependency order) against state + live objects."""
    snap = state.read()
    ids = {a: r.remote_id for a, r in snap.resources.items()}
    changes: list[Change] = []
    for d in desired:
        prov_name, kind = split(d.address)
        provider = providers[prov_name]
        known = snap.get(d.address)
        live = provider.read(kind, [known.remote_id]).get(known.remote_id) if known else None
        if live is None:
            changes.append(replace_flags(create(d.address, d.spec, depends_on=d.depends_on), d))
            continue
        try:
            wanted: dict[str, Any] | None = provider.normalize(kind, resolve_refs(d.spec, ids))
        except UnresolvedReference:
            wanted = None  # a parent is not created yet: its id will differ
        before = {k: live.fields.get(k) for k in d.spec}
        diffs = tuple(
            FieldChange(k, before[k], d.spec[k])
            for k in sorted(d.spec)
            if wanted is None or not same(wanted[k], live.fields.get(k))
        )
        immutable = provider.kinds[kind].immutable_fields
        replace_paths = tuple(fc.path for fc in diffs if fc.path in immutable)
        action = Action.REPLACE if replace_paths else Action.UPDATE if diffs else Action.NOOP
        changes.append(Change(
            d.address, prov_name, kind, action, remote_id=live.remote_id, before=before, after=dict(d.spec),
            field_changes=diffs, precondition=provider.precondition_for(live), depends_on=d.deps,
            replace_paths=replace_paths, prevent_destroy=d.prevent_destroy,
        ))
    wanted_addresses = {d.address for d in desired}
    for address, rs in sorted(snap.resources.items(), reverse=True):
        if address in wanted_addresses:
            continue
        provider = providers[rs.provider]
        live = provider.read(rs.kind, [rs.remote_id]).get(rs.remote_id)
        if live is None:
            changes.append(Change(address, rs.provider, rs.kind, Action.ABANDON, remote_id=rs.remote_id,
                                  reason="already deleted outside reconciler"))
            continue
        changes.append(delete(address, live, provider, depends_on=rs.dependencies,
                              owned=sorted(rs.applied_spec), prevent_destroy=rs.prevent_destroy))
    return Plan(snap.lineage, snap.serial, tuple(changes))


def replace_flags(change: Change, d: Desired) -> Change:
    return change._replace(prevent_destroy=d.prevent_destroy)
