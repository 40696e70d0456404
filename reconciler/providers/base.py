"""The provider interface: everything the engine may ask of a vendor API, and nothing more.

A provider serves a set of *kinds* (``Campaign``, ``Cleanroom``...). For each kind it declares a
:class:`KindInfo` (JSON Schema of the spec, natural key, parent, immutable fields, deletability)
and implements the verbs below. The engine never sees HTTP, XML or vendor field names: providers
translate both ways, and normalise vendor quirks (0/1 booleans, money strings, zoned dates,
renamed response fields) so that a live object compares equal to the manifest that produced it.

Reading (used by plan, drift, import, export; must not write anything):

- ``read(kind, ids)``: batched read of many known remote ids. Missing ids are simply absent
  from the result (the engine reports them as deleted out of band). Providers must batch:
  MediaMath reads 100 ids per request with ``q=(id,...)``; never one GET per object where the
  API offers better.
- ``list_children(kind, parent_id)``: every object of ``kind`` under a parent (for drift's
  *unmanaged* objects, export, and natural-key lookups).
- ``find_existing(kind, specs)``: for each spec (references resolved), every live object its
  natural key matches. Batched like refresh: one listing per parent, never one call per spec
  (the default lists ``list_children`` once per distinct parent and matches the natural-key
  fields of the normalised spec; providers override it where the API offers better). The one
  lookup behind adoption at plan time, crash recovery and the re-check after a failed create, so
  nothing is created twice. ``find_by_natural_key(kind, spec)`` is its one-spec form (several
  matches raise :class:`AmbiguousMatchError`).
- ``history(kind, remote_id)``: optional change log for attribution (who, when, old/new): drift,
  the plan's "reverts jdoe's change", conflicts and rebases name the other writer from it.
- ``switched_off(kind, live)``: whether a live object is switched off for good (MediaMath
  ``status=0``): drift does not count such objects under managed parents as unmanaged.
- ``normalize(kind, spec)``: the per-kind normalisation hook applied to a *desired* spec (with
  references already resolved to ids) so it is comparable with ``LiveObject.fields``.

Writing (used only by apply):

- ``create(kind, spec)`` -> LiveObject. Never retried blindly by the engine.
- ``update(kind, remote_id, changes, precondition)`` -> LiveObject. ``changes`` holds only the
  fields to set (already resolved and in manifest vocabulary). For ``PreconditionKind.VERSION``
  the provider sends the version and must raise :class:`PreconditionFailed` when the server
  says it is stale (MediaMath 409 ``conflict``). For ``FINGERPRINT`` preconditions the engine
  itself re-reads and compares before calling ``update``.
- ``delete(kind, remote_id, precondition)``.

Errors: raise subclasses of :class:`reconciler.errors.APIError` (``RateLimitedError`` with
``retry_after`` for 429, ``ServerError`` for 5xx, ``TransportError`` for dropped connections);
the engine's executor decides about retries. Error messages never include secrets.

Providers never import the engine's internals beyond this module and ``reconciler.model`` /
``reconciler.errors``; they never import the sandbox.
"""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from enum import StrEnum
from functools import cached_property
from pathlib import Path
from typing import Any

from reconciler.errors import AmbiguousMatchError, ProviderError
from reconciler.model import HistoryEntry, LiveObject, OnDelete, Ref


class PreconditionKind(StrEnum):
    VERSION = "version"  # the API's own optimistic-lock token (MediaMath ``version``)
    FINGERPRINT = "fingerprint"  # hash of the normalised live object, re-read before writing
    NONE = "none"  # creates: the natural key must not exist yet


@dataclass(frozen=True)
class Precondition:
    kind: PreconditionKind
    value: int | str | None = None

    def to_json(self) -> dict[str, Any]:
        return {"kind": self.kind.value, "value": self.value}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Precondition:
        return cls(PreconditionKind(data["kind"]), data.get("value"))


class PreconditionFailed(ProviderError):
    """The server refused a write because the object changed since it was read."""

    def __init__(self, message: str, *, current: LiveObject | None = None) -> None:
        super().__init__(message)
        self.current = current


@dataclass(frozen=True)
class SpecProblem:
    """What a kind's semantic check found: ``path`` inside the spec (``end_date``,
    ``assignments.1.macro``) and a message that says how to fix it."""

    path: str
    message: str


