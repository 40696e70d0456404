"""Re-baselining: record live values as the last apply in state, without writing to any API.

Two commands take what drift found as the new truth of the state:

- ``apply --refresh-only`` (Terraform's ``apply -refresh-only``): every changed object's drifted
  fields become its last-applied values (with the live version, fingerprint and status), and
  objects deleted outside reconciler are forgotten. The manifests are untouched, so the next
  ``plan`` shows what it takes to bring the live objects back to them, and ``drift`` is clean.
- ``drift --accept`` (:mod:`reconciler.accept`) after writing live values into the manifests:
  the accepted fields only, so that both the next ``plan`` and ``drift`` are empty for them.

:func:`rebaseline` is pure; :func:`refresh_only` runs under the state lock and records.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from reconciler.drift import DriftItem, DriftStatus, FieldDrift
from reconciler.errors import InputError
from reconciler.model import LiveObject, PathPart, parse_field_path
from reconciler.state.base import ResourceState, StateBackend

STATUS_PATH = "(status)"  # drift's pseudo-field for a status only the API moves
ListKeys = Callable[[str, str], Mapping[str, str]]  # (provider, kind) -> KindInfo.list_keys


def set_path(spec: Mapping[str, Any], path: str, value: Any, list_keys: Mapping[str, str]) -> dict[str, Any]:
    """A copy of ``spec`` with ``path`` (:func:`reconciler.model.parse_field_path`) set to
    ``value``: a keyed-list member is replaced, added, or removed (``value`` None)."""
    out = copy.deepcopy(dict(spec))
    parts = parse_field_path(path)
    if parts:
        _set(out, parts, value, list_keys.get(parts[0].key, ""))
    return out


def _set(container: Any, parts: Sequence[PathPart], value: Any, list_key: str) -> None:
    head, rest = parts[0], parts[1:]
    if isinstance(container, dict) and not head.member:
        if not rest:
            container[head.key] = value
            return
        child = container.get(head.key)
        if child is None:
            child = container[head.key] = [] if rest[0].member else {}
        _set(child, rest, value, list_key)
    elif isinstance(container, list) and head.member:
        at = next((i for i, item in enumerate(container)
                   if isinstance(item, Mapping) and str(item.get(list_key)) == head.key), None)
        if not rest:
            if value is None:
                if at is not None:
                    del container[at]
            elif at is None:
                container.append(copy.deepcopy(value))
            else:
                container[at] = copy.deepcopy(value)
        elif at is not None:
            _set(container[at], rest, value, list_key)
    elif isinstance(container, list) and head.key.isdigit() and int(head.key) < len(container):
        if rest:
            _set(container[int(head.key)], rest, value, list_key)
        else:
            container[int(head.key)] = value


def rebaseline(rs: ResourceState, live: LiveObject, fields: Iterable[FieldDrift], list_keys: Mapping[str, str]) -> ResourceState:
    """``rs`` with the live values of ``fields`` as last applied, and the live object's version,
    fingerprint and status as last read."""
    spec: Mapping[str, Any] = rs.applied_spec
    for f in fields:
        if f.path != STATUS_PATH:
            spec = set_path(spec, f.path, f.live, list_keys)
    return replace(rs, applied_spec=spec, version=live.version, fingerprint=live.fingerprint, status=live.status)


@dataclass(frozen=True)
class RefreshOnly:
    """What ``apply --refresh-only`` records: changed objects re-baselined, deleted ones forgotten."""

    changed: tuple[DriftItem, ...]
    missing: tuple[DriftItem, ...]

    @property
    def empty(self) -> bool:
        return not (self.changed or self.missing)


def refresh_only_plan(items: Iterable[DriftItem]) -> RefreshOnly:
    chosen = list(items)
    return RefreshOnly(
        changed=tuple(i for i in chosen if i.status is DriftStatus.CHANGED),
        missing=tuple(i for i in chosen if i.status is DriftStatus.MISSING),
    )


def refresh_only(
    state: StateBackend, plan: RefreshOnly, resources: Mapping[str, ResourceState],
    live: Mapping[str, LiveObject | None], list_keys: ListKeys,
) -> None:
    """Record ``plan`` (the caller holds the lock and made it from this state)."""
    for item in plan.changed:
        rs, obj = resources.get(item.address), live.get(item.address)
        if rs is None or obj is None:
            raise InputError(f"{item.address}: not in the state or not read; run drift again")
        state.record(rebaseline(rs, obj, item.fields, list_keys(rs.provider, rs.kind)))
    for item in plan.missing:
        state.forget(item.address)
