"""``MediaMathProvider``: the engine's verbs on the MediaMath Execution & Management API v2.0.

Kinds: Organization (read-only, looked up by name), Agency, Advertiser, Campaign, Strategy,
BudgetFlight (see :mod:`.kinds`), and StrategyTargeting, a strategy's target dimensions, audience
segments, supply sources and deals (see :mod:`.targeting`, :mod:`.audience`, :mod:`.picks`: no
version, so its writes are guarded by a fingerprint). Values are translated
by :mod:`.normalize`; HTTP, sessions and error mapping live in :mod:`.client`.

- Reads are batched: ``read`` asks for 100 ids per request (``q=(id,...)&full=*``), so 1,000
  strategies cost 10 requests plus the login, sent ``READ_CONCURRENCY`` at a time within the
  rate budget; children come from ``/limit/<parent>=<id>`` pages.
- Writes are form POSTs. Updates send only the changed fields plus ``version``; a stale version
  (HTTP 409 / ``conflict``) raises :class:`PreconditionFailed` carrying the object re-read.
- New campaigns and strategies are created paused (``status=0``) unless the manifest sets
  ``status``.
- Delete: budget flights are deleted; the other kinds have no delete in v2.0 and are deactivated
  (``status=0``, versioned) instead; the engine then forgets them.

Workspace settings (``providers.mediamath`` in ``reconciler.yaml``): ``endpoint`` (base URL),
``credentials`` ``{username, password, api_key}`` or ``{access_token}``, and options
``ca_bundle`` (CA file for TLS verification, relative to the workspace; verification is always
on), ``rate_limit`` (requests/s, or ``{rate, burst}``; default 40/s, burst 200; 0 = unlimited),
``format`` (``xml``, the default, or ``json``) and ``timeout`` (seconds, default 30).
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict
from typing import Any

from reconciler.errors import APIError, NotFoundError, ProviderError, WorkspaceError
from reconciler.model import HistoryEntry, LiveObject, Ref
from reconciler.providers.base import (
    COMMON_OPTIONS,
    Finding,
    GuardrailPolicy,
    KindInfo,
    PlannedWrite,
    Precondition,
    PreconditionFailed,
    PreconditionKind,
    Provider,
    ProviderConfig,
    match_natural_keys,
    natural_key_of,
)
from reconciler.providers.mediamath.client import (
    DEFAULT_BURST,
    DEFAULT_RATE,
    PAGE_LIMIT,
    MediaMathClient,
)
from reconciler.providers.mediamath.guardrails import MoneySources, check_money, spend_to_date
from reconciler.providers.mediamath.kinds import (
    BUDGET_FLIGHT,
    KIND_SPECS,
    STRATEGY,
    DeleteMode,
    FieldType,
    KindSpec,
    kind_infos,
)
from reconciler.providers.mediamath.normalize import (
    ValueProblem,
    canonical_datetime,
    history_value,
    live_fields,
    normalize_spec,
    to_form,
)
from reconciler.providers.mediamath.reporting import ReportingClient
from reconciler.providers.mediamath.targeting import (
    KIND as TARGETING,
)
from reconciler.providers.mediamath.targeting import (
    TargetingCalls,
    is_empty,
    normalize_targeting,
    targeting_info,
)
from reconciler.providers.mediamath.widening import check_widening
from reconciler.providers.mediamath.wire import WireEntity, WireHistoryEntry, WireResult
from reconciler.providers.options import rate_limit, timeout, tls_verify

MAX_ID = 2147483647
READ_CONCURRENCY = 8  # id batches in flight at once, all reads together (within the rate budget)
# characters that have a meaning inside ``q=``: names holding one are matched client-side
_Q_UNSAFE = re.compile(r"[&()<>=!:*,%]")
_NAIVE_TIME = re.compile(r"^\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?)?$")


class MediaMathProvider(Provider):
    """MediaMath campaigns, strategies and their hierarchy, with ``version`` preconditions."""

    name = "mediamath"
    kinds: Mapping[str, KindInfo] = dict(sorted({**kind_infos(), TARGETING: targeting_info()}.items()))
    option_names = COMMON_OPTIONS | {"rate_limit", "format", "auth_endpoint", "report_timeout"}
    header_credentials = frozenset({"access_token"})  # Bearer; a password goes in a form body

    def __init__(self, config: ProviderConfig) -> None:
        super().__init__(config)
        options = dict(config.options)
        self._rate, self._burst = rate_limit(config, DEFAULT_RATE, DEFAULT_BURST)
        fmt = str(options.get("format", "xml")).lower()
        if fmt not in ("xml", "json"):
            raise WorkspaceError(f"providers.mediamath.format: '{fmt}' is not one of [xml, json]")
        self.client = MediaMathClient(
            config.endpoint,
            config.credentials,
            verify=tls_verify(config),
            rate=self._rate,
            burst=self._burst,
            timeout=timeout(config, 30.0),
            json_format=fmt == "json",
        )
        self._flight_campaign: dict[str, str] = {}  # budget flight id -> campaign id
        self._read_slots = threading.BoundedSemaphore(READ_CONCURRENCY)  # shared by concurrent reads
        self._reporting: ReportingClient | None = None  # built only when a guardrail needs spend
        self.targeting = TargetingCalls(self.client, self._read_slots, READ_CONCURRENCY)

    def __repr__(self) -> str:
        return f"MediaMathProvider(endpoint={self.config.endpoint!r})"

    # -- reading -------------------------------------------------------------------------------
    def read(self, kind: str, remote_ids: Sequence[str]) -> dict[str, LiveObject]:
        wanted = sorted({str(i) for i in remote_ids if _is_api_id(str(i))}, key=int)
        if kind == TARGETING:
            return self.targeting.read(wanted)
        spec = _spec(kind)
        chunks = [wanted[start : start + PAGE_LIMIT] for start in range(0, len(wanted), PAGE_LIMIT)]

        def fetch(chunk: list[str]) -> list[LiveObject]:
            asked = set(chunk)
            query = {"q": "(" + ",".join(chunk) + ")"}
            with self._read_slots:
                entities = list(self.client.iter_collection(f"/{spec.collection}", query))
            return [self._live(spec, e) for e in entities if e.id in asked and _is_type(spec, e)]

        if len(chunks) > 1:
            with ThreadPoolExecutor(min(READ_CONCURRENCY, len(chunks)), thread_name_prefix="mediamath-read") as pool:
                parts = list(pool.map(fetch, chunks))
        else:
            parts = [fetch(chunk) for chunk in chunks]
        found = {live.remote_id: live for part in parts for live in part}
        return dict(sorted(found.items(), key=lambda item: int(item[0])))

    def list_children(self, kind: str, parent_id: str | None) -> list[LiveObject]:
        if kind == TARGETING:  # a strategy's targeting, when it has any (every strategy's is too costly)
            live = self.read(kind, [parent_id]).get(str(parent_id)) if parent_id is not None else None
            return [live] if live is not None and not is_empty(live.fields) else []
        spec = _spec(kind)
        return [self._live(spec, e) for e in self._children(spec, parent_id) if _is_type(spec, e)]

    def find_existing(self, kind: str, specs: Sequence[Mapping[str, Any]]) -> list[list[LiveObject]]:
        """Natural-key lookup, batched by parent: one ``/limit/<parent>=<id>`` listing per parent
        (all statuses: a deactivated object matches too), or a ``q=name==...`` query when a parent
        has a single spec to match (one short page instead of every child); parents at once. A
        StrategyTargeting matches its strategy's targeting when that is not empty."""
        if kind == TARGETING:
            wanted_ids = [str(normalize_targeting(s).get("strategy_id") or "") for s in specs]
            live = self.read(kind, [i for i in wanted_ids if _is_api_id(i)])
            return [[live[i]] if i in live and not is_empty(live[i].fields) else [] for i in wanted_ids]
        kspec = _spec(kind)
        info = self.kinds[kind]
        wanted = [normalize_spec(kspec, s) for s in specs]
        per_parent: dict[str | None, list[Mapping[str, Any]]] = {}
        for w in wanted:
            if natural_key_of(info, w) is not None:
                parent = w.get(kspec.parent_field) if kspec.parent_field else None
                per_parent.setdefault(None if parent is None else str(parent), []).append(w)

        def list_under(parent: str | None) -> list[LiveObject]:
            group = per_parent.get(parent, [])
            name = group[0].get("name") if len(group) == 1 else None
            params: dict[str, Any] = {}
            if "name" in kspec.natural_key and isinstance(name, str) and not _Q_UNSAFE.search(name):
                params["q"] = f"name=={name}"
            path = self._collection_path(kspec, parent)
            with self._read_slots:
                entities = list(self.client.iter_collection(path, params))
            return [self._live(kspec, e) for e in entities if _is_type(kspec, e)]

        def fan_out(fn: Any, parents: list[str | None]) -> list[list[LiveObject]]:
            if len(parents) < 2:
                return [fn(p) for p in parents]
            with ThreadPoolExecutor(min(READ_CONCURRENCY, len(parents)), thread_name_prefix="mediamath-find") as pool:
                return list(pool.map(fn, parents))

        return match_natural_keys(info, wanted, list_under, fan_out)

    def history(self, kind: str, remote_id: str) -> list[HistoryEntry]:
        """The object's change log, oldest first (a StrategyTargeting's: its strategy's entries on
        target dimensions)."""
        if not _is_api_id(remote_id):
            return []
        if kind == TARGETING:
            raw = self.targeting.history(self._history_entries(STRATEGY, remote_id))

            def value(name: str, text: str | None) -> Any:
                return text
        else:
            spec = _spec(kind)
            raw = self._history_entries(spec, remote_id)

            def value(name: str, text: str | None) -> Any:
                return history_value(spec, name, text)
        entries: list[tuple[str, int, HistoryEntry]] = []
        for index, entry in enumerate(raw):
            try:
                when = canonical_datetime(entry.date) or entry.date
            except ValueProblem:
                when = entry.date
            user = entry.user_name or (f"user {entry.user_id}" if entry.user_id else "unknown")
            changes = entry.fields or ()
            if not changes:
                entries.append((when, -index, HistoryEntry(when=when, user=user, action=entry.action)))
            for change in changes:
                item = HistoryEntry(
                    when=when,
                    user=user,
                    action=entry.action,
                    field=change.name,
                    old=value(change.name, change.old),
                    new=value(change.name, change.new),
                )
                entries.append((when, -index, item))
        # the API lists newest first; ours is oldest first (ties keep the API's order reversed)
        return [item for _, _, item in sorted(entries, key=lambda e: (e[0], e[1]))]

    def _history_entries(self, spec: KindSpec, remote_id: str) -> list[WireHistoryEntry]:
        """Every log entry, newest first as the API lists them (paged 100 at a time)."""
        entries: list[WireHistoryEntry] = []
        while True:
            result = self.client.get(
                f"/{spec.collection}/{remote_id}/history", {"page_limit": PAGE_LIMIT, "page_offset": len(entries)}
            )
            entries.extend(result.history)
            total = result.count if result.count is not None else len(entries)
            if not result.history or len(entries) >= total:
                return entries

    def normalize(self, kind: str, spec: Mapping[str, Any]) -> dict[str, Any]:
        if kind == TARGETING:
            return normalize_targeting(spec)
        return normalize_spec(_spec(kind), spec)

    def switched_off(self, kind: str, live: LiveObject) -> bool:
        """Deactivated (``status=0``): v2.0's "delete" of agencies, advertisers, campaigns and
        strategies; such an object stays listed under its parent forever."""
        spec = KIND_SPECS.get(kind)
        return spec is not None and spec.delete_mode is DeleteMode.DEACTIVATE and live.fields.get("status") is False

    # -- writing -------------------------------------------------------------------------------
    def create(self, kind: str, spec: Mapping[str, Any]) -> LiveObject:
        if kind == TARGETING:
            values = normalize_targeting(spec)
            strategy_id = _require_id(values, "strategy_id", kind)
            self.targeting.write(strategy_id, values)
            return self._targeting_now(strategy_id)
        kspec = _writable(kind)
        values = create_values(kspec, spec)
        form = self._form(kspec, values)
        if kspec is BUDGET_FLIGHT:
            path = f"/campaigns/{_require_id(values, 'campaign_id', kind)}/budget_flights"
        else:
            path = f"/{kspec.collection}"
        return self._live(kspec, self._entity(self.client.post(path, form), f"create {kind}"))

    def update(
        self, kind: str, remote_id: str, changes: Mapping[str, Any], precondition: Precondition
    ) -> LiveObject:
        if kind == TARGETING:  # no version: the engine re-read and compared the fingerprint just now
            self.targeting.write(remote_id, normalize_targeting(changes))
            return self._targeting_now(remote_id)
        kspec = _writable(kind)
        values = self._normalize_changes(kspec, remote_id, changes)
        if not values:  # nothing to send: no write, no version bump
            current = self._read_one(kind, remote_id)
            if current is None:
                raise NotFoundError(f"mediamath.{kind} {remote_id} does not exist")
            return current
        version = self._version_for(kind, remote_id, precondition)
        form = {**self._form(kspec, values), "version": str(version)}
        path = self._entity_path(kspec, remote_id)
        try:
            result = self.client.post(path, form)
        except APIError as exc:
            if _is_conflict(exc):
                raise self._conflict(kind, remote_id, version, exc.vendor_message) from None
            raise
        return self._live(kspec, self._entity(result, f"update {kind} {remote_id}"))

    def delete(self, kind: str, remote_id: str, precondition: Precondition) -> None:
        if kind == TARGETING:  # ``on_delete: delete``: every dimension of the strategy is emptied
            live = self._read_one(kind, remote_id)
            if live is not None:
                self.targeting.clear(remote_id, live.fields)
            return
        kspec = _writable(kind)
        if kspec.delete_mode is DeleteMode.DEACTIVATE:
            try:
                self.update(kind, remote_id, {"status": False}, precondition)
            except NotFoundError:
                return  # already gone
            return
        version = self._version_for(kind, remote_id, precondition)
        path = self._entity_path(kspec, remote_id) + "/delete"
        try:
            self.client.post(path, {"version": str(version)})
        except NotFoundError:
            return  # already gone
        except APIError as exc:
            if _is_conflict(exc):
                raise self._conflict(kind, remote_id, version, exc.vendor_message) from None
            raise
        self._flight_campaign.pop(remote_id, None)

    # -- guardrails --------------------------------------------------------------------------------
    def check_plan(self, writes: Sequence[PlannedWrite], policy: GuardrailPolicy = GuardrailPolicy()) -> list[Finding]:
        """The money guardrails (:mod:`.guardrails`): cuts below spend (spend from the Reporting API
        v2, asked only when a check needs it), flights below spend, deleting money, reactivations
        and the workspace's size policy; and the targeting guardrail (:mod:`.widening`): a plan that
        removes every include of a dimension or clears an active strategy's targeting warns."""
        sources = MoneySources(
            spend=lambda kind, ids: spend_to_date(self._reporting_client(), kind, ids),
            campaigns=lambda ids: self.read("Campaign", ids),
            flights=lambda campaign_id: self.list_children("BudgetFlight", campaign_id),
            history=self.history,
            children=self.list_children,
        )
        findings = check_money(writes, sources, policy) + check_widening(writes, lambda ids: self.read(STRATEGY.kind, ids))
        return sorted(findings, key=lambda f: (f.address, f.severity.value, f.message))

    def _reporting_client(self) -> ReportingClient:
        if self._reporting is None:
            self._reporting = ReportingClient.from_config(self.config)
        return self._reporting

    # -- lifecycle -------------------------------------------------------------------------------
    def close(self) -> None:
        self.client.close()
        if self._reporting is not None:
            self._reporting.close()

    def request_budget(self) -> float | None:
        return self._rate if self._rate > 0 else None

    def stats(self) -> dict[str, int]:
        """The HTTP client's counters (requests, retries, 429s, 5xx, dropped connections)."""
        return asdict(self.client.http.stats)

    # -- helpers ---------------------------------------------------------------------------------
    def _live(self, spec: KindSpec, entity: WireEntity) -> LiveObject:
        fields = live_fields(spec, entity)
        if spec is BUDGET_FLIGHT and fields.get("campaign_id"):
            self._flight_campaign[entity.id] = str(fields["campaign_id"])
        return LiveObject(kind=spec.kind, remote_id=entity.id, fields=fields, version=entity.version)

    def _read_one(self, kind: str, remote_id: str) -> LiveObject | None:
        return self.read(kind, [remote_id]).get(str(remote_id))

    def _targeting_now(self, strategy_id: str) -> LiveObject:
        live = self._read_one(TARGETING, strategy_id)
        if live is None:
            raise NotFoundError(f"mediamath.Strategy {strategy_id} does not exist (or is not visible)")
        return live

    def _children(self, spec: KindSpec, parent_id: str | None) -> Iterable[WireEntity]:
        return self.client.iter_collection(self._collection_path(spec, parent_id))

    @staticmethod
    def _collection_path(spec: KindSpec, parent_id: str | None) -> str:
        if parent_id is None:
            return f"/{spec.collection}"
        if not spec.parent_rel:
            raise ProviderError(f"mediamath.{spec.kind} has no parent")
        if not _is_api_id(parent_id):
            raise ProviderError(f"mediamath.{spec.kind}: '{parent_id}' is not a MediaMath id")
        return f"/{spec.collection}/limit/{spec.parent_rel}={parent_id}"

    def _entity_path(self, spec: KindSpec, remote_id: str) -> str:
        if not _is_api_id(remote_id):
            raise ProviderError(f"mediamath.{spec.kind}: '{remote_id}' is not a MediaMath id")
        if spec is BUDGET_FLIGHT:
            return f"/campaigns/{self._campaign_of_flight(remote_id)}/budget_flights/{remote_id}"
        return f"/{spec.collection}/{remote_id}"

    def _campaign_of_flight(self, flight_id: str) -> str:
        campaign = self._flight_campaign.get(flight_id)
        if campaign is None:
            live = self._read_one(BUDGET_FLIGHT.kind, flight_id)
            if live is None or not live.fields.get("campaign_id"):
                raise NotFoundError(f"mediamath.BudgetFlight {flight_id} does not exist")
            campaign = str(live.fields["campaign_id"])
        return campaign

    def _normalize_changes(self, spec: KindSpec, remote_id: str, changes: Mapping[str, Any]) -> dict[str, Any]:
        """Canonical changes; a naive time without ``zone_name`` beside it uses the live zone."""
        zone_field = spec.zone_field
        if not zone_field or zone_field in changes or not _has_naive_time(spec, changes):
            return normalize_spec(spec, changes)
        current = self._read_one(spec.kind, remote_id)
        zone = current.fields.get(zone_field) if current else None
        if not zone:
            return normalize_spec(spec, changes)
        values = normalize_spec(spec, {**changes, zone_field: zone})
        values.pop(zone_field, None)
        return values

    def _version_for(self, kind: str, remote_id: str, precondition: Precondition) -> int:
        if precondition.kind is PreconditionKind.VERSION and precondition.value is not None:
            return int(precondition.value)
        current = self._read_one(kind, remote_id)
        if current is None or current.version is None:
            raise NotFoundError(f"mediamath.{kind} {remote_id} does not exist")
        if precondition.kind is PreconditionKind.FINGERPRINT and precondition.value != current.fingerprint:
            raise PreconditionFailed(
                f"mediamath.{kind} {remote_id} changed since it was read", current=current
            )
        return current.version

    def _conflict(self, kind: str, remote_id: str, version: int, message: str) -> PreconditionFailed:
        current = self._read_one(kind, remote_id)
        now = f"; it is now at version {current.version}" if current and current.version is not None else ""
        return PreconditionFailed(
            f"mediamath.{kind} {remote_id}: {message or 'Version Conflict'} (we sent version {version}{now})",
            current=current,
        )

    @staticmethod
    def _form(spec: KindSpec, values: Mapping[str, Any]) -> dict[str, str]:
        try:
            return to_form(spec, values)
        except ValueProblem as exc:
            raise ProviderError(f"mediamath.{spec.kind}: {exc}") from None

    @staticmethod
    def _entity(result: WireResult, what: str) -> WireEntity:
        if not result.status.ok:
            raise APIError(f"{what}: {result.status.describe()}", vendor_code=result.status.code)
        if result.entity is None:
            raise APIError(f"{what}: the answer holds no entity")
        return result.entity


