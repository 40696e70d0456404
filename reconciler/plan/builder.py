"""The plan builder: desired resources + state + live objects -> :class:`Plan`. Pure, no I/O.

Everything the builder needs comes in through :class:`PlanInput` (the caller has already loaded
manifests, read state and refreshed live objects); what it may ask a provider goes through the
pure callables of :class:`ProviderView`. The same input always gives the same plan.

Per desired resource, in the given (dependency) order:

- not in state: ``create`` (precondition ``none``), or ``adopt`` when ``found`` holds an object
  located by natural key (:mod:`reconciler.lookup`), with the fields apply will then update (or
  the console steps for them); a read-only kind that was not found is a :class:`PlanError`;
- in state but the live object is gone: ``create`` ("deleted outside reconciler");
- owned fields differ: ``update`` guarded by ``precondition_for(live)``; a changed immutable
  field makes it ``replace`` (refused under ``prevent_destroy``); when the provider answers
  ``manual_steps`` the action is ``manual``;
- otherwise ``no-op`` with a reason.

Then every state address no longer desired (or all of them for ``destroy``), in reverse
dependency order: ``delete``, or ``abandon`` for ``on_delete: abandon``, undeletable and
read-only kinds, and objects already gone. ``prevent_destroy`` recorded in state refuses a
delete even when the YAML was removed. ``Plan.drift`` lists managed objects whose live owned
fields differ from the last-applied spec.

References resolve to the target's remote id from state (or from ``found``) unless the target
is being created or replaced in this plan; then the :class:`Ref` stays (``known after apply``).
"""

from __future__ import annotations

import heapq
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from operator import attrgetter
from typing import Any, NamedTuple

from reconciler.diff import (
    FieldDiffer,
    compare_owned,
    contains_ref,
    owned_template,
    project,
    top_level_fields,
)
from reconciler.errors import PlanError
from reconciler.gcpause import gc_paused
from reconciler.model import DesiredResource, LiveObject, OnDelete, Ref, resolve_refs
from reconciler.plan.model import Action, Change, FieldChange, Plan
from reconciler.plan.zones import in_live_zone
from reconciler.providers.base import KindInfo, ManualStep, Precondition, PreconditionKind, Provider
from reconciler.state.base import ResourceState, StateSnapshot

ManualStepsFn = Callable[[str, str, str, Mapping[str, Any], "Mapping[str, Any] | None"], "list[ManualStep] | None"]


_REMOTE_ID = attrgetter("remote_id")
_ADDRESS = attrgetter("address")


@dataclass(frozen=True)
class ProviderView:
    """What the builder may ask a provider: pure callables, no I/O."""

    kind_info: Callable[[str], KindInfo]
    normalize: Callable[[str, Mapping[str, Any]], dict[str, Any]]
    precondition_for: Callable[[LiveObject], Precondition]
    manual_steps: ManualStepsFn
    keep_reason: Callable[[str, LiveObject], str | None] = lambda kind, live: None

    @classmethod
    def of(cls, provider: Provider) -> ProviderView:
        """The view of a real provider (its ``kinds`` table and pure hooks)."""

        def kind_info(kind: str) -> KindInfo:
            try:
                return provider.kinds[kind]
            except KeyError:
                known = ", ".join(sorted(provider.kinds))
                raise PlanError(f"provider '{provider.name}' has no kind '{kind}' (known: {known})") from None

        return cls(kind_info, provider.normalize, provider.precondition_for, provider.manual_steps, provider.keep_reason)


@dataclass(frozen=True)
class PlanInput:
    """Everything a plan is built from.

    - ``desired``: loaded resources, already in dependency order.
    - ``live``: by address, for every in-scope address in state (None: the object is gone).
    - ``found``: objects located by natural key for desired resources not in state (or gone):
      they are adopted.
    - ``targets``: if set, only these addresses (the caller has added their dependencies).
    - ``destroy``: plan the deletion of everything in state.
    - ``differ``: the field differ (its ``deepdiff_calls`` counter shows the fast path held).
    """

    desired: Sequence[DesiredResource]
    state: StateSnapshot
    live: Mapping[str, LiveObject | None]
    found: Mapping[str, LiveObject]
    providers: Mapping[str, ProviderView]
    targets: tuple[str, ...] = ()
    destroy: bool = False
    differ: FieldDiffer = field(default_factory=FieldDiffer, compare=False)


