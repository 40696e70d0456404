"""MediaMath strategy targeting as the kind ``StrategyTargeting``: its spec, its canonical form,
and the calls behind it (``/strategies/{id}/target_dimensions/{n}``, ``/target_values``).

Spec (``schemas/mediamath/StrategyTargeting.schema.json``): ``strategy_id`` (the remote id of the
object is the strategy's id) and one map per target dimension, keyed by name (:data:`DIMENSIONS`:
``region`` is dimension 7...), each ``{include: [codes], exclude: [codes]}``.

Canonical form, the same from a manifest (:func:`normalize_targeting`, pure) and from the API
(:meth:`TargetingCalls.read`): ``strategy_id`` as a string; every dimension written holds both
lists (a dimension is owned whole: a list not written is empty), each sorted, without repeats
(sets: the diff names members, ``region.include[US-CA]``, through ``KindInfo.list_keys``). A live
object holds every dimension of :data:`DIMENSIONS`, values named by the target value's ``code``
(its id as text for a value without one), ``domain_restrictions`` (host names, :mod:`.domains`,
batched), and ``audience``: the strategy's audience segments by
code, the same ``{include, exclude}`` shape (calls in :mod:`.audience`, read in one batched listing
for all strategies asked); ``supply_sources``, ``deals`` and ``site_lists``: sorted lists of codes (:mod:`.picks`,
batched the same way).

Calls (reference §1.4-§1.5):

- **Reads**: the v2.0 API lists no strategy targets in bulk, so each dimension of each strategy is
  one ``GET /strategies/{id}/target_dimensions/{n}`` (:data:`DIMENSIONS` of them per strategy), sent
  concurrently within the provider's read slots and rate budget. A strategy that is gone (404) or
  not visible (403) has no targeting object.
- **Writes**: one ``POST`` per dimension that changes, with repeated ``include=`` / ``exclude=``
  target value ids and no version (the API keeps none; the engine guards the write with a
  fingerprint re-read just before it). The POST replaces the dimension, so it is safe to resend
  after a lost answer. Codes become ids through ``GET /target_values/limit/target_dimension=<n>``
  (``q=code==(...)`` for the codes not seen yet, the whole dimension when a code is unknown, to
  name the closest ones), cached for the provider's lifetime (one run).
- **History**: the strategy's ``/history`` entries on ``target_dimensions.<n>.include|exclude``,
  renamed ``<dimension>.include|exclude`` with codes for ids, so drift names who changed which
  dimension.
"""

from __future__ import annotations

import difflib
import re
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from types import MappingProxyType
from typing import Any

from reconciler.errors import APIError, ProviderError
from reconciler.model import LiveObject, OnDelete, Ref
from reconciler.providers.base import KindInfo, RelatedSpec, SpecProblem, load_schema
from reconciler.providers.mediamath.audience import AUDIENCE, HISTORY_FIELDS, AudienceCalls
from reconciler.providers.mediamath.client import PAGE_LIMIT, MediaMathClient
from reconciler.providers.mediamath.domains import DOMAINS, DomainCalls
from reconciler.providers.mediamath.domains import HISTORY_FIELDS as DOMAIN_HISTORY_FIELDS
from reconciler.providers.mediamath.picks import PICKS, PickCalls
from reconciler.providers.mediamath.wire import FieldChange, TargetLists, WireEntity, WireHistoryEntry

KIND = "StrategyTargeting"
LISTS = ("include", "exclude")
# dimension name in manifests -> the API's target dimension id (the vendor SDK's CHILD_PATHS)
DIMENSIONS: Mapping[str, int] = MappingProxyType({
    "region": 7, "country": 14, "dma": 1, "device": 24, "os": 5, "browser": 4, "isp": 3, "connection_speed": 2,
})
BY_ID: Mapping[int, str] = MappingProxyType({v: k for k, v in DIMENSIONS.items()})
SETS: tuple[str, ...] = (*DIMENSIONS, AUDIENCE, DOMAINS)  # the {include, exclude} blocks of the spec
LIST_KEYS: tuple[str, ...] = tuple(PICKS)  # the plain lists of codes: supply_sources, deals, site_lists
_HISTORY_FIELD = re.compile(r"^target_dimensions\.(\d+)\.(include|exclude)$")
_Q_UNSAFE = re.compile(r"[&()<>=!:*,%]")  # characters with a meaning inside q=


# -- the kind ---------------------------------------------------------------------------------------
def _spec_schema() -> dict[str, Any]:
    document = load_schema(f"mediamath/{KIND}.schema.json")
    defs = document["$defs"]
    return {"$schema": document["$schema"], **defs["spec"], "$defs": defs}