# A kind's semantic check (``KindInfo.checks``): the spec (references left as Refs) and a lookup
# of the spec of a document it refers to (None when that document is not in the manifests).
RelatedSpec = Callable[[Ref], "Mapping[str, Any] | None"]
SpecCheck = Callable[[Mapping[str, Any], RelatedSpec], Iterable[SpecProblem]]


@dataclass(frozen=True)
class KindInfo:
    """What the engine needs to know about one kind.

    - ``schema``: JSON Schema (Draft 2020-12) of the ``spec`` mapping (from ``schemas/``).
    - ``natural_key``: spec fields that identify an object without its remote id
      (e.g. ``("advertiser_id", "name")``), used for crash recovery and import.
    - ``parent_field``: the spec field holding the parent's id, if any (``campaign_id``), and
      ``parent_kind`` the kind it points at (derived from the field name when not set:
      ``campaign_id`` -> ``Campaign``).
    - ``immutable_fields``: changing one of these needs delete + create (``replace``).
    - ``read_only``: looked up, never created, updated or deleted (MediaMath Organization).
    - ``deletable``: False where the API has no delete (LiveRamp clean-room datasets): removing
      such a resource from the manifests abandons it.
    - ``default_on_delete``: what removing the manifest does when ``lifecycle.on_delete`` is
      not set (clean rooms default to ``abandon``).
    - ``write_only_fields``: accepted on write but never returned by reads (not compared).
    - ``delete_means``: what "delete" does where the API has no real delete (MediaMath
      deactivates: ``status=0``); shown in the plan next to the deletion.
    - ``deactivates``: a delete switches the object off (``status=0``) instead of removing it:
      plan and apply say "deactivate"/"deactivated", never "delete".
    - ``vendor_fields``: the API's names for manifest fields where they are not simply the
      camelCase form (``startSchedule`` -> ``start``), so an API error at apply names the
      manifest's field and line (:mod:`reconciler.apply.sources`).
    - ``unique_key``: the API holds at most one object per natural key (it refuses a second, as
      LiveRamp does for a question in a room): two documents with one natural key are then a
      validation error. Where names may repeat (MediaMath), they are two objects.
    - ``money_fields``: amounts of money, in the currency named by ``currency_field`` on this
      object or on its nearest ancestor (a MediaMath strategy's budget is in its campaign's
      currency); plan summaries show them with the currency, the delta and the percentage.
      ``total_fields`` (a subset: budgets) are also summed per ``summary_group`` and overall.
    - ``summary_group``: plan summaries total the money of everything under an object of this
      kind (MediaMath advertisers).
    - ``datetime_fields``: date-times, shown in one way by the plan: in the zone named by
      ``zone_field`` (this object's, e.g. a MediaMath campaign's ``zone_name``) with its
      offset, else in UTC with ``Z``; a time without an offset is read in that zone too.
    - ``checks``: semantic checks the API would enforce, run by ``validate`` without credentials
      once the spec passed its schema (real dates, start before end, schedule rules...): one place
      per kind, in the provider's ``checks`` module.
    - ``list_keys``: list fields whose order means nothing, with the item key naming a member
      (mediarithmics ``{"members": "organisation_id"}``): the provider normalises them into one
      order, and diffs name the member (``members[1752].purposes``), never a position. The key
      ``""`` marks a list of scalars (each its own identity), and a dotted field names a list
      inside a map (MediaMath ``{"region.include": ""}``: ``region.include[US-CA]``).
    - ``scan_unmanaged``: False where listing the kind under every managed parent costs too much
      for ``drift``'s unmanaged-object scan (MediaMath StrategyTargeting: one request per
      dimension per strategy); such objects are still exported and adopted.
    - ``findable_with``: when set, natural-key lookup can find an object only if its spec sets
      one of these fields (a LiveRamp question is listed only through the clean room named by
      ``cleanroom_id``). A create without them that is interrupted cannot be checked afterwards,
      so the plan warns before such a create and recovery says a duplicate is possible.
    """

    name: str
    schema: Mapping[str, Any]
    natural_key: tuple[str, ...] = ("name",)
    parent_field: str | None = None
    parent_kind: str | None = None  # kind ``parent_field`` points at (default: derived from its name)
    immutable_fields: frozenset[str] = frozenset()
    read_only: bool = False
    deletable: bool = True
    default_on_delete: OnDelete = OnDelete.DELETE
    write_only_fields: frozenset[str] = frozenset()
    findable_with: tuple[str, ...] = ()
    delete_means: str = ""
    deactivates: bool = False
    list_keys: Mapping[str, str] = field(default_factory=dict)
    vendor_fields: Mapping[str, str] = field(default_factory=dict)
    unique_key: bool = False
    checks: tuple[SpecCheck, ...] = ()
    money_fields: frozenset[str] = frozenset()
    total_fields: frozenset[str] = frozenset()
    currency_field: str | None = None
    summary_group: bool = False
    datetime_fields: frozenset[str] = frozenset()
    zone_field: str | None = None
    scan_unmanaged: bool = True

    @cached_property
    def ref_kinds(self) -> Mapping[str, tuple[str, ...]]:
        """Which kinds (of this provider) each reference field may point to, from the schema's
        ``x-ref-kinds`` annotations: field path (``*`` for any list item, e.g.
        ``assignments.*.dataset_id``) -> kind names; ``()`` where only a literal id fits.
        Fields without the annotation are not restricted."""
        found: dict[str, tuple[str, ...]] = {}
        _collect_ref_kinds(self.schema, self.schema, "", found, 0)
        return found

    def findable(self, spec: Mapping[str, Any]) -> bool:
        """Whether natural-key lookup can find an object created from ``spec`` (see ``findable_with``)."""
        return not self.findable_with or any(spec.get(f) not in (None, "") for f in self.findable_with)