@gc_paused()  # a few acyclic values per resource: the cyclic collector would find nothing
def build_plan(inp: PlanInput) -> Plan:
    """Build the plan for ``inp``. Raises :class:`PlanError` when the plan itself is refused."""
    return _Builder(inp).build()


def _steps_text(steps: Sequence[ManualStep]) -> tuple[str, ...]:
    return tuple(s.description for s in steps)


class _Builder:
    def __init__(self, inp: PlanInput) -> None:
        self.inp = inp
        self.differ = inp.differ
        self.warnings: list[str] = []
        self.targets = frozenset(inp.targets)
        # remote ids known before apply; creates/replaces remove theirs as they are planned
        resources = inp.state.resources
        self.known_ids: dict[str, str] = dict(zip(resources, map(_REMOTE_ID, resources.values()), strict=True))
        self.known_ids.update({a: o.remote_id for a, o in inp.found.items()})
        self.desired_by_addr: dict[str, DesiredResource] = {}
        self.state_resources = inp.state.resources
        self.kinds: dict[tuple[str, str], tuple[ProviderView, KindInfo]] = {}
        # per address compared with live: resolved spec, owned template, live projection; drift
        # reuses them when the last-applied spec is the desired one (the common, unchanged case)
        self.compared_spec: dict[str, Mapping[str, Any]] = {}
        self.compared_template: dict[str, dict[str, Any]] = {}
        self.compared_live: dict[str, Any] = {}
        # addresses whose drift check is settled by the comparison: last-applied spec == desired
        # spec and live projection == template (drift finds nothing for them)
        self.drift_clean: set[str] = set()
        self.desired_addrs = list(map(str, map(_ADDRESS, inp.desired)))  # str(d.address), in order
        self.desired_by_addr.update(zip(self.desired_addrs, inp.desired, strict=True))
        if len(self.desired_by_addr) < len(self.desired_addrs):  # a duplicate: name the first
            seen: dict[str, DesiredResource] = {}
            for addr, d in zip(self.desired_addrs, inp.desired, strict=True):
                if addr in seen:
                    raise PlanError(f"{addr}: declared twice ({seen[addr].location} and {d.location})")
                seen[addr] = d

    # -- helpers --------------------------------------------------------------------------------
    def in_scope(self, address: str) -> bool:
        return not self.targets or address in self.targets

    def view(self, provider: str, address: str) -> ProviderView:
        try:
            return self.inp.providers[provider]
        except KeyError:
            raise PlanError(f"{address}: no provider '{provider}' is configured") from None

    def live_of(self, address: str) -> LiveObject | None:
        if address not in self.inp.live:
            raise PlanError(f"{address}: is in state but was not refreshed (no live read was given)")
        return self.inp.live[address]

    def resolve(self, value: Any) -> Any:
        return resolve_refs(value, self.known_ids, keep_unknown=True)

    def kind_view(self, provider: str, kind: str, address: str) -> tuple[ProviderView, KindInfo]:
        """The provider view and kind info of ``provider.kind`` (looked up once per kind: pure)."""
        key = (provider, kind)
        found = self.kinds.get(key)
        if found is None:
            view = self.view(provider, address)
            found = self.kinds[key] = (view, view.kind_info(kind))
        return found

    def template(
        self,
        view: ProviderView,
        info: KindInfo,
        spec: Mapping[str, Any],
        ignore: Sequence[str],
        ref_keys: Sequence[str] | None = None,
        live: LiveObject | None = None,
    ) -> dict[str, Any]:
        """Owned, normalised template of a resolved spec (fields still holding a Ref kept raw).

        ``ref_keys``: the keys of ``spec`` still holding a Ref, when the caller knows them.
        ``live``: the object it is compared with. Where the kind reads times without an offset
        in a zone field (``KindInfo.zone_field``) that the spec leaves out, they are read in the
        live object's zone, as apply sends them: a hand-written ``2026-12-01T00:00:00`` of a New
        York campaign is midnight in New York, not in UTC.
        """
        spec = in_live_zone(info, view.normalize, spec, live)
        if ref_keys is None:
            ref_keys = [k for k, v in spec.items() if contains_ref(v)]
        if ref_keys:
            plain = {k: v for k, v in spec.items() if k not in ref_keys}
            normalized = dict(view.normalize(info.name, plain))
            for k in ref_keys:
                normalized[k] = spec[k]
        else:
            normalized = view.normalize(info.name, spec)
            if type(normalized) is not dict or normalized is spec:
                normalized = dict(normalized)
        # ``normalized`` is this call's own dict: nothing to drop means nothing to copy
        write_only = info.write_only_fields
        if ignore or (write_only and not write_only.isdisjoint(normalized)):
            return owned_template(normalized, ignore, write_only)
        return normalized

    # -- the plan -------------------------------------------------------------------------------
    def build(self) -> Plan:
        inp = self.inp
        changes: list[Change] = []
        if not inp.destroy:
            targets = self.targets
            plan_desired = self.plan_desired
            for d, addr in zip(inp.desired, self.desired_addrs, strict=True):
                if not targets or addr in targets:
                    changes.append(plan_desired(d, addr))
        removals = self.plan_removals()
        changes.extend(removals)
        if inp.destroy:
            self.warnings.extend(self.left_behind(removals))
        drift = self.plan_drift()
        if self.targets:
            known = set(self.desired_by_addr) | set(inp.state.resources)
            for t in sorted(self.targets - known):
                self.warnings.append(f"target {t} matches no resource in the manifests or the state")
        return Plan(
            lineage=inp.state.lineage,
            serial=inp.state.serial,
            changes=tuple(changes),
            drift=drift,
            warnings=tuple(self.warnings),
            targets=tuple(sorted(self.targets)),
            options={"destroy": inp.destroy},
        )

    def resolved(self, d: DesiredResource) -> tuple[dict[str, Any], list[str], tuple[str, ...]]:
        """(``resolve(d.spec)``, the keys still holding a Ref (target not created yet), depends_on)."""
        raw = d.spec
        keys = d.ref_keys
        if keys is None:  # not plain JSON: resolve the whole spec
            if not contains_ref(raw):
                return dict(raw), [], ()
            spec = self.resolve(raw)
            return spec, [k for k, v in spec.items() if contains_ref(v)], tuple(map(str, d.references))
        spec = dict(raw)
        if not keys:
            return spec, [], ()
        # resolving copies every other value to an equal one: resolve only these
        left: list[str] = []
        for k in keys:
            value = spec[k] = self.resolve(raw[k])
            if contains_ref(value):
                left.append(k)
        ref = raw[keys[0]]
        if len(keys) == 1 and type(ref) is Ref:  # one bare reference (the common case)
            return spec, left, (str(ref.target),)
        return spec, left, tuple(map(str, d.references))

    def plan_desired(self, d: DesiredResource, addr: str) -> Change:
        address = d.address
        provider, kind = address.provider, address.kind
        view, info = self.kind_view(provider, kind, addr)
        spec, left, depends_on = self.resolved(d)
        rs = self.state_resources.get(addr)
        lifecycle = d.lifecycle
        on_delete = lifecycle.on_delete.value if lifecycle.on_delete else None
        base = _Common(addr, provider, kind, depends_on, lifecycle.prevent_destroy, on_delete)
        live = None
        if rs is not None:
            all_live = self.inp.live
            live = all_live[addr] if addr in all_live else self.live_of(addr)
        if live is None:
            found = self.inp.found.get(addr)
            if found is not None:
                return self.adopt(base, view, info, d, spec, found)
            if info.read_only:
                key = ", ".join(f"{k}={spec.get(k)!r}" for k in info.natural_key)
                gone = "no longer exists" if rs is not None else "was not found"
                raise PlanError(
                    f"{addr}: {info.name} is read-only (looked up, never created) and {gone} ({key})"
                )
            self.known_ids.pop(addr, None)
            reason = "deleted outside reconciler" if rs is not None else "not in state"
            return self.create(base, view, info, spec, reason)
        assert rs is not None
        template = self.template(view, info, spec, lifecycle.ignore_changes, left, live)
        before, diffs = compare_owned(template, live.fields, self.differ, info.list_keys)
        if spec == rs.applied_spec and before == template and rs.provider == provider and rs.kind == kind:
            # what drift would find for it: nothing (its kind is known, so drift cannot fail on it)
            self.drift_clean.add(addr)
        else:  # drift reuses these (three flat maps: fewer objects for the garbage collector)
            self.compared_spec[addr] = spec
            self.compared_template[addr] = template
            self.compared_live[addr] = before
        if not diffs and not info.read_only:  # the common case, built in one step
            return self.noop(base, d, rs, remote_id=rs.remote_id, before=before, after=spec, status=live.status)
        common = base.extend(remote_id=rs.remote_id, before=before, after=spec, status=live.status)
        if info.read_only:
            if diffs:
                self.warn_read_only(addr, info, diffs)
            return common.change(Action.NOOP, reason="read-only kind: looked up, never written")
        if not diffs:
            return self.noop(common, d, rs)
        kept = view.keep_reason(kind, live)
        if kept:
            fields = ", ".join(top_level_fields(diffs))
            raise PlanError(
                f"{addr}: reconciler will not change {fields} of it: {kept}; change it in the console if you must"
            )
        precondition = view.precondition_for(live)
        replace_paths = tuple(p for p in top_level_fields(diffs) if p in info.immutable_fields)
        if replace_paths:
            if rs.prevent_destroy or d.lifecycle.prevent_destroy:
                raise PlanError(
                    f"{addr}: changing immutable field(s) {', '.join(replace_paths)} needs delete and "
                    "re-create, but lifecycle.prevent_destroy is set; set it to false first or revert the change"
                )
            self.known_ids.pop(addr, None)
            fields = ", ".join(f"'{p}'" for p in replace_paths)
            manual = _manual(
                common, view, info, Action.REPLACE, spec, live.fields,
                f"immutable field {fields} changed and the API cannot replace it",
                field_changes=diffs, precondition=precondition, replace_paths=replace_paths,
            )
            return manual or common.change(
                Action.REPLACE,
                field_changes=diffs,
                precondition=precondition,
                replace_paths=replace_paths,
                reason=f"immutable field {fields} changed",
                deactivates=info.deactivates,
            )
        changed = {k: spec.get(k) for k in top_level_fields(diffs)}
        manual = _manual(
            common, view, info, Action.UPDATE, changed, live.fields, "the API cannot make this update",
            field_changes=diffs, precondition=precondition,
        )
        n = len(top_level_fields(diffs))
        return manual or common.change(
            Action.UPDATE,
            field_changes=diffs,
            precondition=precondition,
            reason=f"{n} field{'s differ' if n != 1 else ' differs'}",
        )

    def create(
        self, base: _Common, view: ProviderView, info: KindInfo, spec: Mapping[str, Any], reason: str
    ) -> Change:
        diffs = tuple(FieldChange(k, None, spec[k]) for k in sorted(spec))
        common = base.extend(after=spec)
        manual = _manual(
            common, view, info, Action.CREATE, spec, None, f"{reason}; the API cannot create it", field_changes=diffs
        )
        return manual or common.change(
            Action.CREATE,
            field_changes=diffs,
            precondition=Precondition(PreconditionKind.NONE),
            reason=reason,
        )

    def adopt(
        self,
        base: _Common,
        view: ProviderView,
        info: KindInfo,
        d: DesiredResource,
        spec: Mapping[str, Any],
        found: LiveObject,
    ) -> Change:
        """An object that exists live although the state does not know it: adopted, then updated
        where it differs from the manifest (the update is part of the same change; a provider
        that cannot make it lists the console steps instead)."""
        addr = base.address
        self.known_ids[addr] = found.remote_id
        template = self.template(view, info, spec, d.lifecycle.ignore_changes, live=found)
        before, diffs = compare_owned(template, found.fields, self.differ, info.list_keys)
        reason = "exists already: found live by its natural key"
        steps: tuple[str, ...] = ()
        if diffs and info.read_only:
            self.warn_read_only(addr, info, diffs)
            diffs = ()
        elif diffs:
            fields = top_level_fields(diffs)
            manual = view.manual_steps(info.name, Action.UPDATE.value, addr, {k: spec.get(k) for k in fields}, dict(found.fields))
            steps = _steps_text(manual) if manual else ()
            n = len(fields)
            reason += f"; {n} field{'s differ' if n != 1 else ' differs'}"
            reason += (f", which need{'' if n != 1 else 's'} a console step") if steps else ""
        return base.change(
            Action.ADOPT,
            remote_id=found.remote_id,
            before=before,
            after=spec,
            field_changes=diffs,
            precondition=view.precondition_for(found),
            status=found.status,
            reason=reason,
            manual_steps=steps,
        )

    def warn_read_only(self, addr: str, info: KindInfo, diffs: Sequence[FieldChange]) -> None:
        fields = ", ".join(top_level_fields(diffs))
        self.warnings.append(
            f"{addr}: {info.name} is read-only; the live object differs from the manifest in {fields} "
            "and reconciler will not change it"
        )

    @staticmethod
    def lifecycle_notes(d: DesiredResource, rs: ResourceState) -> tuple[str, ...]:
        """Lifecycle settings that differ from the state's (``prevent_destroy true``): recorded
        in state by apply, without writing to the API."""
        notes = []
        if rs.prevent_destroy != d.lifecycle.prevent_destroy:
            notes.append(f"prevent_destroy {str(d.lifecycle.prevent_destroy).lower()}")
        wanted = d.lifecycle.on_delete.value if d.lifecycle.on_delete else None
        if rs.on_delete != wanted:
            notes.append(f"on_delete {wanted or 'default'}")
        return tuple(notes)

    def noop(self, common: _Common, d: DesiredResource, rs: ResourceState, **kw: Any) -> Change:
        notes = self.lifecycle_notes(d, rs)
        if notes:
            reason = f"no changes to the live object; lifecycle recorded in state: {', '.join(notes)}"
            return common.change(Action.NOOP, reason=reason, lifecycle=notes, **kw)
        return common.change(Action.NOOP, reason="no changes", **kw)

    # -- removals ---------------------------------------------------------------------------
    def plan_removals(self) -> list[Change]:
        state = self.inp.state.resources
        if self.inp.destroy:
            doomed = [a for a in state if self.in_scope(a)]
        else:
            doomed = [a for a in state if a not in self.desired_by_addr and self.in_scope(a)]
        return keep_what_kept_objects_use([self.plan_removal(state[a]) for a in delete_order(doomed, state)], state)

    def left_behind(self, removals: Sequence[Change]) -> list[str]:
        """What a destroy leaves live, and why: one line per reason, naming the addresses."""
        reasons: dict[str, list[str]] = {}
        for c in removals:
            if c.action is Action.ABANDON:
                why = c.reason.split("; ", 1)[-1]
            elif c.action is Action.DELETE and self.kind_view(c.provider, c.kind, c.address)[1].delete_means:
                why = self.kind_view(c.provider, c.kind, c.address)[1].delete_means
            else:
                continue
            reasons.setdefault(why, []).append(c.address)
        return [f"destroy leaves {len(a)} object(s) live ({why}): {', '.join(a)}" for why, a in sorted(reasons.items())]

    def plan_removal(self, rs: ResourceState) -> Change:
        addr = rs.address
        view = self.view(rs.provider, addr)
        info = view.kind_info(rs.kind)
        d = self.desired_by_addr.get(addr)
        if d is not None:  # destroy: the manifest's current lifecycle is the latest intent
            prevent = d.lifecycle.prevent_destroy
            on_delete = d.lifecycle.on_delete.value if d.lifecycle.on_delete else rs.on_delete
        else:
            prevent, on_delete = rs.prevent_destroy, rs.on_delete
        on_delete = on_delete or info.default_on_delete.value
        live = self.live_of(addr)
        template = self.template(view, info, rs.applied_spec, (), live=live)
        before = project(live.fields, template) if live is not None else dict(template)
        common = _Common(
            address=addr,
            provider=rs.provider,
            kind=rs.kind,
            depends_on=tuple(sorted(rs.dependencies)),
            prevent_destroy=prevent,
            on_delete=on_delete,
        ).extend(remote_id=rs.remote_id, before=before, status=live.status if live is not None else None)
        why = "destroy requested" if self.inp.destroy else "not in manifests"
        diffs = tuple(FieldChange(k, before[k], None) for k in sorted(before))
        if info.read_only:
            return common.change(Action.ABANDON, reason=f"{why}; {rs.kind} is read-only (never deleted)")
        if live is None:
            return common.change(
                Action.ABANDON,
                reason=f"{why}; already deleted outside reconciler",
            )
        if not info.deletable:
            return common.change(
                Action.ABANDON,
                reason=f"{why}; the {rs.provider} API cannot delete a {rs.kind}",
            )
        if on_delete == OnDelete.ABANDON.value:
            return common.change(Action.ABANDON, reason=f"{why}; lifecycle on_delete: abandon")
        kept = view.keep_reason(rs.kind, live)
        if kept:
            return common.change(Action.ABANDON, reason=f"{why}; left in place: {kept}")
        if prevent:
            verb = "deactivated" if info.deactivates else "deleted"
            how = ("set prevent_destroy: false in its manifest and apply first" if self.inp.destroy
                   else "restore its manifest with prevent_destroy: false and apply first")
            raise PlanError(
                f"{addr}: lifecycle.prevent_destroy is set (recorded in state), so it cannot be {verb}; "
                f"to allow it, {how}, or use on_delete: abandon to leave it live"
            )
        precondition = view.precondition_for(live)
        manual = _manual(
            common, view, info, Action.DELETE, {}, live.fields, f"{why}; the API cannot delete it",
            field_changes=diffs, precondition=precondition,
        )
        # a deactivation is said by the renderers ("will be DEACTIVATED (status=0)"); any other
        # meaning a kind gives its delete (targeting: cleared) goes with the reason
        reason = f"{why}; {info.delete_means}" if info.delete_means and not info.deactivates else why
        return manual or common.change(Action.DELETE, field_changes=diffs, precondition=precondition, reason=reason,
                                       deactivates=info.deactivates)

    # -- drift ------------------------------------------------------------------------------
    def plan_drift(self) -> tuple[Change, ...]:
        out: list[Change] = []
        resources = self.inp.state.resources
        all_live = self.inp.live
        compared = self.compared_spec
        targets = self.targets
        # Addresses settled clean by plan_desired are skipped (for them the sorted pass below
        # would only look up a known kind and continue); only the rest is sorted and examined in
        # order, so failures and changes come out exactly as from one sorted pass over everything.
        templates, projections, clean = self.compared_template, self.compared_live, self.drift_clean
        rest = [
            addr
            for addr in resources
            if addr not in clean and (not targets or addr in targets) and addr in all_live
        ]
        for addr in sorted(rest):
            rs = resources[addr]
            view, info = self.kind_view(rs.provider, rs.kind, addr)
            live = all_live[addr]
            spec = compared.get(addr)
            if spec is not None and live is not None and spec == rs.applied_spec:
                applied, projected = templates[addr], projections[addr]
            else:
                d = self.desired_by_addr.get(addr)
                ignore = d.lifecycle.ignore_changes if d is not None else ()
                applied = self.template(view, info, rs.applied_spec, ignore, live=live)
                projected = project(live.fields, applied) if live is not None else None
            if projected == applied:
                continue
            common = _Common(addr, rs.provider, rs.kind).extend(remote_id=rs.remote_id, before=applied)
            if live is None:
                out.append(common.change(Action.DELETE, reason="deleted outside reconciler"))
                continue
            out.append(
                common.change(
                    Action.UPDATE,
                    after=projected,
                    field_changes=self.differ.changes(applied, projected, info.list_keys),
                    status=live.status,
                    reason="changed outside reconciler since the last apply",
                )
            )
        return tuple(out)


