"""The apply executor: walks a Plan's changes as a DAG and makes each write, safely.

Order and parallelism (see :mod:`reconciler.apply.graph`): a change starts once everything it
depends on has finished; deletes run last, in reverse dependency order; at most
``options.parallelism`` changes run at once. Request-rate budgets live in each provider's HTTP
client; the executor only adds a per-provider pause after a 429 with ``Retry-After`` so that every
thread writing to that provider backs off together.

Each write, in order: resolve ``{ref: ...}`` values from the *current* state (a parent created
earlier in this run), journal an intent, call the provider, record the resulting state durably,
journal the outcome. Never silent:

- **create** is not retried blindly: after a retryable error (or a 409 "exists already") the
  object is looked up by natural key; found -> adopted; else retried with backoff
  (``Retry-After`` honoured).
- **update/delete** check their precondition (VERSION: the server checks; FINGERPRINT: re-read and
  compare first). When it fails, re-read: if the fields this change sets still hold the plan's
  ``before`` values, the other writer touched none of ours -> rebase once (outcome ``rebased``);
  if they already hold our values -> done; else ``conflict`` with both sides and no write, unless
  ``force_conflicts``. A retryable error is followed by the same re-read and decision (the write
  may have landed).
- **replace** = delete then create; **adopt** records, **abandon** forgets, **no-op** refreshes the
  recorded version/fingerprint/lifecycle if they changed, **manual** reports the steps.

A failed or conflicting change skips its transitive dependents; independent work continues.
"""

from __future__ import annotations

import heapq
import random
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, replace
from typing import Any, TypeVar

from reconciler.apply.conflicts import (
    Judgement,
    Verdict,
    fields_set_by,
    judge_delete,
    judge_update,
    kept_note,
    kept_values,
    overlay,
)
from reconciler.apply.graph import build_graph
from reconciler.apply.resolve import UnresolvedReference, resolve_refs
from reconciler.apply.result import (
    BLOCKING,
    BUDGET_KEYS,
    ApplyOptions,
    ApplyResult,
    ConflictField,
    Outcome,
    ResourceResult,
)
from reconciler.attribution import Attribution, attribute, when_text, writer_names
from reconciler.diff import FieldDiffer, compare_owned, owned_template, top_level_fields
from reconciler.errors import (
    AmbiguousMatchError,
    APIError,
    NotFoundError,
    ProviderError,
    RateLimitedError,
    ReconcilerError,
    ServerError,
    TransportError,
)
from reconciler.model import HistoryEntry, LiveObject
from reconciler.plan.model import Action, Change, Plan
from reconciler.providers.base import Precondition, PreconditionFailed, PreconditionKind, Provider, ambiguous
from reconciler.state.base import Intent, ResourceState, StateBackend

T = TypeVar("T")
EventHook = Callable[[ResourceResult], None]


class _AnswerLost(ProviderError):
    """A create went unanswered (timeout, dropped connection) and its object is not found (yet)."""


def execute(
    plan: Plan,
    providers: Mapping[str, Provider],
    state: StateBackend,
    options: ApplyOptions | None = None,
    on_event: EventHook | None = None,
) -> ApplyResult:
    """Apply ``plan``; returns every resource's outcome (sorted by address) and the error budget.

    ``on_event`` is called (from the calling thread) as each resource finishes. The caller holds
    the state lock and has checked the plan's lineage/serial.
    """
    return _Executor(plan, providers, state, options or ApplyOptions(), on_event).run()


@dataclass(frozen=True)
class _WriteOutcome:
    outcome: Outcome
    message: str
    live: LiveObject | None = None
    conflicts: tuple[ConflictField, ...] = ()
    writers: tuple[Attribution, ...] = ()  # who changed the conflicting fields


