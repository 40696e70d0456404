"""Drift: classify every managed object against its last apply, and render the report.

``reconciler drift`` refreshes live objects and hands them here with the state. Each managed
address becomes one :class:`DriftItem`:

- ``in-sync``: the live owned fields equal the last-applied spec (both normalised);
- ``changed``: some differ (out-of-band edits), listed as :class:`FieldDrift` with who changed
  each field and when, from the provider's change history where it keeps one (MediaMath
  ``/history``): the newest entry touching the field wins;
- ``missing``: the object was deleted behind our back.

Console steps the manifests still wait for (changes only a person can make, e.g. mediarithmics
in observe-only mode) are listed as :class:`PendingStep` values and count as drift until done.

Objects the caller found under managed parents that no state entry holds are ``unmanaged``,
named by their live name and parent (they have no address); switched-off ones (MediaMath
``status=0``, what a delete leaves behind in v2.0) are only counted, never listed: a deactivated
object cannot be deleted and would otherwise stay "unmanaged" forever. ``coverage`` is the share
of live objects that are managed (None when there are none: nothing is managed). Field ownership
and ignore rules (``lifecycle.ignore_changes`` plus the workspace's drift rules, both given by
``ignore``) work as in the plan (:mod:`reconciler.diff`). ``has_drift`` is true for changed or
missing objects and pending console steps (``drift`` exits 2); unmanaged objects are reported
but are not drift (exit 0) unless the caller asks (``drift --fail-on-unmanaged``).

:func:`classify` is pure apart from the ``history`` callable, which it calls only for changed
objects. Renderers: :func:`render_drift_text`, :func:`render_drift_json`,
:func:`render_drift_markdown`.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from enum import StrEnum
from typing import Any

from reconciler.attribution import newest_touching, when_text
from reconciler.diff import FieldDiffer, owned_template, project
from reconciler.model import HistoryEntry, LiveObject
from reconciler.plan.model import value_to_json
from reconciler.plan.render import format_value
from reconciler.schematype import typed_at
from reconciler.state.base import StateSnapshot
from reconciler.textsafe import markdown_inline, terminal

DRIFT_FORMAT_VERSION = 1


class DriftStatus(StrEnum):
    IN_SYNC = "in-sync"
    CHANGED = "changed"
    MISSING = "missing"
    UNMANAGED = "unmanaged"


@dataclass(frozen=True)
class FieldDrift:
    """One field changed out of band: last-applied value, live value, and who/when if known."""

    path: str
    applied: Any
    live: Any
    changed_by: str | None = None
    changed_at: str | None = None


@dataclass(frozen=True)
class DriftItem:
    """One object's drift. Unmanaged objects have no address: ``address`` is then only a key
    (``provider.Kind/<remote id>``) and they are shown by ``name`` (live) and ``parent``."""

    address: str
    provider: str
    kind: str
    remote_id: str
    status: DriftStatus
    fields: tuple[FieldDrift, ...] = ()
    live_status: str | None = None
    name: str | None = None  # unmanaged: the live object's name (or other identifying field)
    parent: str | None = None  # unmanaged: the managed parent's address

    @property
    def label(self) -> str:
        """How the report names the object: its address, or for an unmanaged one
        ``mediamath.Strategy "Copy of X" (id 1000020) under mediamath.Campaign/summer``."""
        if self.status is not DriftStatus.UNMANAGED:
            return self.address
        name = f" {json.dumps(self.name, ensure_ascii=False)}" if self.name else ""
        under = f" under {self.parent}" if self.parent else ""
        return f"{self.provider}.{self.kind}{name} (id {self.remote_id}){under}"


@dataclass(frozen=True)
class UnmanagedObject:
    """A live object found under a managed parent; ``parent`` is that parent's address, ``name``
    the live value that names it, ``inactive`` true when it is switched off (not counted)."""

    provider: str
    live: LiveObject
    parent: str | None = None
    name: str | None = None
    inactive: bool = False


@dataclass(frozen=True)
class PendingStep:
    """A change only a person can make (the API cannot), still to do: ``steps`` for ``address``."""

    address: str
    steps: tuple[str, ...]


@dataclass(frozen=True)
class DriftReport:
    items: tuple[DriftItem, ...]
    coverage: float | None  # managed / (managed + unmanaged) among live objects; None: there are none
    pending: tuple[PendingStep, ...] = ()  # console steps the manifests still wait for
    inactive: int = 0  # switched-off objects under managed parents that no state holds (not counted)

    @property
    def has_unmanaged(self) -> bool:
        return any(i.status is DriftStatus.UNMANAGED for i in self.items)

    @property
    def has_drift(self) -> bool:
        """Changed or missing objects, or console steps still pending: live is not as written."""
        return bool(self.pending) or any(i.status in (DriftStatus.CHANGED, DriftStatus.MISSING) for i in self.items)

    def counts(self) -> dict[DriftStatus, int]:
        out = dict.fromkeys(DriftStatus, 0)
        for item in self.items:
            out[item.status] += 1
        return out


NormalizeFn = Callable[[str, str, Mapping[str, Any]], Mapping[str, Any]]  # (provider, kind, spec)
IgnoreFn = Callable[[str], Iterable[str]]  # address -> ignored field paths
HistoryFn = Callable[[str, str, str], Sequence[HistoryEntry]]  # (provider, kind, remote_id), newest last
WriteOnlyFn = Callable[[str, str], Iterable[str]]  # (provider, kind) -> write-only fields
ListKeysFn = Callable[[str, str], Mapping[str, str]]  # (provider, kind) -> KindInfo.list_keys


def _no_history(provider: str, kind: str, remote_id: str) -> Sequence[HistoryEntry]:
    return []


def _no_write_only(provider: str, kind: str) -> Iterable[str]:
    return ()


def _no_list_keys(provider: str, kind: str) -> Mapping[str, str]:
    return {}


def classify(
    state: StateSnapshot,
    live: Mapping[str, LiveObject | None],
    normalize: NormalizeFn,
    ignore: IgnoreFn,
    unmanaged: Sequence[UnmanagedObject] = (),
    history: HistoryFn = _no_history,
    write_only: WriteOnlyFn = _no_write_only,
    differ: FieldDiffer | None = None,
    list_keys: ListKeysFn = _no_list_keys,
) -> DriftReport:
    """Classify every managed address of ``state`` (and the ``unmanaged`` objects given).

    ``live`` holds the refreshed objects by address (None: gone); an address absent from
    ``live`` was not refreshed and is left out of the report.
    """
    differ = differ or FieldDiffer()
    items: list[DriftItem] = []
    managed_ids: set[tuple[str, str, str]] = set()
    for address in sorted(state.resources):
        rs = state.resources[address]
        managed_ids.add((rs.provider, rs.kind, rs.remote_id))
        if address not in live:
            continue
        obj = live[address]
        if obj is None:
            items.append(DriftItem(address, rs.provider, rs.kind, rs.remote_id, DriftStatus.MISSING))
            continue
        template = owned_template(
            normalize(rs.provider, rs.kind, rs.applied_spec),
            ignore(address),
            write_only(rs.provider, rs.kind),
        )
        projected = project(obj.fields, template)
        # A status the spec cannot express (a partner invitation accepted, say) drifts too.
        status_changed = rs.status is not None and obj.status != rs.status
        if projected == template and not status_changed:
            items.append(
                DriftItem(
                    address, rs.provider, rs.kind, obj.remote_id, DriftStatus.IN_SYNC, live_status=obj.status
                )
            )
            continue
        changes = differ.changes(template, projected, list_keys(rs.provider, rs.kind)) if projected != template else []
        entries = list(history(rs.provider, rs.kind, obj.remote_id)) if changes else []
        fields = tuple(_attribute(FieldDrift(fc.path, fc.before, fc.after), entries) for fc in changes)
        if status_changed:
            fields += (FieldDrift("(status)", rs.status, obj.status, None, None),)
        items.append(
            DriftItem(address, rs.provider, rs.kind, obj.remote_id, DriftStatus.CHANGED, fields, obj.status)
        )
    managed_live = sum(1 for i in items if i.status in (DriftStatus.IN_SYNC, DriftStatus.CHANGED))
    extra: dict[str, DriftItem] = {}
    inactive: set[tuple[str, str, str]] = set()
    for u in unmanaged:
        key = (u.provider, u.live.kind, u.live.remote_id)
        if key in managed_ids:
            continue
        if u.inactive:
            inactive.add(key)
            continue
        address = f"{u.provider}.{u.live.kind}/{u.live.remote_id}"
        extra[address] = DriftItem(
            address,
            u.provider,
            u.live.kind,
            u.live.remote_id,
            DriftStatus.UNMANAGED,
            live_status=u.live.status,
            name=u.name,
            parent=u.parent,
        )
    items.extend(sorted(extra.values(), key=lambda i: (i.parent or "", i.kind, i.name or "", _id_key(i.remote_id))))
    total = managed_live + len(extra)
    return DriftReport(items=tuple(items), coverage=managed_live / total if total else None, inactive=len(inactive))


def _id_key(remote_id: str) -> tuple[int, str]:
    """Numeric ids in numeric order (``999`` before ``1000``)."""
    return (len(remote_id), remote_id) if remote_id.isdigit() else (1 << 30, remote_id)


def _attribute(field: FieldDrift, entries: Sequence[HistoryEntry]) -> FieldDrift:
    """Who changed ``field`` and when: the newest history entry touching it (:mod:`reconciler.attribution`)."""
    newest = newest_touching(entries, field.path)
    if newest is None:
        return field
    return FieldDrift(field.path, field.applied, field.live, newest.user or None, newest.when or None)


# -- renderers ------------------------------------------------------------------------------
SchemaOf = Callable[[str, str], "Mapping[str, Any] | None"]  # (provider, kind) -> the spec's JSON Schema


def typed_for_reading(report: DriftReport, schema_of: SchemaOf) -> DriftReport:
    """``report`` with values typed as the manifests write them, for the text and Markdown
    renderers: ``vertical_id 12 -> 13``, not ``"12" -> "13"`` (ids are text in the canonical
    form; :mod:`reconciler.schematype`). The JSON report keeps the canonical values."""
    items = []
    for item in report.items:
        schema = schema_of(item.provider, item.kind) if item.fields else None
        fields = tuple(
            replace(f, applied=typed_at(schema, f.path, f.applied), live=typed_at(schema, f.path, f.live))
            for f in item.fields
        ) if schema is not None else item.fields
        items.append(replace(item, fields=fields))
    return replace(report, items=tuple(items))


def _percent(value: float) -> str:
    return f"{value * 100:.1f}%"


def coverage_text(report: DriftReport) -> str:
    """``coverage 80.0% (4 of 5 live objects managed)``, or ``coverage: nothing managed``."""
    n = report.counts()
    managed = n[DriftStatus.IN_SYNC] + n[DriftStatus.CHANGED]
    total = managed + n[DriftStatus.UNMANAGED]
    if report.coverage is None:
        text = "coverage: nothing managed" + (
            f" ({n[DriftStatus.MISSING]} managed object{'s' if n[DriftStatus.MISSING] != 1 else ''} missing)"
            if n[DriftStatus.MISSING] else ""
        )
    else:
        text = f"coverage {_percent(report.coverage)} ({managed} of {total} live objects managed)"
    if report.inactive:
        text += f"; {report.inactive} switched-off object{'s' if report.inactive != 1 else ''} not counted"
    return text


def drift_summary(report: DriftReport) -> str:
    n = report.counts()
    coverage = coverage_text(report)
    if report.has_drift:
        pending = f", {len(report.pending)} waiting for a console step" if report.pending else ""
        return (
            f"Drift: {n[DriftStatus.CHANGED]} changed, {n[DriftStatus.MISSING]} missing, "
            f"{n[DriftStatus.UNMANAGED]} unmanaged, {n[DriftStatus.IN_SYNC]} in sync{pending}; {coverage}."
        )
    if report.coverage is None:  # e.g. after a destroy: say so, not "100.0% (0 of 0)"
        return f"No drift: {coverage.removeprefix('coverage: ')}."
    unmanaged = f"; {n[DriftStatus.UNMANAGED]} unmanaged" if n[DriftStatus.UNMANAGED] else ""
    in_sync = n[DriftStatus.IN_SYNC]
    matches = f"{in_sync} managed object{'s match their' if in_sync != 1 else ' matches its'} last apply"
    return f"No drift: {matches}{unmanaged}; {coverage}."


UNMANAGED_NOTE = (
    "Unmanaged objects are reported, not drift (exit 0; --fail-on-unmanaged exits 2 for them). "
    "Take one over by writing its manifest and running 'reconciler import ADDRESS ID', or export "
    "them all with 'reconciler export'."
)


def pending_lines(pending: Sequence[PendingStep], after_apply: bool = False) -> list[str]:
    """The pending console steps as apply and drift print them (a heading, then per address)."""
    if not pending:
        return []
    done = "apply made every change the APIs can make; " if after_apply else ""
    lines = [f"Pending console steps ({len(pending)}): {done}these changes need a person (the API cannot make "
             "them) and stay in 'plan' and 'drift' until done:"]
    for p in pending:
        lines.append(f"  {p.address}:")
        lines += [f"    - {step}" for step in p.steps]
    return lines


def changed_by_text(user: str | None, when: str | None) -> str:
    """`` (changed by jdoe at 2026-11-30 14:02 UTC)``, or what of it is known, or "" (times as
    plan and conflict messages show them; JSON keeps the API's text)."""
    when = when_text(when) if when else when
    if user and when:
        return f" (changed by {user} at {when})"
    if user:
        return f" (changed by {user})"
    if when:
        return f" (changed at {when})"
    return ""


def _attribution(f: FieldDrift) -> str:
    return changed_by_text(f.changed_by, f.changed_at)


def _label(item: DriftItem) -> str:
    return item.label + (f" [status: {item.live_status}]" if item.live_status else "")


def render_drift_text(report: DriftReport) -> str:
    """One line per changed field, missing or unmanaged object, then the summary line."""
    lines: list[str] = []
    for item in report.items:
        if item.status is DriftStatus.CHANGED:
            for f in item.fields:
                lines.append(
                    f"~ {_label(item)}: {f.path} {format_value(f.applied)} -> {format_value(f.live)}{_attribution(f)}"
                )
        elif item.status is DriftStatus.MISSING:
            lines.append(f"- {item.address}: missing (id {item.remote_id} was deleted outside reconciler)")
        elif item.status is DriftStatus.UNMANAGED:
            lines.append(f"? {_label(item)}: unmanaged (not in any manifest)")
    if lines:
        lines.append("")
    if report.pending:
        lines += [*pending_lines(report.pending), ""]
    if report.has_unmanaged:
        lines += [UNMANAGED_NOTE, ""]
    lines.append(drift_summary(report))
    return terminal("\n".join(lines)) + "\n"  # live values and names: no control characters


def render_drift_json(report: DriftReport) -> dict[str, Any]:
    return {
        "format_version": DRIFT_FORMAT_VERSION,
        "has_drift": report.has_drift,
        "has_unmanaged": report.has_unmanaged,
        "coverage": report.coverage,
        "summary": {s.value: c for s, c in report.counts().items()},
        "inactive_not_counted": report.inactive,
        "items": [
            {
                "address": None if i.status is DriftStatus.UNMANAGED else i.address,
                "provider": i.provider,
                "kind": i.kind,
                "remote_id": i.remote_id,
                "status": i.status.value,
                "live_status": i.live_status,
                "name": i.name,
                "parent": i.parent,
                "fields": [
                    {
                        "path": f.path,
                        "applied": value_to_json(f.applied),
                        "live": value_to_json(f.live),
                        "changed_by": f.changed_by,
                        "changed_at": f.changed_at,
                    }
                    for f in i.fields
                ],
            }
            for i in report.items
        ],
        "pending_console_steps": [{"address": p.address, "steps": list(p.steps)} for p in report.pending],
    }


def _cell(text: str | None, code: bool = False) -> str:
    """A Markdown table cell: live text cannot add columns, lines, links or mentions."""
    if not text:
        return ""
    escaped = markdown_inline(text)
    return f"<code>{escaped}</code>" if code else escaped


def render_drift_markdown(report: DriftReport) -> str:
    """A table of every changed field, missing and unmanaged object, for an issue or PR comment."""
    out = ["### reconciler drift", "", f"**{drift_summary(report)}**", ""]
    rows: list[str] = []
    for item in report.items:
        status = item.status.value + (f" ({markdown_inline(item.live_status)})" if item.live_status else "")
        if item.status is DriftStatus.CHANGED:
            for f in item.fields:
                who = _attribution(f).strip().strip("()")
                rows.append(
                    f"| {status} | {_cell(item.address, True)} | {_cell(f.path, True)} | "
                    f"{_cell(format_value(f.applied), True)} | {_cell(format_value(f.live), True)} | {_cell(who)} |"
                )
        elif item.status is not DriftStatus.IN_SYNC:
            rows.append(f"| {status} | {_cell(item.label, True)} | | | | |")
    if rows:
        out.extend(
            ["| Status | Resource | Field | Last applied | Live | Changed by |", "|---|---|---|---|---|---|"]
        )
        out.extend(rows)
        out.append("")
    if report.pending:
        out.extend([f"#### Pending console steps ({len(report.pending)})", ""])
        for p in report.pending:
            out.append(f"- {_cell(p.address, True)}")
            out.extend(f"  - {_cell(step)}" for step in p.steps)
        out.append("")
    if report.has_unmanaged:
        out.extend([f"_{_cell(UNMANAGED_NOTE)}_", ""])
    return "\n".join(out).rstrip("\n") + "\n"
