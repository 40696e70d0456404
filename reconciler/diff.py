"""Field-level comparison of a desired spec with a live object: ownership, ignore rules, diff.

Used by the plan builder (desired vs live) and by drift (last-applied vs live). Rules:

- **Field ownership**: only fields written in the manifest are compared. :func:`owned_template`
  turns a (normalised) spec into the template of owned fields, minus ``ignore_changes`` paths
  and write-only fields; :func:`project` cuts a live object down to that template, recursively
  for mappings (a live key the manifest never wrote is dropped, a written key the live object
  lacks reads as ``None``). Lists are owned whole.
- **Fast path**: callers check ``matches(live, template)`` (``project(live, template) ==
  template`` without building the projection) first; only when that fails does
  :class:`FieldDiffer` look at the top-level fields, with ``==`` again per field, and only a
  differing *container* field goes through deepdiff (about 1 ms a call) to get nested paths
  (``parameters.REGION``). deepdiff output becomes :class:`FieldChange` values in one place
  (:meth:`FieldDiffer._from_deepdiff`), and ``FieldDiffer.deepdiff_calls`` counts the calls so
  tests can prove the fast path holds.
- **Lists whose order means nothing** (``KindInfo.list_keys``: field -> the item key that
  identifies a member, e.g. mediarithmics ``members`` by ``organisation_id``) are compared as sets:
  providers normalise them into a canonical order, and their diffs name the member, never a
  position: ``members[1581]`` added or removed, ``members[1752].purposes`` changed. The key ``""``
  marks a list of scalars, each its own identity (``region.include[US-CA]`` added); a dotted
  field (``region.include``) names a list inside a map field.

Values are JSON-like (dicts, lists, scalars) plus :class:`~reconciler.model.Ref` for ids not
known until apply; a Ref is a leaf here and a field holding one is never sent to deepdiff.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

from deepdiff import DeepDiff
from deepdiff.helper import notpresent

from reconciler.model import Ref
from reconciler.plan.model import FieldChange

_SCALARS = (str, int, float, bool, type(None))
_NO_KEYS: Mapping[str, str] = {}
_PATH_PARTS = re.compile(r"\.|\[|\]\.?")  # a.b, members[1581].purposes
_LEAVES = frozenset({*_SCALARS, list, tuple})


def split_path(path: str) -> tuple[str, ...]:
    """``spec.a.b`` / ``a.b`` -> ``("a", "b")``: ignore rules may carry the ``spec.`` prefix."""
    parts = tuple(p for p in path.split(".") if p)
    if parts and parts[0] == "spec":
        parts = parts[1:]
    return parts


def path_sort_key(path: str) -> tuple[tuple[int, int, str], ...]:
    """Sort dotted paths naturally: list indices numerically, names alphabetically."""
    key: list[tuple[int, int, str]] = []
    for part in filter(None, _PATH_PARTS.split(path)):
        key.append((0, int(part), "") if part.isdigit() else (1, 0, part))
    return tuple(key)


def _without(value: Mapping[str, Any], parts: tuple[str, ...]) -> dict[str, Any]:
    out = dict(value)
    head = parts[0]
    if head not in out:
        return out
    if len(parts) == 1:
        del out[head]
    elif isinstance(out[head], Mapping):
        out[head] = _without(out[head], parts[1:])
    return out


def owned_template(
    spec: Mapping[str, Any],
    ignore: Iterable[str] = (),
    write_only: Iterable[str] = (),
) -> dict[str, Any]:
    """The owned fields of ``spec``: everything written, minus ignored paths and write-only fields.

    A path through a list (``members.0``) cannot be ignored on its own: lists are owned whole.
    """
    out = dict(spec)
    for name in write_only:
        out.pop(name, None)
    for path in ignore:
        parts = split_path(path)
        if parts:
            out = _without(out, parts)
    return out


def project(live: Any, template: Any) -> Any:
    """Cut ``live`` down to the shape of ``template`` (mappings recursively, lists whole)."""
    t = type(template)
    if t is dict or (t not in _LEAVES and isinstance(template, Mapping)):
        if not (type(live) is dict or isinstance(live, Mapping)):
            return live
        get = live.get
        # hot path: a dict template is cloned (its table is reused: no resizing as keys arrive)
        # and every value replaced; leaves inline, only mappings recurse
        out = template.copy() if t is dict else dict.fromkeys(template)
        for k, v in template.items():
            out[k] = get(k) if type(v) in _LEAVES else project(get(k), v)
        return out
    return live


def matches(live: Any, template: Any) -> bool:
    """``project(live, template) == template``, without building the projection (the fast path:
    most live objects match their template)."""
    t = type(template)
    if t is dict and type(live) is dict and template.items() <= live.items():
        return True  # every written value is there, equal as it stands (checked in C)
    if t is dict or (t not in _LEAVES and isinstance(template, Mapping)):
        if not (type(live) is dict or isinstance(live, Mapping)):
            return bool(live == template)
        get = live.get
        for k, v in template.items():
            x = get(k)
            if type(v) in _LEAVES:
                if x is not v and x != v:  # as dict equality compares values: identity first
                    return False
            elif not matches(x, v):
                return False
        return True
    return bool(live == template)


def contains_ref(value: Any) -> bool:
    """True if ``value`` is or holds a :class:`Ref` (hot path: exact type checks first)."""
    t = type(value)
    if t in _SCALARS:
        return False
    if t is Ref:
        return True
    if t is dict or isinstance(value, Mapping):
        value = value.values()
    elif not (t is list or t is tuple):
        return isinstance(value, Ref)
    for v in value:  # noqa: SIM110 - hot path: a plain loop is cheaper than any(generator)
        if type(v) not in _SCALARS and contains_ref(v):
            return True
    return False


def _is_container(value: Any) -> bool:
    return isinstance(value, (Mapping, list, tuple))


def _plain(value: Any) -> Any:
    return None if value is notpresent else value


class FieldDiffer:
    """Field-level differences between two owned mappings, deepdiff only where needed.

    ``deepdiff_calls`` counts deepdiff invocations (one per differing container field).
    One differ per plan or drift run; not shared between threads.
    """

    def __init__(self) -> None:
        self.deepdiff_calls = 0

    def changes(
        self,
        before: Mapping[str, Any] | None,
        after: Mapping[str, Any] | None,
        keyed: Mapping[str, str] = _NO_KEYS,
    ) -> tuple[FieldChange, ...]:
        """Every differing field, sorted by path. Keys missing on one side read as ``None``;
        list fields named in ``keyed`` are compared member by member (see the module docstring)."""
        b = before or {}
        a = after or {}
        out: list[FieldChange] = []
        for key in set(b) | set(a):
            bv, av = b.get(key), a.get(key)
            if bv == av:
                continue
            identity = keyed.get(str(key))
            old_members, new_members = _members(bv, identity), _members(av, identity)
            inner = _inner_keys(str(key), keyed) if isinstance(bv, Mapping) and isinstance(av, Mapping) else None
            if old_members is not None and new_members is not None:
                out.extend(_member_changes(str(key), old_members, new_members))
            elif inner:
                out.extend(FieldChange(f"{key}.{fc.path}", fc.before, fc.after) for fc in self.changes(bv, av, inner))
            else:
                out.extend(self.field_changes(str(key), bv, av))
        return tuple(sorted(out, key=lambda fc: path_sort_key(fc.path)))

    def field_changes(self, path: str, before: Any, after: Any) -> list[FieldChange]:
        """The changes inside one differing field (nested paths for containers)."""
        if (
            _is_container(before)
            and _is_container(after)
            and isinstance(before, Mapping) == isinstance(after, Mapping)
            and not contains_ref(before)
            and not contains_ref(after)
        ):
            self.deepdiff_calls += 1
            found = self._from_deepdiff(
                path, DeepDiff(before, after, view="tree", ignore_numeric_type_changes=True)
            )
            if found:
                return found
        return [FieldChange(path, before, after)]

    @staticmethod
    def _from_deepdiff(prefix: str, diff: Any) -> list[FieldChange]:
        """The single boundary where deepdiff's tree output becomes FieldChange values."""
        out: list[FieldChange] = []
        for report_type in sorted(diff):
            for level in diff[report_type]:
                steps = level.path(output_format="list")
                path = ".".join([prefix, *(str(s) for s in steps)])
                out.append(FieldChange(path, _plain(level.t1), _plain(level.t2)))
        return out