class _Executor:
    def __init__(
        self,
        plan: Plan,
        providers: Mapping[str, Provider],
        state: StateBackend,
        options: ApplyOptions,
        on_event: EventHook | None,
    ) -> None:
        self.plan = plan
        self.providers = providers
        self.state = state
        self.options = options
        self.on_event = on_event
        snapshot = state.read()
        self._resources: dict[str, ResourceState] = dict(snapshot.resources)
        self._planned = frozenset(c.address for c in plan.changes)
        self._outcomes: dict[str, Outcome] = {}
        self._existing: dict[str, LiveObject | AmbiguousMatchError] = {}  # creates found live at the start
        self._state_lock = threading.Lock()
        self._stats_lock = threading.Lock()
        self._engine: dict[str, dict[str, int]] = {}
        self._paused_until: dict[str, float] = {}
        self._random = random.Random()
        self._stats_before = {name: _provider_stats(p) for name, p in sorted(providers.items())}

    # -- the walk ---------------------------------------------------------------------------------
    def run(self) -> ApplyResult:
        """Start each change once everything it waits for has finished, in plan order, keeping
        at most twice ``parallelism`` submitted (the pool runs ``parallelism``; the rest is queued
        so a worker never idles). Readiness is counted, not rescanned: O(changes + edges) even
        for a plan of 10,000s of no-ops."""
        graph = build_graph(self.plan.changes)
        self._existing = self._look_up_creates()
        by_address = {c.address: c for c in self.plan.changes}
        position = {address: index for index, address in enumerate(graph.order)}
        waiting = {address: len(graph.waits[address]) for address in graph.order}  # unfinished prerequisites
        dependents: dict[str, list[str]] = {}
        for address in graph.order:
            for prerequisite in graph.waits[address]:
                dependents.setdefault(prerequisite, []).append(address)
        ready = [(position[a], a) for a in graph.order if waiting[a] == 0]
        heapq.heapify(ready)
        finished: dict[str, ResourceResult] = {}
        running: dict[Future[ResourceResult], str] = {}
        in_flight = 2 * self.options.parallelism

        def finish(result: ResourceResult) -> None:
            finished[result.address] = result
            self._outcomes[result.address] = result.outcome  # read by dependents, which start later
            if self.on_event is not None:
                self.on_event(result)
            for dependent in dependents.get(result.address, ()):
                waiting[dependent] -= 1
                if waiting[dependent] == 0:
                    heapq.heappush(ready, (position[dependent], dependent))

        with ThreadPoolExecutor(max_workers=self.options.parallelism, thread_name_prefix="apply") as pool:
            while ready or running:
                while ready and len(running) < in_flight:
                    _, address = heapq.heappop(ready)
                    blocked = sorted(b for b in graph.blockers[address] if finished[b].outcome in BLOCKING)
                    change = by_address[address]
                    if blocked:
                        finish(ResourceResult(
                            address, change.action, Outcome.SKIPPED,
                            f"it depends on {', '.join(blocked)}, which did not apply",
                            remote_id=change.remote_id,
                        ))
                    else:
                        running[pool.submit(self._apply, change)] = address
                if not running:
                    continue
                done, _ = wait(running, return_when=FIRST_COMPLETED)
                for future in sorted(done, key=lambda f: running[f]):
                    running.pop(future)
                    finish(future.result())
        for address in graph.order:  # only a dependency cycle leaves work that never started
            if address not in finished:
                change = by_address[address]
                finished[address] = ResourceResult(address, change.action, Outcome.FAILED,
                                                   "not started: its dependencies form a cycle")
                if self.on_event is not None:
                    self.on_event(finished[address])
        results = tuple(sorted(finished.values(), key=lambda r: r.address))
        return ApplyResult(results, self._error_budget())

    def _apply(self, change: Change) -> ResourceResult:
        """Run one change; every error becomes that resource's outcome (never the run's)."""
        try:
            handler = {
                Action.CREATE: self._create,
                Action.UPDATE: self._update,
                Action.DELETE: self._delete,
                Action.REPLACE: self._replace,
                Action.ADOPT: self._adopt,
                Action.ABANDON: self._abandon,
                Action.NOOP: self._noop,
                Action.MANUAL: self._manual,
            }[change.action]
            return handler(change)
        except UnresolvedReference as exc:
            blocker = self._outcomes.get(exc.target)
            if blocker in (Outcome.MANUAL, Outcome.WAITING):
                why = "needs a console step first" if blocker is Outcome.MANUAL else "is waiting for a console step"
                return self._result(change, Outcome.WAITING, f"waiting: it needs {exc.target}, which {why}")
            if exc.target in self._planned:  # its own change did not produce an id
                return self._result(change, Outcome.SKIPPED, f"its dependency {exc.target} did not get an id")
            return self._result(change, Outcome.FAILED, str(exc))
        except ReconcilerError as exc:
            return self._result(change, Outcome.FAILED, str(exc))
        except Exception as exc:  # a provider bug must not abort the other resources
            return self._result(change, Outcome.FAILED, f"unexpected {type(exc).__name__}: {exc}")

    def _result(
        self, change: Change, outcome: Outcome, message: str,
        conflicts: tuple[ConflictField, ...] = (), remote_id: str | None = None,
        writers: tuple[Attribution, ...] = (),
    ) -> ResourceResult:
        return ResourceResult(change.address, change.action, outcome, message, conflicts,
                              remote_id if remote_id is not None else change.remote_id, writers)

    def _history(self, change: Change, provider: Provider, remote_id: str) -> list[HistoryEntry]:
        """The object's change log, to name another writer; [] when the API keeps none or the
        read fails (a name is a courtesy: it never changes an outcome)."""
        try:
            return list(self._call(change, provider.history, change.kind, remote_id))
        except APIError:
            return []

    def _kept_values(
        self, change: Change, provider: Provider, remote_id: str, fields: tuple[str, ...],
        ours: Mapping[str, Any], live: LiveObject,
    ) -> str:
        """After a rebase: the note on another writer's values of manifest fields that the
        rebase kept and the next plan will set back (:func:`.conflicts.kept_values`)."""
        kept = kept_values(change.before or {}, fields, ours, live.fields)
        if not kept:
            return ""
        return kept_note(change.address, kept, self._history(change, provider, remote_id))

    # -- plumbing ---------------------------------------------------------------------------------
    def _provider(self, change: Change) -> Provider:
        provider = self.providers.get(change.provider)
        if provider is None:
            raise ProviderError(f"provider '{change.provider}' is not configured in this workspace")
        return provider

    def _call(self, change: Change, fn: Callable[..., T], *args: Any) -> T:
        """One provider call: waits out a shared 429 pause, counts it and its failures."""
        pause = self._paused_until.get(change.provider, 0.0) - time.monotonic()
        if pause > 0:
            time.sleep(pause)
        self._count(change.provider, "requests")
        try:
            return fn(*args)
        except RateLimitedError as exc:
            self._count(change.provider, "rate_limited")
            if exc.retry_after:
                with self._stats_lock:
                    until = time.monotonic() + min(exc.retry_after, self.options.retry_max_delay)
                    self._paused_until[change.provider] = max(self._paused_until.get(change.provider, 0.0), until)
            raise
        except ServerError:
            self._count(change.provider, "server_errors")
            raise
        except TransportError:
            self._count(change.provider, "transport_errors")
            raise

    def _count(self, provider: str, key: str) -> None:
        with self._stats_lock:
            counters = self._engine.setdefault(provider, dict.fromkeys(BUDGET_KEYS, 0))
            counters[key] += 1

    def _backoff(self, change: Change, attempt: int, error: APIError) -> None:
        self._count(change.provider, "retries")
        if error.retry_after is not None:
            delay = min(self.options.retry_max_delay, error.retry_after) + self._random.uniform(0, 0.05)
        else:
            delay = min(self.options.retry_max_delay, self.options.retry_base_delay * 2.0 ** (attempt - 1))
            delay *= self._random.uniform(0.5, 1.0)
        time.sleep(delay)

    def _read_one(self, change: Change, provider: Provider, remote_id: str) -> LiveObject | None:
        attempt = 0
        while True:
            try:
                return self._call(change, provider.read, change.kind, [remote_id]).get(remote_id)
            except APIError as exc:
                attempt += 1
                if not exc.retryable or attempt >= self.options.max_attempts:
                    raise
                self._backoff(change, attempt, exc)

    def _error_budget(self) -> dict[str, int]:
        total = dict.fromkeys(BUDGET_KEYS, 0)
        names = sorted(set(self.providers) | set(self._engine))
        for name in names:
            engine = self._engine.get(name, dict.fromkeys(BUDGET_KEYS, 0))
            provider = self.providers.get(name)
            before = self._stats_before.get(name)
            after = _provider_stats(provider) if provider is not None else None
            if before is not None and after is not None:
                for key in BUDGET_KEYS:
                    total[key] += max(0, after.get(key, 0) - before.get(key, 0))
                total["retries"] += engine["retries"]
            else:
                for key in BUDGET_KEYS:
                    total[key] += engine[key]
        return total

    # -- state ------------------------------------------------------------------------------------
    def _remote_id(self, change: Change) -> str:
        if change.remote_id:
            return change.remote_id
        with self._state_lock:
            known = self._resources.get(change.address)
        if known is None:
            raise ProviderError(f"{change.address} has no remote id in the plan or the state")
        return known.remote_id

    def _resolve(self, change: Change) -> dict[str, Any]:
        with self._state_lock:  # looks up only the ids the spec refers to (no copy of the state)
            resolved: dict[str, Any] = resolve_refs(change.after or {}, _RemoteIds(self._resources))
        return resolved

    def _record(self, change: Change, provider: Provider, live: LiveObject, spec: Mapping[str, Any]) -> None:
        info = provider.kinds.get(change.kind)
        parent_field = info.parent_field if info is not None else None
        parent_ids = (
            {parent_field: str(spec[parent_field])}
            if parent_field and spec.get(parent_field) is not None else {}
        )
        resource = ResourceState(
            address=change.address,
            provider=change.provider,
            kind=change.kind,
            remote_id=live.remote_id,
            applied_spec=dict(spec),
            fingerprint=live.fingerprint,
            version=live.version,
            parent_ids=parent_ids,
            dependencies=tuple(sorted(change.depends_on)),
            prevent_destroy=change.prevent_destroy,
            on_delete=change.on_delete,
            status=live.status,
        )
        self._put(resource)

    def _put(self, resource: ResourceState) -> None:
        with self._state_lock:
            self.state.record(resource)
            self._resources[resource.address] = resource

    def _forget(self, address: str) -> None:
        with self._state_lock:
            self.state.forget(address)
            self._resources.pop(address, None)

    def _begin(self, change: Change, action: str, spec: Mapping[str, Any], remote_id: str | None) -> Intent:
        intent = Intent(uuid.uuid4().hex, change.address, action, change.provider, change.kind, dict(spec), remote_id)
        with self._state_lock:
            self.state.begin_intent(intent)
        return intent

    def _end(self, intent: Intent, outcome: str) -> None:
        with self._state_lock:
            self.state.end_intent(intent.id, outcome)

    def _sensitive(self, provider: Provider, kind: str) -> frozenset[str]:
        info = provider.kinds.get(kind)
        return info.write_only_fields if info is not None else frozenset()

    # -- create -----------------------------------------------------------------------------------
    def _create(self, change: Change) -> ResourceResult:
        provider = self._provider(change)
        spec = self._resolve(change)
        live, note = self._create_journaled(change, provider, spec)
        return self._result(change, Outcome.DONE, note, remote_id=live.remote_id)

    def _create_journaled(self, change: Change, provider: Provider, spec: Mapping[str, Any]) -> tuple[LiveObject, str]:
        intent = self._begin(change, "create", spec, None)
        try:
            live, adopted = self._create_remote(change, provider, spec)
        except _AnswerLost:
            raise  # the intent stays open: the next run looks the object up before creating it
        except Exception:
            self._end(intent, "failed")
            raise
        self._record(change, provider, live, spec)  # if this fails the intent stays open: recovery adopts
        self._end(intent, "done")
        if adopted:
            live = self._complete_adopted(change, provider, spec, live)
            return live, (f"adopted {live.remote_id}: it exists already (made since the plan, with its parent, or "
                          "by an earlier attempt whose answer was lost); found by natural key, not created twice")
        return live, f"created {live.remote_id}"

    def _complete_adopted(
        self, change: Change, provider: Provider, spec: Mapping[str, Any], found: LiveObject
    ) -> LiveObject:
        """An object found by natural key after a failed create attempt may be half-made (a
        multi-step create that failed part-way): send the owned fields that still differ. If that
        fails, the resource fails (it stays adopted in state; the next plan shows the rest)."""
        info = provider.kinds.get(change.kind)
        template = owned_template(provider.normalize(change.kind, spec), (), info.write_only_fields if info else ())
        _, diffs = compare_owned(template, found.fields, FieldDiffer(), info.list_keys if info else {})
        fields = [f for f in top_level_fields(diffs) if f in spec]
        if not fields:
            return found
        try:
            live = self._call(
                change, provider.update, change.kind, found.remote_id,
                {f: spec[f] for f in fields}, provider.precondition_for(found),
            )
        except (APIError, PreconditionFailed) as exc:
            raise ProviderError(
                f"adopted {found.remote_id} (found by natural key after a failed create attempt), but it lacks "
                f"{', '.join(fields)} and setting them failed: {exc}; the next plan shows what is left"
            ) from None
        self._record(change, provider, live, spec)
        return live

    def _look_up_creates(self) -> dict[str, LiveObject | AmbiguousMatchError]:
        """Objects made since the plan: every create whose parent already exists is looked up by
        natural key before anything is written, batched like the plan's lookup (one listing per
        parent, per kind). A plan applied later (``apply FILE`` on merge) would otherwise make a
        second copy of what a colleague made meanwhile; APIs that refuse duplicates (409) are
        covered again at the create itself. A lookup that fails leaves its creates to that path."""
        groups: dict[tuple[str, str], list[tuple[str, dict[str, Any]]]] = {}
        for change in self.plan.changes:
            if change.action is not Action.CREATE or change.provider not in self.providers:
                continue
            try:
                spec = self._resolve(change)
            except UnresolvedReference:
                continue  # its parent is created in this run: it cannot exist yet
            groups.setdefault((change.provider, change.kind), []).append((change.address, spec))
        found: dict[str, LiveObject | AmbiguousMatchError] = {}
        for (provider_name, kind), items in sorted(groups.items()):
            provider = self.providers[provider_name]
            try:
                matches = provider.find_existing(kind, [spec for _, spec in items])
            except APIError:
                continue
            for (address, spec), hits in zip(items, matches, strict=True):
                unmanaged = [h for h in hits if not any(
                    (rs.provider, rs.kind, rs.remote_id) == (provider_name, kind, h.remote_id) for rs in self._resources.values())]
                if len(unmanaged) == 1:
                    found[address] = unmanaged[0]
                elif unmanaged:
                    info = provider.kinds[kind]
                    found[address] = ambiguous(provider_name, info, spec, unmanaged)
        return found

    def _create_remote(self, change: Change, provider: Provider, spec: Mapping[str, Any]) -> tuple[LiveObject, bool]:
        """Create; after a retryable failure look the object up by natural key before retrying."""
        existing = self._existing.get(change.address)
        if isinstance(existing, AmbiguousMatchError):
            raise ProviderError(f"not created: it may exist already, made since the plan: {existing}; "
                                f"pick one with 'reconciler import {change.address} ID'")
        if existing is not None:
            return existing, True
        attempt = 0
        last: APIError | None = None
        look_up = False
        while True:
            if look_up:
                try:
                    found = self._call(change, provider.find_by_natural_key, change.kind, spec)
                except APIError as exc:
                    attempt += 1
                    if not exc.retryable or attempt >= self.options.max_attempts + 2:
                        raise
                    self._backoff(change, attempt, exc)
                    continue
                if found is not None:
                    return found, True
                if isinstance(last, TransportError):
                    # no answer at all (timeout, connection lost): the server may still be making
                    # it, and a lookup this soon cannot tell; sending it again could make two
                    raise _AnswerLost(
                        f"create sent but no answer came back ({last.vendor_message}) and it is not found by "
                        "natural key yet: not sent again in this run, since the server may still be making it; "
                        "the next apply looks it up first and creates it only if it is not there"
                    )
                look_up = False
            if last is not None and attempt >= self.options.max_attempts:
                raise ProviderError(f"create failed after {attempt} attempts: {last}")
            try:
                return self._call(change, provider.create, change.kind, spec), False
            except APIError as exc:
                if exc.status == 409:  # "exists already": made since the plan, or with its parent
                    found = self._call(change, provider.find_by_natural_key, change.kind, spec)
                    if found is not None:
                        return found, True
                if not exc.retryable:
                    raise
                last = exc
                attempt += 1
                self._backoff(change, attempt, exc)
                look_up = True

    # -- update / delete --------------------------------------------------------------------------
    def _update(self, change: Change) -> ResourceResult:
        provider = self._provider(change)
        remote_id = self._remote_id(change)
        spec = self._resolve(change)
        fields = tuple(f for f in fields_set_by(change) if f in spec)
        changes = {f: spec[f] for f in fields}
        if not changes:  # nothing the manifest owns differs: no write, just refresh state
            return self._noop(change)
        ours = provider.normalize(change.kind, spec)
        before = dict(change.before or {})
        sensitive = self._sensitive(provider, change.kind)
        # maps the manifest owns only partly are merged into the live map (see conflicts.overlay)
        partial = [f for f in fields if isinstance(changes[f], Mapping) and isinstance(before.get(f), Mapping)]

        def write(pre: Precondition, live: LiveObject | None) -> LiveObject:
            body = dict(changes)
            if live is not None:
                for name in partial:  # ours normalised, like the live map: a key the spec implies counts
                    body[name] = overlay(live.fields.get(name), ours.get(name, changes[name]), before[name])
            return self._call(change, provider.update, change.kind, remote_id, body, pre)

        intent = self._begin(change, "update", spec, remote_id)
        try:
            outcome = _GuardedWrite(
                self, change, provider, remote_id, change.precondition,
                write=write,
                judge=lambda live: judge_update(fields, before, ours, live.fields, sensitive),
                verb="update",
                needs_live=bool(partial),
            ).run()
        except Exception:
            self._end(intent, "failed")
            raise
        if outcome.outcome.ok and outcome.live is not None:
            self._record(change, provider, outcome.live, spec)
        self._end(intent, "done" if outcome.outcome.ok else "failed")
        message = outcome.message
        if outcome.outcome is Outcome.REBASED and outcome.live is not None:
            kept = self._kept_values(change, provider, remote_id, fields, ours, outcome.live)
            message = f"{message}; {kept}" if kept else message
        return self._result(change, outcome.outcome, message, outcome.conflicts, remote_id, outcome.writers)

    def _delete_guarded(self, change: Change, provider: Provider, remote_id: str) -> _WriteOutcome:
        before = dict(change.before or {})
        sensitive = self._sensitive(provider, change.kind)

        def write(pre: Precondition, live: LiveObject | None) -> None:
            self._call(change, provider.delete, change.kind, remote_id, pre)

        return _GuardedWrite(
            self, change, provider, remote_id, change.precondition,
            write=write,
            judge=lambda live: judge_delete(before, live.fields, sensitive),
            verb="delete",
        ).run()

    def _refuse_destroy(self, change: Change) -> ResourceResult | None:
        if change.prevent_destroy:
            return self._result(change, Outcome.FAILED,
                                f"lifecycle.prevent_destroy is set: refusing to {change.action.value} it")
        return None

    def _delete(self, change: Change) -> ResourceResult:
        refused = self._refuse_destroy(change)
        if refused is not None:
            return refused
        provider = self._provider(change)
        remote_id = self._remote_id(change)
        intent = self._begin(change, "delete", {}, remote_id)
        try:
            outcome = self._delete_guarded(change, provider, remote_id)
            if outcome.outcome.ok:
                self._forget(change.address)
        except Exception:
            self._end(intent, "failed")
            raise
        self._end(intent, "done" if outcome.outcome.ok else "failed")
        return self._result(change, outcome.outcome, outcome.message, outcome.conflicts, remote_id, outcome.writers)

    def _replace(self, change: Change) -> ResourceResult:
        refused = self._refuse_destroy(change)
        if refused is not None:
            return refused
        provider = self._provider(change)
        old_id = self._remote_id(change)
        spec = self._resolve(change)
        intent = self._begin(change, "delete", {}, old_id)
        try:
            removed = self._delete_guarded(change, provider, old_id)
            if removed.outcome.ok:
                self._forget(change.address)
        except Exception:
            self._end(intent, "failed")
            raise
        self._end(intent, "done" if removed.outcome.ok else "failed")
        if not removed.outcome.ok:
            return self._result(change, removed.outcome, f"replace stopped before the create: {removed.message}",
                                removed.conflicts, old_id)
        try:
            live, note = self._create_journaled(change, provider, spec)
        except ReconcilerError as exc:
            return self._result(change, Outcome.FAILED,
                                f"deleted {old_id} but the create failed (the next plan creates it): {exc}", (), None)
        outcome = Outcome.REBASED if removed.outcome is Outcome.REBASED else Outcome.DONE
        return self._result(change, outcome, f"replaced {old_id}: {removed.message}; {note}",
                            removed.conflicts, live.remote_id)

    # -- no writes --------------------------------------------------------------------------------
    def _adopt(self, change: Change) -> ResourceResult:
        """Record the live object under the address (its live values as the last-applied ones:
        nothing was applied yet), then update the fields that differ like any update, guarded
        by the precondition read at plan time. Fields only a human can change stay listed."""
        provider = self._provider(change)
        remote_id = self._remote_id(change)
        spec = self._resolve(change)
        live = self._read_one(change, provider, remote_id)
        if live is None:
            return self._result(change, Outcome.FAILED, f"cannot adopt {remote_id}: it no longer exists")
        self._record(change, provider, live, {k: live.fields[k] for k in spec if k in live.fields})
        adopted = f"adopted {remote_id} (found live by its natural key)"
        if change.manual_steps:
            return self._result(change, Outcome.MANUAL, f"{adopted}; still to do by hand: {'; '.join(change.manual_steps)}",
                                remote_id=remote_id)
        if not change.field_changes:
            return self._result(change, Outcome.DONE, f"{adopted} into state (no write)", remote_id=remote_id)
        updated = self._update(change._replace(action=Action.UPDATE, remote_id=remote_id))
        return replace(updated, action=Action.ADOPT, message=f"{adopted}; then {updated.message}")

    def _abandon(self, change: Change) -> ResourceResult:
        self._forget(change.address)
        return self._result(change, Outcome.DONE, "forgotten from state; the live object is left in place")

    def _noop(self, change: Change) -> ResourceResult:
        known = self._resources.get(change.address)
        if known is None:
            return self._result(change, Outcome.DONE, "no changes")
        try:
            spec = self._resolve(change) if change.after is not None else dict(known.applied_spec)
        except UnresolvedReference:
            spec = dict(known.applied_spec)
        fresh = replace(
            known,
            applied_spec=spec,
            dependencies=tuple(sorted(change.depends_on)),
            prevent_destroy=change.prevent_destroy,
            on_delete=change.on_delete,
        )
        pre = change.precondition
        note = "no changes"
        if pre is not None and pre.kind is PreconditionKind.VERSION and pre.value != known.version:
            provider = self._provider(change)
            try:
                live = self._read_one(change, provider, known.remote_id)
            except APIError as exc:
                live, note = None, f"no changes (recorded version not refreshed: {exc})"
            if live is not None:
                fresh = replace(fresh, version=live.version, fingerprint=live.fingerprint, status=live.status)
        elif pre is not None and pre.kind is PreconditionKind.FINGERPRINT and pre.value != known.fingerprint:
            fresh = replace(fresh, fingerprint=str(pre.value))
        if change.status is not None and fresh.status != change.status:
            # a status only the server moves (an invitation accepted): record it, nothing to send
            fresh = replace(fresh, status=change.status)
        if fresh != known:
            self._put(fresh)
            if note == "no changes":
                note = "no changes (state refreshed)"
        return self._result(change, Outcome.DONE, note, remote_id=known.remote_id)

    def _manual(self, change: Change) -> ResourceResult:
        steps = "; ".join(change.manual_steps) or change.reason or "the API cannot make this change"
        return self._result(change, Outcome.MANUAL, f"manual step required: {steps}")