def _no_overlap(spec: Mapping[str, Any], related: RelatedSpec) -> Iterable[SpecProblem]:
    """A value cannot be both included and excluded (the API refuses it)."""
    for name in SETS:
        lists = spec.get(name)
        if not isinstance(lists, Mapping):
            continue
        key = _domain if name == DOMAINS else _code  # domains compare lower-case
        include = {key(v) for v in lists.get("include") or () if not isinstance(v, (dict, list))}
        for value in lists.get("exclude") or ():
            if not isinstance(value, (dict, list)) and key(value) in include:
                yield SpecProblem(f"{name}.exclude", f"'{_code(value)}' is in include too: a value is included or excluded")


def targeting_info() -> KindInfo:
    return KindInfo(
        name=KIND,
        schema=_spec_schema(),
        natural_key=("strategy_id",),
        parent_field="strategy_id",
        parent_kind="Strategy",
        immutable_fields=frozenset({"strategy_id"}),
        default_on_delete=OnDelete.DELETE,
        delete_means=("cleared: every target dimension, audience segment, domain restriction, supply source, deal "
                      "and site list of the strategy is removed"),
        list_keys=MappingProxyType({**{f"{name}.{lst}": "" for name in SETS for lst in LISTS},
                                    **{name: "" for name in LIST_KEYS}}),
        unique_key=True,
        checks=(_no_overlap,),
        scan_unmanaged=False,
    )


def _code(value: Any) -> str:
    return str(value).strip()


def _domain(value: Any) -> str:
    return _code(value).lower()


def normalize_targeting(spec: Mapping[str, Any]) -> dict[str, Any]:
    """The canonical form of a (resolved) spec; unknown keys and unresolved Refs pass unchanged."""
    out: dict[str, Any] = {}
    for key in sorted(spec):
        value = spec[key]
        if key == "strategy_id" and not isinstance(value, Ref) and value is not None:
            out[key] = _code(value)
        elif key == DOMAINS and isinstance(value, Mapping):
            out[key] = {lst: sorted({_domain(v) for v in value.get(lst) or ()}) for lst in LISTS}
        elif key in SETS and isinstance(value, Mapping):
            out[key] = {lst: sorted({_code(v) for v in value.get(lst) or ()}) for lst in LISTS}
        elif key in LIST_KEYS and isinstance(value, (list, tuple)):
            out[key] = sorted({_code(v) for v in value if not isinstance(v, (dict, list))})
        else:
            out[key] = value
    return out


def is_empty(fields: Mapping[str, Any]) -> bool:
    """No dimension (nor the audience) of a live targeting object holds a value."""
    return not any(isinstance(v, Mapping) and (v.get("include") or v.get("exclude")) for k, v in fields.items()
                   if k in SETS) and not any(fields.get(k) for k in LIST_KEYS)