# -- module helpers --------------------------------------------------------------------------------
def _spec(kind: str) -> KindSpec:
    spec = KIND_SPECS.get(kind)
    if spec is None:
        raise ProviderError(f"mediamath has no kind '{kind}' (kinds: {', '.join(sorted(KIND_SPECS))})")
    return spec


def create_values(spec: KindSpec, desired: Mapping[str, Any]) -> dict[str, Any]:
    """What a create sends: the normalised spec plus the kind's create defaults (campaigns and
    strategies start paused, ``status=false``, unless the spec sets ``status``)."""
    values = normalize_spec(spec, desired)
    for field, default in spec.create_defaults.items():
        values.setdefault(field, default)
    return values


def _writable(kind: str) -> KindSpec:
    spec = _spec(kind)
    if spec.read_only:
        raise ProviderError(f"mediamath.{kind} is read-only: it is looked up by name, never created or changed")
    return spec


def _is_api_id(value: str) -> bool:
    return value.isdigit() and 1 <= int(value) <= MAX_ID


def _is_type(spec: KindSpec, entity: WireEntity) -> bool:
    return not entity.type or entity.type == spec.entity_type


def _is_conflict(exc: APIError) -> bool:
    return exc.status == 409 or exc.vendor_code == "conflict"


def _require_id(values: Mapping[str, Any], field: str, kind: str) -> str:
    value = values.get(field)
    if isinstance(value, Ref) or not value:
        raise ProviderError(f"mediamath.{kind}: '{field}' must be a resolved id")
    return str(value)


def _has_naive_time(spec: KindSpec, values: Mapping[str, Any]) -> bool:
    return any(
        spec.fields.get(field) is FieldType.DATETIME and isinstance(value, str) and _NAIVE_TIME.match(value.strip())
        for field, value in values.items()
    )


