"""The engine: wires workspace, manifests, providers, state, plan, apply and drift together.

One :class:`Workspace` per command. It loads ``reconciler.yaml``, builds providers lazily (an
endpoint of ``sandbox`` starts the embedded emulators), refreshes live objects in batches
(concurrently across kinds), and hands pure inputs to the plan builder and drift classifier.
Only ``apply``, ``import_resource`` and ``state`` operations write, always under the state lock.

The CLI (``reconciler.cli``) is a thin layer over this module; tests may use it directly.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from reconciler import graph
from reconciler.apply import ApplyOptions, ApplyResult, execute, recover_unfinished
from reconciler.apply.stale import is_stale, stale_reason
from reconciler.drift import DriftReport, PendingStep, UnmanagedObject, classify
from reconciler.errors import (
    APIError,
    InputError,
    PlanError,
    PlanFileError,
    ProviderError,
    ReconcilerError,
    StalePlanError,
    WorkspaceError,
)
from reconciler.lookup import Ambiguity, look_up_existing
from reconciler.manifest import (
    Selection,
    WorkspaceConfig,
    find_workspace,
    load_manifests,
    load_moves,
    load_workspace_config,
)
from reconciler.manifest.schemacheck import did_you_mean
from reconciler.manifest.selectors import Selector, match_addresses
from reconciler.model import Address, DesiredResource, HistoryEntry, LiveObject
from reconciler.moves import PlannedMoves, moves_of, persist_moves, plan_moves
from reconciler.moves import annotate as annotate_moves
from reconciler.plan.builder import PlanInput, ProviderView, build_plan
from reconciler.plan.model import Change, Plan
from reconciler.plan.reverts import reverting, with_reverts
from reconciler.plan.summary import FINDINGS_KEY
from reconciler.plan.verify import saved_plan_problems
from reconciler.plan.zones import in_live_zone
from reconciler.providers import BUILTIN, provider_class
from reconciler.providers.base import Finding, KindInfo, PlannedWrite, Provider, ProviderConfig, Severity
from reconciler.state import open_backend
from reconciler.state.base import ResourceState, StateBackend, StateSnapshot

SANDBOX = "sandbox"
REFRESH_JOBS = 32  # kinds (and natural-key lookups) read at once


@dataclass(frozen=True)
class DriftRun:
    """A drift report and what it was made from: the state as classified (renamed by pending
    ``Moved`` documents when ``renamed``), the refreshed objects and the manifests."""

    report: DriftReport
    snapshot: StateSnapshot
    live: Mapping[str, LiveObject | None]
    desired: tuple[DesiredResource, ...]
    renamed: bool = False


@dataclass
class Workspace:
    """Everything one command needs, built lazily from a start directory."""

    start: Path
    env: Mapping[str, str] = field(default_factory=lambda: dict(os.environ))
    lock_timeout: float = 0.0
    resolve_credentials: bool = True  # False for validate: no secrets needed to check files
    selection: Selection = Selection()  # --env, --var-file, --var
    notice: Callable[[str], None] | None = None  # where the state backend's notices go (a cleared stale lock)
    _config: WorkspaceConfig | None = None
    _providers: dict[str, Provider] = field(default_factory=dict)
    _kinds: dict[str, Mapping[str, KindInfo]] = field(default_factory=dict)
    load_warnings: tuple[str, ...] = field(default=(), init=False)  # of the last desired(): see load_manifests
    _state: StateBackend | None = None

    # -- configuration ---------------------------------------------------------------------------
    @property
    def config(self) -> WorkspaceConfig:
        if self._config is None:
            file = find_workspace(self.start)
            root = file.parent if file else self.start
            config = load_workspace_config(
                root, self.env, resolve_credentials=self.resolve_credentials, selection=self.selection
            )
            _check_options(config)
            self._config = config
            for warning in config.warnings if self.notice is not None else ():
                self.notice(warning)  # type: ignore[misc]
        return self._config

    @property
    def root(self) -> Path:
        return self.config.root

    def kinds_of(self, provider: str) -> Mapping[str, KindInfo]:
        kinds = self._kinds.get(provider)
        if kinds is None:  # looked up for every document: the class is found once
            settings = self.config.providers.get(provider)
            kinds = self._kinds[provider] = provider_class(provider, settings.factory if settings else None).kinds
        return kinds

    def kind_info(self, provider: str, kind: str) -> KindInfo | None:
        return self.kinds_of(provider).get(kind)

    def known_kinds(self, provider: str) -> list[str]:
        """For 'unknown kind' messages (the manifest loader's KindCatalog protocol)."""
        return sorted(self.kinds_of(provider))

    def known_providers(self) -> set[str]:
        from reconciler.providers import BUILTIN

        return set(BUILTIN) | set(self.config.providers)

    def desired(self, paths: Sequence[Path] = ()) -> list[DesiredResource]:
        """Load, validate and order the manifests (paths default to the workspace's).

        The loader returns them in dependency order."""
        chosen = [p if p.is_absolute() else (self.start / p) for p in paths] or list(self.config.paths)
        warnings: list[str] = []
        loaded = load_manifests(
            chosen,
            config=self.config,
            kind_lookup=_KindCatalog(self),
            known_providers=self.known_providers(),
            env=self.env,
            warnings=warnings,
        )
        self.load_warnings = tuple(sorted(set(warnings)))
        return loaded

    # -- providers and state ---------------------------------------------------------------------
    def _sandbox_data(self) -> Path:
        """The embedded sandbox's data file (``endpoint: sandbox``): one emulated account per
        environment (``.reconciler/<env>/sandbox.sqlite``), as staging and production would each
        have their own account; ``.reconciler/sandbox.sqlite`` without one."""
        environment = self.config.environment
        directory = self.root / ".reconciler"
        return (directory / environment if environment else directory) / "sandbox.sqlite"

    def provider(self, name: str) -> Provider:
        if name not in self._providers:
            settings = self.config.providers.get(name)
            if settings is None:
                raise WorkspaceError(
                    f"provider '{name}' is used by the manifests but not configured: add "
                    f"'providers: {{{name}: {{endpoint: ...}}}}' to reconciler.yaml"
                )
            endpoint = settings.endpoint
            credentials = dict(settings.credentials)
            identity = ""
            if endpoint == SANDBOX:
                from reconciler.sandbox.embedded import endpoint_for

                try:
                    embedded = endpoint_for(name, self._sandbox_data())
                except KeyError:
                    raise WorkspaceError(f"provider '{name}': the sandbox has no emulator for it") from None
                endpoint = embedded.url
                credentials = credentials or embedded.credentials
                identity = embedded.identity
            cls = provider_class(name, settings.factory)
            config = ProviderConfig(
                name=name,
                endpoint=endpoint,
                credentials=credentials,
                options=dict(settings.options),
                workspace_dir=self.root,
                endpoint_identity=identity,
            )
            self._providers[name] = cls(config)
        return self._providers[name]

    @property
    def state(self) -> StateBackend:
        if self._state is None:
            self._state = open_backend(self.config.state, self.root)
            self._state.set_reporter(self.notice)
        return self._state

    def close(self) -> None:
        for provider in self._providers.values():
            provider.close()
        self._providers.clear()
        if self._state is not None:
            self._state.close()

    # -- refresh ---------------------------------------------------------------------------------
    def refresh(self, snapshot: StateSnapshot, addresses: set[str] | None = None) -> dict[str, LiveObject | None]:
        """Read every managed object (of ``addresses`` when given) in batches: live by address,
        None for objects gone. Reads of different kinds all run at once, the largest first
        (providers bound their own requests in flight and their request rate)."""
        by_kind: dict[tuple[str, str], list[ResourceState]] = {}
        for address, rs in sorted(snapshot.resources.items()):
            if addresses is None or address in addresses:
                by_kind.setdefault((rs.provider, rs.kind), []).append(rs)
        jobs: list[tuple[str, Callable[[], Any]]] = []
        for (provider_name, kind), entries in sorted(by_kind.items(), key=lambda item: (-len(item[1]), item[0])):
            provider = self.provider(provider_name)
            ids = [rs.remote_id for rs in entries]
            jobs.append((f"{provider_name}.{kind}", _bind(provider.read, kind, ids)))
        results = _run_concurrently(jobs, workers=REFRESH_JOBS)
        live: dict[str, LiveObject | None] = {}
        for (provider_name, kind), entries in by_kind.items():
            got: Mapping[str, LiveObject] = results[f"{provider_name}.{kind}"]
            for rs in entries:
                live[rs.address] = got.get(rs.remote_id)
        return live

    def look_up(
        self,
        snapshot: StateSnapshot,
        desired: Sequence[DesiredResource],
        addresses: set[str] | None = None,
        live: Mapping[str, LiveObject | None] | None = None,
    ) -> dict[str, LiveObject]:
        """The live objects that desired resources missing from state already have
        (:mod:`reconciler.lookup`), to be adopted instead of created twice. State entries whose
        object is gone (None in ``live``) count as missing: made again since, it is adopted.

        Several matches for one address (or one object for several) are an error listing them
        all. With ``adopt_existing: false`` in the workspace a match is an error too, naming the
        live object and the ``import`` command, except for read-only kinds (always looked up)
        and the unfinished creates of a crashed run (reconciler's own)."""
        gone = {a for a, obj in (live or {}).items() if obj is None}
        present = _restrict(snapshot, set(snapshot.resources) - gone) if gone else snapshot
        result = look_up_existing(
            desired,
            present,
            self.provider,
            lambda jobs: _run_concurrently(jobs, workers=REFRESH_JOBS),
            wanted=lambda d: addresses is None or str(d.address) in addresses,
        )
        problems = [_ambiguity_text(a) for a in result.ambiguous]
        found = dict(result.found)
        if not self.config.adopt_existing:
            unfinished = {i.address for i in self.state.unfinished_intents() if i.action in ("create", "replace")}
            for address, obj in sorted(found.items()):
                info = self.kind_info(address.split(".", 1)[0], obj.kind)
                if (info is not None and info.read_only) or address in unfinished:
                    continue
                key = " + ".join(info.natural_key) if info is not None else "its natural key"
                problems.append(
                    f"  {address}: exists already as {obj.kind} {obj.remote_id}, and adoption is off "
                    f"(adopt_existing: false); take it over with 'reconciler import {address} {obj.remote_id}', "
                    f"or change its {key} in the spec to make another one"
                )
        if problems:
            raise PlanError(
                "these documents match live objects that the state does not know (nothing was changed):\n"
                + "\n".join(sorted(problems))
            )
        return found

    # -- plan --------------------------------------------------------------------------------------
    def plan(
        self,
        paths: Sequence[Path] = (),
        *,
        targets: Sequence[str] = (),
        selectors: Sequence[str] = (),
        destroy: bool = False,
        skip_guardrails: bool = False,
    ) -> tuple[Plan, list[DesiredResource]]:
        """The plan for the manifests (or for destroying what state holds). ``targets`` (address
        patterns) and ``selectors`` (label selectors) narrow it: to what they pick and what that
        needs (for destroy: and what depends on it)."""
        desired = self.desired(paths)
        selected = picked = self.select(desired, targets, selectors)
        if selected is not None:
            if destroy:
                selected = selected.union(*(graph.dependents(desired, a) for a in selected))
                desired = [r for r in desired if r.address in selected]
            else:
                desired = graph.with_dependencies(desired, selected)
        moved = self.planned_moves(self.state.read(), paths)  # Moved documents, in memory
        snapshot = moved.snapshot
        targets = tuple(str(a) for a in selected) if selected is not None else ()
        wanted = {str(r.address) for r in desired} if targets else None
        live = self.refresh(snapshot, wanted)
        found = self.look_up(snapshot, desired, wanted, live)
        plan = build_plan(
            PlanInput(
                desired=desired if not destroy else [],
                state=snapshot if not targets else _restrict(snapshot, wanted or set()),
                live=live,
                found=found,
                providers={name: self._view(name) for name in self._provider_names(snapshot, desired)},
                targets=tuple(sorted(wanted or ())),
                destroy=destroy,
            )
        )
        plan = self.attribute_reverts(plan)
        notes = list(self.load_warnings)
        if picked is not None:
            notes.append(_targeting_note(picked, wanted or set(), destroy))
        if notes:
            plan = dataclasses.replace(plan, warnings=(*notes, *plan.warnings))
        return self.guard(annotate_moves(plan, moved), skip_guardrails), desired

    def attribute_reverts(self, plan: Plan) -> Plan:
        """Say whose change each write sets back (:mod:`reconciler.plan.reverts`): one history
        read per such object, all at once; an object whose history cannot be read is still
        marked, without a name."""
        hits = reverting(plan)
        jobs = [(str(i), _bind(self._history_or_none, plan.changes[i])) for i in sorted(hits)]
        histories = _run_concurrently(jobs, workers=REFRESH_JOBS)
        return with_reverts(plan, hits, {int(k): v for k, v in histories.items()})

    def _history_or_none(self, change: Change) -> list[HistoryEntry]:
        """The change log of ``change``'s object; [] when it cannot be read (attribution is a
        courtesy: a plan never fails for want of it)."""
        if change.remote_id is None:
            return []
        try:
            return list(self.provider(change.provider).history(change.kind, change.remote_id))
        except APIError:
            return []

    def select(
        self, desired: Sequence[DesiredResource], targets: Sequence[str], selectors: Sequence[str]
    ) -> set[Address] | None:
        """The addresses ``--target`` patterns and ``-l`` selectors pick among ``desired`` (None:
        no narrowing). Patterns (exact, glob, ``Kind/name`` without provider) add up; selectors add
        up; given both, what both pick. A pattern or selector that picks nothing is an error."""
        if not targets and not selectors:
            return None
        by_address = {str(r.address): r for r in desired}
        chosen: set[str] | None = None
        for pattern in targets:
            try:
                hit = match_addresses(pattern, by_address, self._providers_with_kind)
            except ValueError as exc:
                raise InputError(f"--target {exc}") from None
            if not hit:
                hint = did_you_mean(pattern, by_address)
                raise InputError(f"--target {pattern} matches no address in the manifests{hint}")
            chosen = (chosen or set()) | hit
        if selectors:
            labelled: set[str] = set()
            for text in selectors:
                try:
                    selector = Selector.parse(text)
                except ValueError as exc:
                    raise InputError(f"-l {text}: {exc}") from None
                hit = {a for a, r in by_address.items() if selector.matches(r.labels)}
                if not hit:
                    keys = sorted({k for r in desired for k in r.labels}) or ["none"]
                    raise InputError(f"-l {text} matches no resource (label keys in the manifests: {', '.join(keys)})")
                labelled |= hit
            chosen = labelled if chosen is None else chosen & labelled
            if not chosen:
                raise InputError("--target and -l together match no resource")
        return {by_address[a].address for a in chosen or ()}

    def _providers_with_kind(self, kind: str) -> set[str]:
        return {p for p in self.known_providers() if kind in self.kinds_of(p)}

    def planned_moves(self, snapshot: StateSnapshot, paths: Sequence[Path] = ()) -> PlannedMoves:
        """``snapshot`` as the manifests' ``Moved`` documents rename it, in memory only
        (:mod:`reconciler.moves`); applying the plan makes the renames durable."""
        chosen = [p if p.is_absolute() else (self.start / p) for p in paths] or list(self.config.paths)
        return plan_moves(snapshot, load_moves(chosen, config=self.config))

    def guard(self, plan: Plan, skip: bool) -> Plan:
        """Run each provider's guardrails on the planned writes (read-only checks), and warn
        before a create that natural-key lookup could not find again (``KindInfo.findable_with``).

        Errors refuse the plan (exit 1) unless ``skip``; then the plan says they were skipped and
        records it (``options["guardrails_skipped"]``). ``apply FILE`` runs this again: spend
        moves between plan and apply, and a saved plan is applied only if it still passes (or was
        made with ``--skip-guardrails``, which apply then says).
        """
        writes: dict[str, list[PlannedWrite]] = {}
        for change in plan.changes:
            if change.action.value in ("create", "update", "replace", "adopt", "delete"):
                writes.setdefault(change.provider, []).append(
                    PlannedWrite(
                        address=change.address,
                        kind=change.kind,
                        action=change.action.value,
                        remote_id=change.remote_id,
                        before=dict(change.before or {}),
                        after=dict(change.after or {}),
                    )
                )
        findings: list[Finding] = []
        for name, items in sorted(writes.items()):
            provider = self.provider(name)
            findings.extend(provider.check_plan(items, self.config.guardrails))
            findings.extend(_unfindable_creates(provider, items))
        findings.sort(key=lambda f: (f.address, f.severity.value, f.message))
        errors = [f for f in findings if f.severity is Severity.ERROR]
        warnings = [f"{f.address}: {f.message}" for f in findings if f.severity is Severity.WARNING]
        if errors and not skip:
            lines = "\n".join(f"  {f.address}: {f.message}" for f in errors)
            raise PlanError(f"the plan breaks {len(errors)} guardrail(s) (--skip-guardrails to override):\n{lines}")
        if skip and errors:
            warnings = [f"guardrails skipped (--skip-guardrails): {f.address}: {f.message}" for f in errors] + warnings
        elif skip:
            warnings.append("guardrails skipped (--skip-guardrails)")
        fresh = tuple(w for w in warnings if w not in plan.warnings)
        options = {**plan.options, "guardrails_skipped": True} if skip else plan.options
        if findings:  # the plan summary puts them first
            options = {**options, FINDINGS_KEY: [
                {"address": f.address, "message": f.message, "severity": f.severity.value} for f in findings]}
        if not fresh and options is plan.options:
            return plan
        return dataclasses.replace(plan, warnings=tuple(plan.warnings) + fresh, options=options)

    def _provider_names(self, snapshot: StateSnapshot, desired: Sequence[DesiredResource]) -> list[str]:
        names = {r.address.provider for r in desired} | {rs.provider for rs in snapshot.resources.values()}
        return sorted(names)

    def _view(self, name: str) -> ProviderView:
        provider = self.provider(name)

        def kind_info(kind: str) -> KindInfo:
            info = provider.kinds.get(kind)
            if info is None:
                raise ProviderError(f"provider '{name}' has no kind '{kind}'")
            return info

        return ProviderView(
            kind_info=kind_info,
            normalize=provider.normalize,
            precondition_for=provider.precondition_for,
            manual_steps=provider.manual_steps,
            keep_reason=provider.keep_reason,
        )

    # -- apply ---------------------------------------------------------------------------------
    def apply(self, plan: Plan, options: ApplyOptions, on_event: Callable[..., None] | None = None) -> ApplyResult:
        """Execute a plan under the state lock, after recovering any crashed run."""
        with self.state.locked("apply", self.lock_timeout):
            self.recover()
            return self.execute_plan(plan, options, on_event)

    def execute_plan(
        self, plan: Plan, options: ApplyOptions, on_event: Callable[..., None] | None = None, *, saved: bool = False
    ) -> ApplyResult:
        """Execute ``plan``; the caller holds the state lock. Refuses a stale plan, and a
        ``saved`` one (``apply FILE``) whose changes the state does not allow
        (:mod:`reconciler.plan.verify`), before anything is sent."""
        self.check_fresh(plan)
        problems = saved_plan_problems(plan, self.state.read(), moves_of(plan)) if saved else []
        if problems:
            raise PlanFileError(
                "the saved plan does not match the state it would be applied to; nothing was applied:\n"
                + "\n".join(f"  {p}" for p in problems)
            )
        persist_moves(self.state, moves_of(plan))  # the plan's Moved renames, now durable
        providers = {name: self.provider(name) for name in sorted({c.provider for c in plan.changes})}
        return execute(plan, providers, self.state, options, on_event)

    def check_fresh(self, plan: Plan) -> None:
        """Refuse (exit 3) a plan made against another state than the current one, naming why
        (:mod:`reconciler.apply.stale`). ``apply FILE`` calls it before anything else."""
        current = self.state.read()
        if is_stale(plan, current):
            raise StalePlanError(stale_reason(plan, current))

    def recover(self) -> list[str]:
        """Finish what a crashed run left (under the lock): adopt unfinished creates."""
        intents = self.state.unfinished_intents()
        if not intents:
            return []
        providers = {name: self.provider(name) for name in sorted({i.provider for i in intents})}
        return recover_unfinished(self.state, providers)

    # -- drift ---------------------------------------------------------------------------------
    def drift(
        self, paths: Sequence[Path] = (), *, targets: Sequence[str] = (), selectors: Sequence[str] = ()
    ) -> DriftReport:
        """Classify every managed object (or those ``targets``/``selectors`` pick: see
        :meth:`select`); ignore rules come from the workspace file and from
        ``lifecycle.ignore_changes`` of the manifests. Objects are named as the manifests name
        them: ``Moved`` documents not applied yet rename state entries in memory, as in plan."""
        return self.drift_run(paths, targets=targets, selectors=selectors).report

    def drift_run(
        self, paths: Sequence[Path] = (), *, targets: Sequence[str] = (), selectors: Sequence[str] = ()
    ) -> DriftRun:
        """:meth:`drift` with what it was made from (the refreshed objects, the manifests, the
        pending renames), for ``drift --accept`` and ``apply --refresh-only``."""
        desired = self.desired(paths)
        selected = self.select(desired, targets, selectors)
        moved = self.planned_moves(self.state.read(), paths)
        snapshot = moved.snapshot
        if selected is not None:
            chosen = {str(a) for a in selected}
            snapshot = _restrict(snapshot, chosen)
            desired = [r for r in desired if str(r.address) in chosen]
        live = self.refresh(snapshot)
        lifecycle_ignores = {str(r.address): set(r.lifecycle.ignore_changes) for r in desired}

        def ignored(address: str) -> set[str]:
            return lifecycle_ignores.get(address, set()) | self.config.ignored_drift_fields(address)

        unmanaged = self._unmanaged(snapshot)
        report = classify(
            state=self._in_live_zones(snapshot, live),
            live=live,
            normalize=lambda provider, kind, spec: self.provider(provider).normalize(kind, spec),
            ignore=ignored,
            unmanaged=unmanaged,
            history=lambda provider, kind, remote_id: self.provider(provider).history(kind, remote_id),
            write_only=self._write_only_fields,
            list_keys=self._list_keys,
        )
        report = dataclasses.replace(report, pending=self._pending_steps(snapshot, desired, live))
        return DriftRun(report, snapshot, live, tuple(desired), bool(moved.moves))

    def _in_live_zones(self, snapshot: StateSnapshot, live: Mapping[str, LiveObject | None]) -> StateSnapshot:
        """``snapshot`` with hand-written times of zoned kinds read in the live zone where the
        applied spec names none (as plan compares them: :func:`reconciler.plan.zones.in_live_zone`)."""
        resources = dict(snapshot.resources)
        for address, rs in snapshot.resources.items():
            info = self.kind_info(rs.provider, rs.kind)
            if info is None or not info.zone_field:
                continue
            spec = in_live_zone(info, self.provider(rs.provider).normalize, rs.applied_spec, live.get(address))
            if spec is not rs.applied_spec:
                resources[address] = dataclasses.replace(rs, applied_spec=dict(spec))
        return dataclasses.replace(snapshot, resources=resources)

    def _pending_steps(
        self, snapshot: StateSnapshot, desired: Sequence[DesiredResource], live: Mapping[str, LiveObject | None]
    ) -> tuple[PendingStep, ...]:
        """The console steps the manifests still wait for: the plan's manual steps for the
        desired resources (built from this refresh; objects made by hand since are adopted)."""
        addresses = {str(d.address) for d in desired}
        plan = build_plan(
            PlanInput(
                desired=desired,
                state=_restrict(snapshot, addresses),
                live=live,
                found=self.look_up(snapshot, desired, live=live),
                providers={name: self._view(name) for name in self._provider_names(snapshot, desired)},
                targets=tuple(sorted(addresses)),
            )
        )
        return tuple(PendingStep(c.address, c.manual_steps) for c in plan.changes if c.manual_steps)

    def _write_only_fields(self, provider: str, kind: str) -> frozenset[str]:
        """Fields accepted on write but never returned by reads: never drift."""
        info = self.kind_info(provider, kind)
        return info.write_only_fields if info else frozenset()

    def list_keys(self, provider: str, kind: str) -> Mapping[str, str]:
        return self._list_keys(provider, kind)

    def _list_keys(self, provider: str, kind: str) -> Mapping[str, str]:
        """Set-like list fields, diffed member by member."""
        info = self.kind_info(provider, kind)
        return info.list_keys if info else {}

    def _unmanaged(self, snapshot: StateSnapshot) -> list[UnmanagedObject]:
        """Children of managed parents that the state does not know, with their parent."""
        managed_ids = {(rs.provider, rs.kind, rs.remote_id) for rs in snapshot.resources.values()}
        parents: dict[tuple[str, str, str], str] = {
            (rs.provider, rs.kind, rs.remote_id): address for address, rs in snapshot.resources.items()
        }
        jobs: list[tuple[str, Callable[[], Any]]] = []
        owners: dict[str, tuple[str, str]] = {}
        for provider_name in sorted({p for p, _, _ in parents}):
            provider = self.provider(provider_name)
            for kind, info in sorted(provider.kinds.items()):
                parent_kind = None if info.read_only or not info.scan_unmanaged else _parent_kind(provider, info)
                if parent_kind is None:
                    continue
                for (p, k, parent_id), parent_address in sorted(parents.items()):
                    if (p, k) == (provider_name, parent_kind):
                        key = f"{provider_name}|{kind}|{parent_id}"
                        owners[key] = (provider_name, parent_address)
                        jobs.append((key, _bind(provider.list_children, kind, parent_id)))
        results = _run_concurrently(jobs)
        out: list[UnmanagedObject] = []
        for key in sorted(results):
            provider_name, parent_address = owners[key]
            provider = self.provider(provider_name)
            for obj in results[key]:
                if provider.keep_reason(obj.kind, obj) is not None:
                    continue  # the API user's own access, made by the API with its parent: not "unmanaged"
                if (provider_name, obj.kind, obj.remote_id) not in managed_ids:
                    out.append(UnmanagedObject(
                        provider=provider_name, live=obj, parent=parent_address,
                        name=_live_name(provider.kinds.get(obj.kind), obj),
                        inactive=provider.switched_off(obj.kind, obj),
                    ))
        return out

    # -- import and state operations -------------------------------------------------------------
    def import_resource(self, address: str, remote_id: str, paths: Sequence[Path] = ()) -> ResourceState:
        """Adopt one live object under an address declared in the manifests (no write to it)."""
        target = _parse_target(address)
        desired = {str(r.address): r for r in self.desired(paths)}
        resource = desired.get(str(target))
        if resource is None:
            raise InputError(f"{address} is not declared in the manifests; write its manifest first")
        with self.state.locked("import", self.lock_timeout):
            snapshot = self.state.read()
            if str(target) in snapshot.resources:
                existing = snapshot.resources[str(target)]
                raise InputError(f"{address} is already managed (remote id {existing.remote_id})")
            provider = self.provider(target.provider)
            live = provider.read(target.kind, [remote_id]).get(remote_id)
            if live is None:
                raise InputError(f"{target.provider} has no {target.kind} with id {remote_id}")
            owner = next((rs.address for rs in snapshot.resources.values()
                          if (rs.provider, rs.kind, rs.remote_id) == (target.provider, target.kind, live.remote_id)), None)
            if owner is not None:  # two addresses on one object would overwrite each other on every apply
                raise InputError(f"{target.kind} {live.remote_id} is already managed as {owner}; one live object "
                                 "has one address (move it with 'reconciler state mv' if that is what you mean)")
            owned = {k: live.fields[k] for k in resource.spec if k in live.fields}
            rs = ResourceState(
                address=str(target),
                provider=target.provider,
                kind=target.kind,
                remote_id=live.remote_id,
                applied_spec=owned,
                fingerprint=live.fingerprint,
                version=live.version,
                dependencies=tuple(str(a) for a in resource.references),
                prevent_destroy=resource.lifecycle.prevent_destroy,
                on_delete=resource.lifecycle.on_delete.value if resource.lifecycle.on_delete else None,
                status=live.status,
            )
            self.state.record(rs)
            return rs


@dataclass(frozen=True)
class _KindCatalog:
    """The manifest loader's kind lookup, listing known kinds in its messages."""

    workspace: Workspace

    def __call__(self, provider: str, kind: str) -> KindInfo | None:
        return self.workspace.kind_info(provider, kind)

    def known_kinds(self, provider: str) -> list[str]:
        return self.workspace.known_kinds(provider)


def _check_options(config: WorkspaceConfig) -> None:
    """Every setting of a built-in provider block is one it reads: a typo is an error naming the
    line, not a setting silently ignored (e.g. ``api_user_emial``)."""
    for name, settings in sorted(config.providers.items()):
        if settings.factory is not None or name not in BUILTIN:
            continue
        known = provider_class(name).option_names
        unknown = sorted(set(settings.options) - known) if known is not None else []
        if unknown:
            hint = did_you_mean(unknown[0], known or ()) or f" (settings: endpoint, credentials, {', '.join(sorted(known or ()))})"
            raise WorkspaceError(
                f"unknown setting '{unknown[0]}' for provider {name}{hint}",
                location=settings.location,
                path=f"providers.{name}.{unknown[0]}",
            )


def _parse_target(text: str) -> Address:
    try:
        return Address.parse(text)
    except ValueError as exc:
        raise InputError(str(exc)) from None


def _targeting_note(selected: set[Address], wanted: set[str], destroy: bool) -> str:
    """What a plan narrowed by ``--target``/``-l`` covers, as Terraform warns under ``-target``."""
    extra = sorted(wanted - {str(a) for a in selected})
    why = "that depend on them" if destroy else "they need"
    added = f", and {len(extra)} {why}: {', '.join(extra[:5])}{' ...' if len(extra) > 5 else ''}" if extra else ""
    return (f"resource targeting is in effect: this plan covers the {len(selected)} selected object"
            f"{'s' if len(selected) != 1 else ''}{added}; changes to anything else are not shown")


def _restrict(snapshot: StateSnapshot, addresses: set[str]) -> StateSnapshot:
    """State limited to targeted addresses, so --target never plans deletes of others."""
    return StateSnapshot(
        lineage=snapshot.lineage,
        serial=snapshot.serial,
        resources={a: rs for a, rs in snapshot.resources.items() if a in addresses},
    )


def _live_name(info: KindInfo | None, obj: LiveObject) -> str | None:
    """What names a live object that has no address: its ``name``, else the first natural-key
    field that is not its parent (a question's ``title``, a partner's e-mail, a flight's start)."""
    keys = ("name", *(info.natural_key if info else ()))
    for key in keys:
        if info is not None and key == info.parent_field:
            continue
        value = obj.fields.get(key)
        if value not in (None, ""):
            return str(value)
    return None


def _parent_kind(provider: Provider, info: KindInfo) -> str | None:
    """The kind a ``parent_field`` points at: explicit, or ``campaign_id`` -> ``Campaign``."""
    if info.parent_kind:
        return info.parent_kind
    stem = (info.parent_field or "").removesuffix("_id").replace("_", "")
    for name in provider.kinds:
        if name.lower() == stem.lower():
            return name
    return None


def _bind(fn: Callable[..., Any], *args: Any) -> Callable[[], Any]:
    return lambda: fn(*args)


def _run_concurrently(jobs: Sequence[tuple[str, Callable[[], Any]]], workers: int = 8) -> dict[str, Any]:
    """Run read jobs in a small thread pool; the first ReconcilerError is re-raised as is."""
    if not jobs:
        return {}
    with ThreadPoolExecutor(max_workers=min(workers, len(jobs))) as pool:
        futures = {key: pool.submit(job) for key, job in jobs}
        results: dict[str, Any] = {}
        first_error: BaseException | None = None
        for key, future in futures.items():
            try:
                results[key] = future.result()
            except ReconcilerError as exc:
                first_error = first_error or exc
        if first_error:
            raise first_error
        return results


def _ambiguity_text(a: Ambiguity) -> str:
    """One ambiguity as the user reads it: every candidate and the command that picks one."""
    ids = ", ".join(f"{m.remote_id} ({m.status})" if m.status else m.remote_id for m in a.matches)
    if a.shared_with:
        return (f"  {a.address}: its natural key matches live object {ids}, which "
                f"{', '.join(a.shared_with)} also matches; give each document its own name, or "
                f"'reconciler import {a.address} {a.matches[0].remote_id}' for the one that should own it")
    return (f"  {a.address}: {len(a.matches)} live objects match its natural key: {ids}; pick one with "
            f"'reconciler import {a.address} ID'")


def _unfindable_creates(provider: Provider, writes: Sequence[PlannedWrite]) -> list[Finding]:
    """A warning for each planned create that could not be found again if it were interrupted."""
    out: list[Finding] = []
    for w in writes:
        info = provider.kinds.get(w.kind)
        if w.action in ("create", "replace") and info is not None and not info.findable(w.after):
            fields = " or ".join(info.findable_with)
            out.append(Finding(
                w.address, Severity.WARNING,
                f"created without {fields}: the API cannot find such a {w.kind} again, so if this create is "
                f"interrupted the next run cannot tell whether it landed (set {fields} to make it findable)",
            ))
    return out