class _GuardedWrite:
    """One update or delete under its precondition, with re-read, rebase-once and conflict rules."""

    def __init__(
        self,
        executor: _Executor,
        change: Change,
        provider: Provider,
        remote_id: str,
        precondition: Precondition | None,
        *,
        write: Callable[[Precondition, LiveObject | None], LiveObject | None],
        judge: Callable[[LiveObject], Judgement],
        verb: str,
        needs_live: bool = False,
    ) -> None:
        self.ex = executor
        self.change = change
        self.provider = provider
        self.remote_id = remote_id
        self.pre = precondition or Precondition(PreconditionKind.NONE)
        self.write = write
        self.judge = judge
        self.verb = verb
        self.needs_live = needs_live  # read before every write, even under a VERSION precondition
        self.fresh: LiveObject | None = None
        self.rebased: str | None = None
        self.forced: tuple[ConflictField, ...] = ()

    def run(self) -> _WriteOutcome:
        attempts = 0
        for _ in range(self.ex.options.max_attempts + 4):
            current: LiveObject | None = None
            if self.pre.kind is not PreconditionKind.VERSION or self.needs_live:
                current = self.fresh if self.fresh is not None else self._read()
                self.fresh = None
                if current is None:
                    return self._gone()
                if self._changed(current):
                    decided = self._decide(current, stale=self.pre.kind is not PreconditionKind.NONE)
                    if decided is not None:
                        return decided
                    continue
            try:
                written = self.write(self.pre, current)
            except NotFoundError:
                return self._gone()
            except PreconditionFailed:
                live = self._read()
                if live is None:
                    return self._gone()
                decided = self._decide(live, stale=True)
            except APIError as exc:
                if not exc.retryable:
                    raise
                attempts += 1
                if attempts >= self.ex.options.max_attempts:
                    raise ProviderError(f"{self.verb} failed after {attempts} attempts: {exc}") from exc
                self.ex._backoff(self.change, attempts, exc)
                live = self._read()  # the write may have landed
                if live is None:
                    return self._gone()
                decided = self._decide(live, stale=self.provider.precondition_for(live) != self.pre, retried=True)
            else:
                return self._success(written, "")
            if decided is not None:
                return decided
        raise ProviderError(f"{self.verb} gave up: the object kept changing while we wrote it")

    def _changed(self, live: LiveObject) -> bool:
        """Does ``live`` fail the precondition (NONE: always judged)?"""
        if self.pre.kind is PreconditionKind.VERSION:
            return live.version != self.pre.value
        if self.pre.kind is PreconditionKind.FINGERPRINT:
            return live.fingerprint != self.pre.value
        return True

    def _read(self) -> LiveObject | None:
        return self.ex._read_one(self.change, self.provider, self.remote_id)

    def _gone(self) -> _WriteOutcome:
        if self.verb == "delete":
            return self._success(None, "it was already gone")
        return _WriteOutcome(Outcome.FAILED, f"{self.remote_id} no longer exists (deleted outside reconciler "
                                             "since the plan); run plan again")

    def _decide(self, live: LiveObject, *, stale: bool, retried: bool = False) -> _WriteOutcome | None:
        """After a re-read: a final outcome, or None to write again with ``self.pre`` refreshed."""
        judgement = self.judge(live)
        if judgement.verdict is Verdict.APPLIED:
            if retried:
                return self._success(live, "already live (an earlier attempt had landed)")
            if stale:
                return self._success(live, "already live (another writer had already set our values)")
            return self._success(live, "already live; nothing to write")
        if judgement.verdict is Verdict.CONFLICT and not self.ex.options.force_conflicts:
            return self._conflict(judgement.conflicts, again=False)
        fresh_pre = self.provider.precondition_for(live)
        if stale:
            if self.rebased is not None:
                return self._conflict(judgement.conflicts, again=True)
            self.rebased = self._what_changed(fresh_pre)
        if judgement.verdict is Verdict.CONFLICT:
            self.forced = judgement.conflicts
        self.pre = fresh_pre
        self.fresh = live
        return None

    def _what_changed(self, fresh: Precondition) -> str:
        if self.pre.kind is PreconditionKind.VERSION and fresh.kind is PreconditionKind.VERSION:
            return f"version {self.pre.value} -> {fresh.value}"
        return "fingerprint changed"

    def _conflict(self, conflicts: tuple[ConflictField, ...], *, again: bool) -> _WriteOutcome:
        names = ", ".join(c[0] for c in conflicts)
        entries = self.ex._history(self.change, self.provider, self.remote_id) if conflicts else []
        writers = tuple(attribute(c[0], entries) for c in conflicts)
        who = writer_names(writers)
        if again:
            what = "the object changed again while rebasing" + (f" (fields {names}, by {who})" if names else "")
        else:
            when = sorted({when_text(w.when) for w in writers if w.when})
            what = f"{who} changed {names} since the plan" + (f" (at {', '.join(when)})" if when else "")
        verb = "not updated" if self.verb == "update" else "not deleted"
        return _WriteOutcome(
            Outcome.CONFLICT,
            f"{what}; {verb}, their value{'s are' if len(conflicts) > 1 else ' is'} kept",
            conflicts=conflicts,
            writers=writers,
        )

    def _success(self, live: LiveObject | None, note: str) -> _WriteOutcome:
        done = f"{self.verb}d {self.remote_id}"
        parts = [f"{done}: {note}" if note else done]
        if self.forced:
            parts.append(f"forced: overwrote another writer's values of {', '.join(c[0] for c in self.forced)}")
            return _WriteOutcome(Outcome.DONE, "; ".join(parts), live, self.forced)
        if self.rebased is not None:
            ours = "none of the fields this change sets" if self.verb == "update" else "none of its managed fields"
            parts.append(f"rebased: the object changed since the plan ({self.rebased}) but {ours}; "
                         "re-read and retried once")
            return _WriteOutcome(Outcome.REBASED, "; ".join(parts), live)
        return _WriteOutcome(Outcome.DONE, "; ".join(parts), live)


class _RemoteIds(Mapping[str, str]):
    """address -> remote id, read through the executor's resources (a view, not a copy)."""

    def __init__(self, resources: Mapping[str, ResourceState]) -> None:
        self._resources = resources

    def __getitem__(self, address: str) -> str:
        return self._resources[address].remote_id

    def __contains__(self, address: object) -> bool:
        return address in self._resources

    def __iter__(self) -> Iterator[str]:
        return iter(self._resources)

    def __len__(self) -> int:
        return len(self._resources)


def _provider_stats(provider: Provider) -> dict[str, int] | None:
    """A provider's request counters if it exposes ``stats()`` (duck-typed, optional)."""
    stats = getattr(provider, "stats", None)
    if not callable(stats):
        return None
    try:
        raw = stats()
    except Exception:
        return None
    if not isinstance(raw, Mapping):
        return None
    return {k: int(raw.get(k, 0)) for k in BUDGET_KEYS}