def _inner_keys(field: str, keyed: Mapping[str, str]) -> dict[str, str]:
    """The ``keyed`` entries below a map field (``region.include`` -> ``include``)."""
    prefix = field + "."
    return {k[len(prefix):]: v for k, v in keyed.items() if k.startswith(prefix)}


def _members(value: Any, identity: str | None) -> dict[str, Any] | None:
    """A list of mappings that all carry ``identity``, as {identity value: item}; a list of
    scalars when ``identity`` is ``""`` (each its own identity); else None."""
    if identity is None or not isinstance(value, (list, tuple)):
        return None
    if identity == "":
        scalars = {str(item): item for item in value if type(item) in _SCALARS and item is not None}
        return scalars if len(scalars) == len(value) else None
    out: dict[str, Any] = {}
    for item in value:
        if not isinstance(item, Mapping) or item.get(identity) is None or contains_ref(item):
            return None
        out[str(item[identity])] = item
    return out if len(out) == len(value) else None  # a repeated identity: not a set


def _member_changes(path: str, before: Mapping[str, Any], after: Mapping[str, Any]) -> list[FieldChange]:
    """Set-like list changes named by member: ``path[id]`` added/removed, ``path[id].key`` changed."""
    out: list[FieldChange] = []
    for ident in sorted(set(before) | set(after), key=path_sort_key):
        old, new = before.get(ident), after.get(ident)
        if old == new:
            continue
        if old is None or new is None:
            out.append(FieldChange(f"{path}[{ident}]", old, new))
            continue
        for key in sorted(set(old) | set(new)):
            if old.get(key) != new.get(key):
                out.append(FieldChange(f"{path}[{ident}].{key}", old.get(key), new.get(key)))
    return out


def compare_owned(
    template: dict[str, Any],
    live_fields: Mapping[str, Any],
    differ: FieldDiffer,
    keyed: Mapping[str, str] = _NO_KEYS,
) -> tuple[dict[str, Any], tuple[FieldChange, ...]]:
    """Project ``live_fields`` onto ``template``; return (projection, changes live -> template).

    Equal values take the fast path (no projection built, no deepdiff): the projection returned
    is then ``template`` itself, which equals it (neither is changed afterwards). ``keyed``: the
    kind's set-like list fields (``KindInfo.list_keys``).
    """
    if matches(live_fields, template):
        return template, ()
    projected = project(live_fields, template)
    return projected, differ.changes(projected, template, keyed)


def top_field(path: str) -> str:
    """The top-level field of a change path: ``members[1581].purposes`` -> ``members``."""
    return path.split(".", 1)[0].split("[", 1)[0]


def top_level_fields(changes: Iterable[FieldChange]) -> tuple[str, ...]:
    """The top-level field names touched by ``changes`` (what an update must send)."""
    return tuple(sorted({top_field(fc.path) for fc in changes}))