class _Common(NamedTuple):
    """The fields every change of one resource shares; ``change`` builds the Change. (A named
    tuple, not a frozen dataclass: one is made per resource, and a tuple is cheaper to build.)"""

    address: str
    provider: str
    kind: str
    depends_on: tuple[str, ...] = ()
    prevent_destroy: bool = False
    on_delete: str | None = None
    extra: tuple[tuple[str, Any], ...] = ()

    def extend(self, **kw: Any) -> _Common:
        return _Common(
            self.address,
            self.provider,
            self.kind,
            self.depends_on,
            self.prevent_destroy,
            self.on_delete,
            self.extra + tuple(kw.items()),
        )

    def change(self, action: Action, **kw: Any) -> Change:
        return Change(
            address=self.address,
            provider=self.provider,
            kind=self.kind,
            action=action,
            depends_on=self.depends_on,
            prevent_destroy=self.prevent_destroy,
            on_delete=self.on_delete,
            **({**dict(self.extra), **kw} if self.extra else kw),
        )


def _manual(
    common: _Common,
    view: ProviderView,
    info: KindInfo,
    action: Action,
    changes: Mapping[str, Any],
    before: Mapping[str, Any] | None,
    reason: str,
    **kw: Any,
) -> Change | None:
    """A MANUAL change with the provider's steps when its API cannot do ``action``, else None."""
    steps = view.manual_steps(info.name, action.value, common.address, changes, dict(before) if before is not None else None)
    if steps is None:
        return None
    return common.change(Action.MANUAL, manual_steps=_steps_text(steps), reason=reason, **kw)