@dataclass(frozen=True)
class ProviderConfig:
    """The workspace's settings for one provider (``providers.<name>`` in reconciler.yaml).

    ``endpoint`` is a base URL, or ``sandbox`` for the embedded emulators. ``credentials``
    holds already-interpolated secrets: never log, print or persist them. ``options`` holds the
    rest of the provider block (``writes: enabled``, ``ca_bundle``, ``rate_limit``...).
    ``endpoint_identity`` names the endpoint for what is cached between runs (tokens): the
    endpoint itself unless set, which the engine does where the URL changes from run to run
    while what it stands for does not (the embedded sandbox listens on a new port each time).
    """

    name: str
    endpoint: str
    credentials: Mapping[str, str] = field(default_factory=dict)
    options: Mapping[str, Any] = field(default_factory=dict)
    workspace_dir: Path = Path(".")
    endpoint_identity: str = ""

    def __repr__(self) -> str:  # never show credentials
        return f"ProviderConfig(name={self.name!r}, endpoint={self.endpoint!r})"


class Severity(StrEnum):
    ERROR = "error"
    WARNING = "warning"


@dataclass(frozen=True)
class PlannedWrite:
    """A planned write as a provider's ``check_plan`` sees it (ids resolved where known)."""

    address: str
    kind: str
    action: str  # create | update | replace | adopt | delete
    remote_id: str | None
    before: Mapping[str, Any]  # live owned fields ({} for creates)
    after: Mapping[str, Any]  # desired owned fields


@dataclass(frozen=True)
class GuardrailPolicy:
    """The workspace's limits on the size of a change (``guardrails:`` in reconciler.yaml).

    ``max_budget_increase``: the largest raise of a budget in one change, as a fraction
    (``0.2`` for ``20%``); ``max_bid``: the highest bid, in the campaign's currency. None: no limit.
    Providers apply them in ``check_plan`` to the fields that hold money in their API.
    """

    max_budget_increase: Decimal | None = None
    max_bid: Decimal | None = None


@dataclass(frozen=True)
class Finding:
    """A guardrail's verdict on one planned write (errors refuse the plan unless skipped)."""

    address: str
    severity: Severity
    message: str


@dataclass(frozen=True)
class ManualStep:
    """For APIs that cannot make a change: the exact step a human must take."""

    description: str


# Options every built-in provider reads (``reconciler.providers.options``).
COMMON_OPTIONS = frozenset({"ca_bundle", "timeout", "allow_insecure_http"})


