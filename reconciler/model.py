"""Core values shared by every stage: addresses, references, desired resources, live objects.

Flow: ``manifest`` loads YAML into :class:`DesiredResource` values; ``graph`` orders them;
providers read :class:`LiveObject` values; ``plan`` compares the two (plus state) into a Plan;
``apply`` executes it. All of these are frozen values; nothing here does I/O.

Addresses are ``provider.Kind/name`` (``mediamath.Campaign/summer-sale``), unique in a workspace.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Generic, NamedTuple, TypeVar

from reconciler.errors import Location

ADDRESS_RE = re.compile(r"^(?P<provider>[a-z][a-z0-9_]*)\.(?P<kind>[A-Z][A-Za-z0-9]*)/(?P<name>[A-Za-z0-9][A-Za-z0-9_.\-]*)$")
NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]*$")


_T = TypeVar("_T")


class _cached(Generic[_T]):  # noqa: N801 - used like a decorator, as functools.cached_property
    """A lock-free ``functools.cached_property`` for frozen (non-slots) dataclasses: the first
    read stores the value as an instance attribute, where later reads find it directly
    (``object.__setattr__``, not ``__dict__[...]``: no per-instance dict is materialised)."""

    def __init__(self, fn: Callable[[Any], _T]) -> None:
        self.fn = fn
        self.name = fn.__name__
        self.__doc__ = fn.__doc__

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name

    def __get__(self, obj: Any, owner: type | None = None) -> _T:
        if obj is None:
            return self  # type: ignore[return-value]
        value = self.fn(obj)
        object.__setattr__(obj, self.name, value)
        return value


@dataclass(frozen=True, order=True)
class Address:
    """``provider.Kind/name``: the identity of a managed resource in a workspace."""

    provider: str
    kind: str
    name: str

    def __str__(self) -> str:
        return self.text

    @_cached
    def text(self) -> str:
        """``provider.Kind/name`` (made once: addresses are formatted for every lookup by text)."""
        return f"{self.provider}.{self.kind}/{self.name}"

    @classmethod
    def parse(cls, text: str, default_provider: str | None = None) -> Address:
        """Parse ``provider.Kind/name``, or ``Kind/name`` when ``default_provider`` is given.

        Raises ValueError with a readable message (callers wrap it with a location).
        """
        m = ADDRESS_RE.match(text)
        if m:
            return cls(m["provider"], m["kind"], m["name"])
        if default_provider and "." not in text.split("/", 1)[0]:
            m = ADDRESS_RE.match(f"{default_provider}.{text}")
            if m:
                return cls(m["provider"], m["kind"], m["name"])
        raise ValueError(f"'{text}' is not an address of the form [provider.]Kind/name")


@dataclass(frozen=True)
class Ref:
    """A ``{ref: Kind/name}`` in a spec: resolves to the remote id of another managed resource."""

    target: Address

    def __str__(self) -> str:
        return f"${{ref:{self.target}}}"


class OnDelete(StrEnum):
    DELETE = "delete"
    ABANDON = "abandon"


@dataclass(frozen=True)
class Lifecycle:
    prevent_destroy: bool = False
    ignore_changes: tuple[str, ...] = ()
    on_delete: OnDelete | None = None  # None: the kind's default


@dataclass(frozen=True)
class DesiredResource:
    """One manifest document after loading, interpolation and validation.

    ``spec`` holds plain JSON values and :class:`Ref` objects. ``field_lines`` maps a dotted
    field path (``spec.total_budget``) to its line, for messages; for a ``generated`` resource
    the lines are the template's and ``location`` also names the instance (a CSV row).
    """

    address: Address
    spec: Mapping[str, Any]
    location: Location
    lifecycle: Lifecycle = Lifecycle()
    field_lines: Mapping[str, int] = field(default_factory=dict)
    labels: Mapping[str, str] = field(default_factory=dict)
    generated: bool = False  # made from a template (for_each, a group): no document of its own
    defaulted: frozenset[str] = frozenset()  # top-level spec fields a Defaults filled in

    @property
    def references(self) -> tuple[Address, ...]:
        """Every referenced address, sorted."""
        keys = self.ref_keys  # a plain spec holds Refs only under these keys
        refs = iter_refs(self.spec) if keys is None else [r for k in keys for r in iter_refs(self.spec[k])]
        return tuple(sorted({r.target for r in refs}))

    @_cached
    def ref_keys(self) -> tuple[str, ...] | None:
        """The top-level keys whose values hold a :class:`Ref`, in spec order; ``None`` when the
        spec is not plain JSON (a non-string key, a tuple, a non-dict mapping somewhere).
        Computed once: ``spec`` is never changed after loading.

        For a plain spec, ``resolve_refs(spec)`` equals ``spec`` with only these values resolved:
        every other value is already what resolving would copy it to.
        """
        spec = self.spec
        types = tuple(map(type, spec.values()))
        if _PLAIN_SCALARS_REF.issuperset(types) and _STR_ONLY.issuperset(map(type, spec)):
            if Ref not in types:  # flat (the common case): scalars and bare Refs only
                return ()
            return tuple(k for k, t in zip(spec, types, strict=True) if t is Ref)
        keys: list[str] = []
        for k, v in spec.items():
            if type(k) is not str:
                return None
            if type(v) in _PLAIN_SCALARS:
                continue
            holds_ref = _plain_json(v)
            if holds_ref is None:
                return None
            if holds_ref:
                keys.append(k)
        return tuple(keys)

    def location_of(self, path: str) -> Location:
        line = self.field_lines.get(path)
        return dataclasses.replace(self.location, line=line) if line else self.location


def iter_refs(value: Any) -> list[Ref]:
    """Every Ref inside a JSON-like value, in document order."""
    found: list[Ref] = []
    if isinstance(value, Ref):
        found.append(value)
    elif isinstance(value, Mapping):
        for v in value.values():
            found.extend(iter_refs(v))
    elif isinstance(value, (list, tuple)):
        for v in value:
            found.extend(iter_refs(v))
    return found


_PLAIN_SCALARS = frozenset({str, int, float, bool, type(None)})
_PLAIN_SCALARS_REF = _PLAIN_SCALARS | {Ref}
_STR_ONLY = frozenset({str})


def _plain_json(value: Any) -> bool | None:
    """Whether ``value`` holds a Ref (``True``/``False``), or ``None`` when it is not plain JSON:
    only dicts with string keys, lists, scalars and Refs are plain (``resolve_refs`` copies those
    to equal values of the same types)."""
    t = type(value)
    if t in _PLAIN_SCALARS:
        return False
    if t is Ref:
        return True
    if t is dict:
        found = False
        for k, v in value.items():
            if type(k) is not str:
                return None
            sub = _plain_json(v)
            if sub is None:
                return None
            found = found or sub
        return found
    if t is list:
        found = False
        for v in value:
            sub = _plain_json(v)
            if sub is None:
                return None
            found = found or sub
        return found
    return None


def resolve_refs(value: Any, ids: Mapping[str, str], *, keep_unknown: bool = False) -> Any:
    """A copy of ``value`` with every Ref replaced by its target's remote id from ``ids``.

    With ``keep_unknown`` a Ref whose target has no id yet stays a Ref (plan time: the id is
    "known after apply"); otherwise it raises KeyError naming the target (apply time).
    """
    if isinstance(value, Ref):
        target = str(value.target)
        if target in ids:
            return ids[target]
        if keep_unknown:
            return value
        raise KeyError(target)
    if isinstance(value, Mapping):
        return {str(k): resolve_refs(v, ids, keep_unknown=keep_unknown) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [resolve_refs(v, ids, keep_unknown=keep_unknown) for v in value]
    return value


@dataclass(frozen=True)
class LiveObject:
    """An object as a provider read it, already normalised to the manifest's vocabulary.

    ``fields`` uses the same names and value shapes as a manifest ``spec`` (ids of other
    objects are plain strings). ``observed`` holds server-side facts that are never compared
    with a manifest but must change the fingerprint when they change (e.g. mediarithmics
    ``last_modified_ts``), so an edit behind our back is noticed before a write. ``version`` is the API's optimistic-lock token where one exists
    (MediaMath); ``status`` is a short human word for states the spec cannot express
    (``invited`` for a partner invitation not yet accepted), shown in plan and drift.
    """

    kind: str
    remote_id: str
    fields: Mapping[str, Any]
    version: int | None = None
    status: str | None = None
    observed: Mapping[str, Any] = field(default_factory=dict)

    @property
    def fingerprint(self) -> str:
        """Hash of what a write must not overwrite unseen: ``fields`` plus ``observed``."""
        if not self.observed:
            return fingerprint(self.fields)
        return fingerprint({"fields": self.fields, "observed": self.observed})


def canonical_json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), default=str)


def fingerprint(value: Any) -> str:
    """A short stable hash of a JSON-like value (sha256 of its canonical JSON)."""
    return hashlib.sha256(canonical_json(value).encode()).hexdigest()[:32]


class PathPart(NamedTuple):
    """One step of a field path: a mapping key, or (``member``) the item of a keyed list whose
    key field (``KindInfo.list_keys``) is ``key``: ``members[1752]``. A digit key under a plain
    list is its position (``tags.0``)."""

    key: str
    member: bool = False


_PATH_TOKEN = re.compile(r"\[([^\]]*)\]|([^.\[\]]+)")


def parse_field_path(path: str) -> tuple[PathPart, ...]:
    """``members[1752].purposes`` -> (members, [1752], purposes); ``a.b`` -> (a, b)."""
    return tuple(PathPart(m[1], True) if m[1] is not None else PathPart(m[2]) for m in _PATH_TOKEN.finditer(path))


@dataclass(frozen=True)
class HistoryEntry:
    """One change in a vendor's change log, for drift attribution."""

    when: str  # ISO-8601
    user: str
    action: str  # add | update | delete
    field: str | None = None
    old: Any = None
    new: Any = None