def keep_what_kept_objects_use(removals: list[Change], state: Mapping[str, ResourceState]) -> list[Change]:
    """A removal never deletes what an object left live still uses: a LiveRamp dataset the API
    cannot delete keeps its data connection, or the clean room would hold a dataset pointing at
    nothing. Such deletes become abandons naming the user, transitively."""
    by_address = {c.address: c for c in removals}
    kept = [c.address for c in removals if c.action is Action.ABANDON]
    while kept:
        user = kept.pop()
        for dependency in sorted(state[user].dependencies) if user in state else ():
            change = by_address.get(dependency)
            if change is not None and change.action is Action.DELETE:
                by_address[dependency] = change._replace(
                    action=Action.ABANDON, field_changes=(), precondition=None,
                    reason=f"{change.reason.split('; ')[0]}; left in place: {user} stays live and uses it",
                )
                kept.append(dependency)
    return [by_address[c.address] for c in removals]


def delete_order(addresses: Sequence[str], state: Mapping[str, ResourceState]) -> list[str]:
    """Reverse dependency order: a resource is deleted before anything it depends on.

    Ties break alphabetically; a cycle (which state should never hold) falls back to sorted order.
    """
    doomed = set(addresses)
    deps = {a: {x for x in state[a].dependencies if x in doomed and x != a} for a in doomed}
    waiting = dict.fromkeys(doomed, 0)  # dependents not yet deleted
    for a in doomed:
        for x in deps[a]:
            waiting[x] += 1
    ready = [a for a in doomed if waiting[a] == 0]
    heapq.heapify(ready)
    out: list[str] = []
    while ready:
        a = heapq.heappop(ready)
        out.append(a)
        for x in deps[a]:
            waiting[x] -= 1
            if waiting[x] == 0:
                heapq.heappush(ready, x)
    if len(out) < len(doomed):
        out.extend(sorted(doomed - set(out)))
    return out