class Provider(ABC):
    """Base class of every provider. Subclasses set ``name`` and ``kinds``, and ``option_names``:
    the ``providers.<name>`` settings they read (others are a workspace error with "did you
    mean"; None accepts anything, for third-party providers that do not say)."""

    name: str = ""
    kinds: Mapping[str, KindInfo] = {}
    option_names: frozenset[str] | None = None
    # credentials sent in HTTP headers (checked to be sendable); None: all of them
    header_credentials: frozenset[str] | None = None

    def __init__(self, config: ProviderConfig) -> None:
        from reconciler.providers.http import check_credentials

        check_credentials(config.name, config.credentials, self.header_credentials)
        self.config = config

    # -- reading -------------------------------------------------------------------------------
    @abstractmethod
    def read(self, kind: str, remote_ids: Sequence[str]) -> dict[str, LiveObject]:
        """Batched read of known ids; absent ids were deleted out of band."""

    @abstractmethod
    def list_children(self, kind: str, parent_id: str | None) -> list[LiveObject]:
        """Every object of ``kind`` under ``parent_id`` (or all visible ones if None)."""

    def find_existing(self, kind: str, specs: Sequence[Mapping[str, Any]]) -> list[list[LiveObject]]:
        """For each spec, every live object matching its natural key (see the module docstring).

        The default lists the children of each distinct parent once (``list_children``) and
        matches the natural-key fields of the normalised spec against them."""
        info = self.kinds[kind]
        return match_natural_keys(
            info, [self.normalize(kind, s) for s in specs], lambda parent: self.list_children(kind, parent)
        )

    def find_by_natural_key(self, kind: str, spec: Mapping[str, Any]) -> LiveObject | None:
        """The live object matching the natural key of ``spec``, if it exists (several: an error)."""
        matches = self.find_existing(kind, [spec])[0]
        if len(matches) > 1:
            raise ambiguous(self.name, self.kinds[kind], spec, matches)
        return matches[0] if matches else None

    def history(self, kind: str, remote_id: str) -> list[HistoryEntry]:
        """Change log, newest last. Providers whose API keeps none return []."""
        return []

    def normalize(self, kind: str, spec: Mapping[str, Any]) -> dict[str, Any]:
        """Normalise a desired (resolved) spec so it compares with ``LiveObject.fields``."""
        return dict(spec)

    def precondition_for(self, live: LiveObject) -> Precondition:
        """How writes to this object are guarded: version where the API has one."""
        if live.version is not None:
            return Precondition(PreconditionKind.VERSION, live.version)
        return Precondition(PreconditionKind.FINGERPRINT, live.fingerprint)

    def manual_steps(
        self,
        kind: str,
        action: str,
        address: str,
        changes: Mapping[str, Any],
        before: Mapping[str, Any] | None = None,
    ) -> list[ManualStep] | None:
        """None when the provider can make this change itself; else the steps for a human.

        ``changes`` holds the desired values of the fields to change; ``before`` the live
        object's fields (None for creates), so steps can name exactly what to add and remove.
        """
        return None

    def keep_reason(self, kind: str, live: LiveObject) -> str | None:
        """Why reconciler must never delete this live object (nor take away what it grants),
        or None. Pure: decided from the live object alone. LiveRamp: the API user's own
        membership of a clean room, without which reconciler is locked out of the room."""
        return None

    def switched_off(self, kind: str, live: LiveObject) -> bool:
        """Whether ``live`` is switched off the way this API ends an object it cannot delete
        (MediaMath ``status=0``). Pure. Drift does not count such objects as unmanaged: what a
        delete left behind would otherwise stay "unmanaged" forever."""
        return False

    def check_plan(self, writes: Sequence[PlannedWrite], policy: GuardrailPolicy = GuardrailPolicy()) -> list[Finding]:
        """Guardrails on planned writes (e.g. a budget below spend to date), with the workspace's
        size ``policy``. Read-only."""
        return []

    # -- writing -------------------------------------------------------------------------------
    @abstractmethod
    def create(self, kind: str, spec: Mapping[str, Any]) -> LiveObject: ...

    @abstractmethod
    def update(
        self, kind: str, remote_id: str, changes: Mapping[str, Any], precondition: Precondition
    ) -> LiveObject: ...

    @abstractmethod
    def delete(self, kind: str, remote_id: str, precondition: Precondition) -> None: ...

    # -- lifecycle -------------------------------------------------------------------------------
    def close(self) -> None:  # noqa: B027 - optional hook
        """Release sessions, servers and files."""

    def request_budget(self) -> float | None:
        """Requests per second this provider may send (None: unlimited)."""
        return None