# -- the calls --------------------------------------------------------------------------------------
class TargetingCalls:
    """Reads and writes of strategies' target dimensions for one provider (one run): the cache
    of target value codes and ids lives here."""

    def __init__(self, client: MediaMathClient, slots: threading.BoundedSemaphore, concurrency: int) -> None:
        self.client = client
        self._slots = slots
        self._concurrency = concurrency
        self._lock = threading.Lock()
        self._ids: dict[tuple[int, str], str] = {}  # (dimension id, code) -> target value id
        self._codes: dict[str, str] = {}  # target value id -> code
        self.audience = AudienceCalls(client, slots)
        self.domains = DomainCalls(client, slots)
        self.picks = {key: PickCalls(pick, client, slots) for key, pick in PICKS.items()}

    # -- reading ---------------------------------------------------------------------------------
    def read(self, strategy_ids: Sequence[str]) -> dict[str, LiveObject]:
        """The targeting of each strategy (absent: the strategy is gone or not visible)."""
        pairs = [(sid, name) for sid in strategy_ids for name in DIMENSIONS]
        if len(pairs) > 1:
            with ThreadPoolExecutor(min(self._concurrency, len(pairs)), thread_name_prefix="mediamath-targets") as pool:
                answers = list(pool.map(lambda pair: self._dimension(*pair), pairs))
        else:
            answers = [self._dimension(*pair) for pair in pairs]
        audiences = self.audience.read(list(strategy_ids)) if strategy_ids else {}
        found: dict[str, dict[str, Any]] = {sid: {"strategy_id": sid, AUDIENCE: lists} for sid, lists in audiences.items()}
        for sid, domains in (self.domains.read(list(strategy_ids)) if strategy_ids else {}).items():
            found.setdefault(sid, {"strategy_id": sid})[DOMAINS] = domains
        for key, calls in self.picks.items():
            for sid, codes in (calls.read(list(strategy_ids)) if strategy_ids else {}).items():
                found.setdefault(sid, {"strategy_id": sid})[key] = codes
        gone: set[str] = set()
        for (sid, name), lists in zip(pairs, answers, strict=True):
            if lists is None:
                gone.add(sid)
                continue
            found.setdefault(sid, {"strategy_id": sid})[name] = lists
        return {
            sid: LiveObject(kind=KIND, remote_id=sid, fields=dict(sorted(fields.items())))
            for sid, fields in sorted(found.items(), key=lambda item: int(item[0]))
            if sid not in gone
        }

    def _dimension(self, strategy_id: str, name: str) -> dict[str, list[str]] | None:
        try:
            with self._slots:
                result = self.client.get(f"/strategies/{strategy_id}/target_dimensions/{DIMENSIONS[name]}")
        except APIError as exc:
            if exc.status in (403, 404):
                return None
            raise
        if not result.status.ok or result.targets is None:
            raise ProviderError(
                f"mediamath: GET /strategies/{strategy_id}/target_dimensions/{DIMENSIONS[name]} answered no "
                f"target dimension ({result.status.describe()})"
            )
        return self._lists(DIMENSIONS[name], result.targets)

    def _lists(self, dim: int, targets: TargetLists) -> dict[str, list[str]]:
        out = {}
        for lst, entities in (("include", targets.include), ("exclude", targets.exclude)):
            out[lst] = sorted({self._remember(dim, e) for e in entities})
        return out

    def _remember(self, dim: int, entity: WireEntity) -> str:
        code = (entity.value("code") or "").strip() or entity.id
        with self._lock:
            self._ids[(dim, code)] = entity.id
            self._codes[entity.id] = code
        return code

    # -- writing ---------------------------------------------------------------------------------
    def write(self, strategy_id: str, values: Mapping[str, Any]) -> list[str]:
        """POST each part of ``values`` (canonical lists of codes): dimensions, then the audience,
        the domain restrictions and the picked lists; the parts written. A refusal names the part
        and what was already written (each part is its own call: nothing rolls back)."""
        written: list[str] = []

        def step(name: str, call: Callable[[], Any], prefix: str) -> None:
            try:
                call()
            except APIError as exc:
                if written or prefix:
                    done = f" ({', '.join(written)} already written)" if written else ""
                    raise type(exc)(
                        f"{prefix}{exc.vendor_message}{done}", method=exc.method, url=exc.url, status=exc.status,
                        vendor_code=exc.vendor_code, retry_after=exc.retry_after,
                    ) from None
                raise
            written.append(name)

        for name in sorted(k for k in values if k in DIMENSIONS):
            lists = values[name] if isinstance(values[name], Mapping) else {}
            form = {lst: self.resolve(name, [_code(c) for c in lists.get(lst) or ()], lst) for lst in LISTS}
            path = f"/strategies/{strategy_id}/target_dimensions/{DIMENSIONS[name]}"
            step(name, partial(self.client.request, "POST", path, data=form, retry_writes=True), f"{name}: ")
        for key, part in ((AUDIENCE, self.audience), (DOMAINS, self.domains)):
            if key in values:
                lists = values[key] if isinstance(values[key], Mapping) else {}
                step(key, partial(part.write, strategy_id, lists), "")
        for key in sorted(k for k in values if k in LIST_KEYS):
            codes = [_code(c) for c in (values[key] if isinstance(values[key], (list, tuple)) else [])]
            step(key, partial(self.picks[key].write, strategy_id, codes), "")
        return written

    def clear(self, strategy_id: str, live: Mapping[str, Any]) -> None:
        """Empty every dimension (and the audience) that holds a value."""
        empty: dict[str, list[str]] = {lst: [] for lst in LISTS}
        self.write(strategy_id, {
            **{name: empty for name in SETS
               if isinstance(live.get(name), Mapping) and (live[name].get("include") or live[name].get("exclude"))},
            **{key: [] for key in LIST_KEYS if live.get(key)},
        })

    def resolve(self, name: str, codes: Sequence[str], where: str) -> list[str]:
        """Target value ids of ``codes`` in dimension ``name`` (looked up once per run)."""
        dim = DIMENSIONS[name]
        with self._lock:
            missing = sorted({c for c in codes if (dim, c) not in self._ids})
        if missing:
            safe = [c for c in missing if not _Q_UNSAFE.search(c)]
            if safe and len(safe) == len(missing):
                for start in range(0, len(safe), PAGE_LIMIT):
                    self._look_up(dim, {"q": "code==(" + ",".join(safe[start : start + PAGE_LIMIT]) + ")"})
            with self._lock:
                unknown = [c for c in missing if (dim, c) not in self._ids]
            if unknown:
                known = self._look_up(dim, {})  # the whole dimension: to name the closest codes
                with self._lock:
                    unknown = [c for c in missing if (dim, c) not in self._ids]
                if unknown:
                    raise ProviderError(_unknown_codes(name, where, unknown, known))
        with self._lock:
            return [self._ids[(dim, c)] for c in codes]

    def _look_up(self, dim: int, params: Mapping[str, Any]) -> list[str]:
        codes = []
        with self._slots:
            entities = list(self.client.iter_collection(f"/target_values/limit/target_dimension={dim}", params))
        for entity in entities:
            if entity.type in ("", "target_value") and (entity.value("is_targetable") or "1") != "0":
                codes.append(self._remember(dim, entity))
        return codes

    # -- history ---------------------------------------------------------------------------------
    def history(self, entries: Sequence[WireHistoryEntry]) -> list[WireHistoryEntry]:
        """The strategy's entries on target dimensions and audience segments, renamed
        ``<dimension>.<list>`` / ``audience.<list>`` with codes."""
        kept: list[tuple[WireHistoryEntry, list[tuple[str, FieldChange]]]] = []
        wanted: set[str] = set()
        segments: set[str] = set()
        picked: dict[str, set[str]] = {}
        for entry in entries:
            changes = []
            for change in entry.fields:
                match = _HISTORY_FIELD.match(change.name)
                if match and int(match[1]) in BY_ID:
                    changes.append((f"{BY_ID[int(match[1])]}.{match[2]}", change))
                    wanted.update(_ids(change.old) + _ids(change.new))
                elif change.name in HISTORY_FIELDS:
                    changes.append((HISTORY_FIELDS[change.name], change))
                    segments.update(_ids(change.old) + _ids(change.new))
                elif change.name in DOMAIN_HISTORY_FIELDS:
                    changes.append((change.name, change))
                elif change.name in LIST_KEYS:
                    changes.append((change.name, change))
                    picked.setdefault(change.name, set()).update(_ids(change.old) + _ids(change.new))
            if changes:
                kept.append((entry, changes))
        self._learn_codes(sorted(wanted, key=lambda i: (len(i), i)))
        segment_codes = self.audience.named(sorted(segments, key=lambda i: (len(i), i)))
        pick_codes = {key: self.picks[key].named(sorted(ids, key=lambda i: (len(i), i))) for key, ids in picked.items()}

        def named(field: str, raw: str | None) -> str | None:
            if raw is not None and field in DOMAIN_HISTORY_FIELDS:
                return ", ".join(sorted(p.strip() for p in raw.split(",") if p.strip()))
            if raw is not None and field in pick_codes:
                return ", ".join(sorted(pick_codes[field].get(i, i) for i in _ids(raw)))
            if raw is None or not field.startswith(f"{AUDIENCE}."):
                return self._named(raw)
            return ", ".join(sorted(segment_codes.get(i, i) for i in _ids(raw)))

        return [
            WireHistoryEntry(
                action=entry.action, date=entry.date, user_id=entry.user_id, user_name=entry.user_name,
                fields=tuple(FieldChange(field, named(field, c.old), named(field, c.new)) for field, c in changes),
            )
            for entry, changes in kept
        ]

    def _learn_codes(self, ids: Sequence[str]) -> None:
        with self._lock:
            unknown = [i for i in ids if i not in self._codes]
        for start in range(0, len(unknown), PAGE_LIMIT):
            chunk = unknown[start : start + PAGE_LIMIT]
            try:
                with self._slots:
                    entities = list(self.client.iter_collection("/target_values", {"q": "(" + ",".join(chunk) + ")"}))
            except APIError:
                return  # names only: ids are shown instead
            for entity in entities:
                dim = entity.value("target_dimension_id")
                if dim and dim.isdigit():
                    self._remember(int(dim), entity)

    def _named(self, raw: str | None) -> str | None:
        if raw is None:
            return None
        with self._lock:
            return ", ".join(sorted(self._codes.get(i, i) for i in _ids(raw)))


def _ids(raw: str | None) -> list[str]:
    return [p.strip() for p in (raw or "").split(",") if p.strip().isdigit()]


def _unknown_codes(name: str, where: str, unknown: Sequence[str], known: Sequence[str]) -> str:
    """``region.include: 'US-XX' is not a code of ...; did you mean 'US-TX'?`` (one clause per code)."""
    upper = {k.upper(): k for k in sorted(known, reverse=True)}
    parts = []
    for code in unknown:
        close = [upper[c] for c in difflib.get_close_matches(code.upper(), list(upper), n=3, cutoff=0.5)]
        hint = f"; did you mean {' or '.join(repr(c) for c in close)}?" if close else ""
        parts.append(f"'{code}' is not a code of target dimension {DIMENSIONS[name]} ({name}) in the API's "
                     f"target_values{hint}")
    return f"{name}.{where}: " + "; ".join(parts)