def _collect_ref_kinds(schema: Any, root: Mapping[str, Any], path: str, found: dict[str, tuple[str, ...]], depth: int) -> None:
    """Walk ``schema`` (properties, items, local ``$ref``, the *Of combinators, ``else``) for ``x-ref-kinds``."""
    if not isinstance(schema, Mapping) or depth > 32:
        return
    if "x-ref-kinds" in schema and path:
        found[path] = tuple(schema["x-ref-kinds"])
    ref = schema.get("$ref")
    if isinstance(ref, str) and ref.startswith("#/"):
        target: Any = root
        for part in ref[2:].split("/"):
            target = target.get(part) if isinstance(target, Mapping) else None
        _collect_ref_kinds(target, root, path, found, depth + 1)
    for keyword in ("allOf", "anyOf", "oneOf"):
        for sub in schema.get(keyword) or ():
            _collect_ref_kinds(sub, root, path, found, depth + 1)
    if isinstance(schema.get("else"), Mapping):  # LiveRamp files: a spec, else a whole document
        _collect_ref_kinds(schema["else"], root, path, found, depth + 1)
    for name, sub in (schema.get("properties") or {}).items():
        _collect_ref_kinds(sub, root, f"{path}.{name}" if path else name, found, depth + 1)
    if isinstance(schema.get("items"), Mapping):
        _collect_ref_kinds(schema["items"], root, f"{path}.*" if path else "*", found, depth + 1)


def natural_key_of(info: KindInfo, fields: Mapping[str, Any]) -> tuple[Any, ...] | None:
    """The natural-key values of a normalised spec or live object; None when one is missing
    (or still a reference to an object not created yet): such a spec can match nothing."""
    values = tuple(fields.get(f) for f in info.natural_key)
    if any(v is None or v == "" or isinstance(v, Ref) for v in values):
        return None
    return tuple(str(v) if info.parent_field == f else v for f, v in zip(info.natural_key, values, strict=True))


def match_natural_keys(
    info: KindInfo,
    specs: Sequence[Mapping[str, Any]],
    list_under: Callable[[str | None], Iterable[LiveObject]],
    fan_out: Callable[[Callable[[str | None], list[LiveObject]], list[str | None]], Iterable[list[LiveObject]]] | None = None,
) -> list[list[LiveObject]]:
    """The shared natural-key lookup: ``list_under(parent_id)`` once per distinct parent of the
    (normalised) ``specs`` (``None`` for kinds without a parent), then each spec's matches in
    listing order. ``fan_out(fn, parents)`` may run the listings concurrently (default: in turn)."""
    keys = [natural_key_of(info, s) for s in specs]
    parents = sorted(
        {_parent_of(info, s) for s, k in zip(specs, keys, strict=True) if k is not None}, key=lambda p: p or ""
    )
    listings = (fan_out or _in_turn)(lambda parent: list(list_under(parent)), parents)
    listed = dict(zip(parents, listings, strict=True))
    out: list[list[LiveObject]] = []
    for spec, key in zip(specs, keys, strict=True):
        if key is None:
            out.append([])
            continue
        out.append([o for o in listed[_parent_of(info, spec)] if natural_key_of(info, o.fields) == key])
    return out


def _parent_of(info: KindInfo, spec: Mapping[str, Any]) -> str | None:
    value = spec.get(info.parent_field) if info.parent_field else None
    return None if value is None else str(value)


def _in_turn(fn: Callable[[str | None], list[LiveObject]], parents: list[str | None]) -> list[list[LiveObject]]:
    return [fn(p) for p in parents]


def ambiguous(provider: str, info: KindInfo, spec: Mapping[str, Any], matches: Sequence[LiveObject]) -> AmbiguousMatchError:
    """The error for several live objects matching one natural key: their ids (and status)."""
    key = ", ".join(f"{f}={spec.get(f)!r}" for f in info.natural_key)
    found = ", ".join(f"{m.remote_id} ({m.status})" if m.status else m.remote_id for m in matches)
    return AmbiguousMatchError(
        f"{provider}.{info.name}: {len(matches)} live objects match {key}: {found}",
        remote_ids=[m.remote_id for m in matches],
    )


SCHEMAS_DIR_CANDIDATES = (
    Path(__file__).resolve().parents[2] / "schemas",  # source checkout / editable install
    Path(__file__).resolve().parents[1] / "_schemas",  # wheel install (force-included)
)


def schemas_dir() -> Path:
    for candidate in SCHEMAS_DIR_CANDIDATES:
        if candidate.is_dir():
            return candidate
    raise ProviderError("the schemas/ directory is missing from this installation")


def load_schema(relative: str) -> dict[str, Any]:
    """Load ``schemas/<relative>`` (e.g. ``mediamath/Campaign.schema.json``)."""
    path = schemas_dir() / relative
    with path.open(encoding="utf-8") as fh:
        data: dict[str, Any] = json.load(fh)
    return data
