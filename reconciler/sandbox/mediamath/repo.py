"""Data access for the MediaMath emulator: entities in the sandbox Store, organisation scope, writes.

Every entity document lives in the :class:`~reconciler.sandbox.base.Store` under api ``mediamath``
and its collection name, keyed by id: ``{"id", "name", "version", "created_on", "updated_on", ...}``.
Documents are never mutated in place (readers hold references): a write builds a new dict and puts
it. History lives in ``_history`` keyed ``<collection>:<id>`` (oldest entry first); sessions and
bearer tokens in ``_sessions`` / ``_tokens``.

:meth:`Repo.create` / :meth:`Repo.update` / :meth:`Repo.delete` implement the API's write rules:
form values coerced per field, required fields, references that must exist and belong to the
writer's organisation, ``version`` as the optimistic lock (missing or stale -> conflict), version
bump, ``updated_on`` refresh and a history entry naming the user and each field's old/new value.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from reconciler.sandbox.base import EmulatorError, Store
from reconciler.sandbox.mediamath.models import (
    DAYS,
    DEFAULT_CURRENCY,
    DEFAULT_ZONE,
    DT_FORMAT,
    ENTITY_TYPES,
    HISTORY_COLLECTIONS,
    EntityType,
    Field,
    FieldError,
    FieldType,
)
from reconciler.sandbox.mediamath.values import coerce, now_text, valid_zone, wire_value

API = "mediamath"
ID_START = {
    "organizations": 100100,
    "agencies": 105000,
    "advertisers": 150000,
    "campaigns": 300000,
    "strategies": 1000000,
    "budget_flights": 2000000,
    "concepts": 500000,
    "strategy_concepts": 3000000,
    "strategy_day_parts": 4000000,
    "strategy_audience_segments": 5000000,
    "strategy_supply_sources": 6000000,
    "strategy_deals": 7000000,
    "strategy_site_lists": 8000000,
    "strategy_domain_restrictions": 8500000,
    "users": 9000,
}
FLIGHT_SPAN_MONTHS = 36


class ValidationFailed(EmulatorError):
    """400 ``invalid`` with one ``field-error`` per bad field."""

    def __init__(self, errors: list[FieldError], message: str = "Validation errors") -> None:
        super().__init__(400, "invalid", message)
        self.errors = errors


class Repo:
    def __init__(self, store: Store) -> None:
        self.store = store

    # -- reads -----------------------------------------------------------------------------------
    def get(self, coll: str, id_: int | str | None) -> dict[str, Any] | None:
        if id_ is None:
            return None
        return self.store.get(API, coll, id_)

    def all(self, coll: str) -> list[dict[str, Any]]:
        return self.store.all(API, coll)

    def org_of(self, coll: str, doc: Mapping[str, Any] | None) -> int | None:
        """The organisation an entity belongs to; None for global reference data (or orphans)."""
        while doc is not None:
            etype = ENTITY_TYPES.get(coll)
            if etype is None or etype.owner is None:
                return None
            if etype.owner == "":
                return int(doc["id"])
            if etype.owner_collection == "organizations":
                value = doc.get(etype.owner)
                return int(value) if value is not None else None
            assert etype.owner_collection is not None
            coll, doc = etype.owner_collection, self.get(etype.owner_collection, doc.get(etype.owner))
        return None

    def campaign_of(self, coll: str, doc: Mapping[str, Any]) -> Mapping[str, Any] | None:
        if coll == "campaigns":
            return doc
        if coll in ("strategies", "budget_flights"):
            return self.get("campaigns", doc.get("campaign_id"))
        return None

    def zone_of(self, coll: str, doc: Mapping[str, Any]) -> str | None:
        if not ENTITY_TYPES[coll].zoned:
            return None
        campaign = self.campaign_of(coll, doc)
        return str((campaign or {}).get("zone_name") or DEFAULT_ZONE)

    def currency_of(self, coll: str, doc: Mapping[str, Any]) -> str:
        campaign = self.campaign_of(coll, doc)
        return str((campaign or {}).get("currency_code") or DEFAULT_CURRENCY)

    def derived(self, coll: str, doc: Mapping[str, Any], name: str) -> Any:
        """Fields computed from related entities at read time."""
        if name == "zone_name":
            return self.zone_of(coll, doc)
        if name == "currency_code":
            return self.currency_of(coll, doc)
        if name == "effective_goal_value":
            return doc.get("goal_value")
        if name == "is_relevant":
            end = doc.get("end_date")
            return bool(end and end >= now_text())
        return doc.get(name)

    def value(self, coll: str, doc: Mapping[str, Any], name: str) -> Any:
        etype = ENTITY_TYPES[coll]
        if name in etype.derived:
            return self.derived(coll, doc, name)
        return doc.get(name)

    def history(self, coll: str, id_: int) -> tuple[list[dict[str, Any]], int | None]:
        """(entries oldest first, organisation of the entity when last written)."""
        doc = self.store.get(API, "_history", f"{coll}:{id_}")
        return (list(doc["entries"]), doc.get("org_id")) if doc else ([], None)

    # -- ids and raw puts ----------------------------------------------------------------------
    def new_id(self, coll: str) -> int:
        while True:
            candidate = self.store.next_id(API, coll, ID_START.get(coll, 1))
            if self.store.get(API, coll, candidate) is None:
                return candidate

    def put(self, coll: str, doc: dict[str, Any]) -> dict[str, Any]:
        return self.store.put(API, coll, doc["id"], doc)

    def add_history(self, coll: str, doc: Mapping[str, Any], entry: dict[str, Any]) -> None:
        if coll not in HISTORY_COLLECTIONS:
            return
        key = f"{coll}:{doc['id']}"
        current = self.store.get(API, "_history", key)
        entries = [*(current["entries"] if current else []), entry]
        self.store.put(API, "_history", key, {"entries": entries, "org_id": self.org_of(coll, doc)})

    # -- writes --------------------------------------------------------------------------------
    def create(self, coll: str, form: Mapping[str, Any], user: Mapping[str, Any]) -> dict[str, Any]:
        etype = ENTITY_TYPES[coll]
        values, errors = self._coerce_form(etype, form, current=None)
        failed = {e.name for e in errors}
        for f in etype.fields:
            if f.name in values or f.name in failed or f.readonly:
                continue
            if f.required:
                errors.append(FieldError(f.name, "is required"))
            elif f.default is not None:
                values[f.name] = f.default
        self._apply_create_rules(etype, values, errors)
        if errors:
            raise ValidationFailed(errors)
        self._check_refs(etype, values, user, current=None)
        if coll == "strategy_concepts":
            self._check_assignment(values)
        now = now_text()
        doc: dict[str, Any] = {"id": self.new_id(coll), "name": values.get("name"), "version": 0,
                               "created_on": now, "updated_on": now}
        for f in etype.fields:
            if f.name in values:
                doc[f.name] = values[f.name]
        if coll == "campaigns":
            doc["initial_start_date"] = doc.get("start_date")
        if coll == "budget_flights":
            self._check_flights(doc)
        self.put(coll, doc)
        self.add_history(coll, doc, history_entry("add", now, user, []))
        return doc

    def update(
        self,
        coll: str,
        id_: int,
        form: Mapping[str, Any],
        user: Mapping[str, Any],
        *,
        check_version: bool = True,
    ) -> dict[str, Any]:
        etype = ENTITY_TYPES[coll]
        current = self.get(coll, id_)
        if current is None:
            raise EmulatorError(404, "not_found", f"{etype.type} {id_} not found")
        self.require_access(coll, current, user)
        body = dict(form)
        version = body.pop("version", None)
        if check_version and (version is None or str(version).strip() != str(current.get("version", 0))):
            raise EmulatorError(409, "conflict", "Version Conflict")
        values, errors = self._coerce_form(etype, body, current=current)
        merged = {**current, **values}
        for name, value in values.items():
            if value is None and etype.by_name[name].required:
                errors.append(FieldError(name, "is required"))
        self._apply_update_rules(etype, merged, errors)
        if errors:
            raise ValidationFailed(errors)
        self._check_refs(etype, values, user, current=current)
        now = now_text()
        changes = []
        for f in etype.fields:
            if f.name in values and values[f.name] != current.get(f.name):
                old, new = current.get(f.name), values[f.name]
                if f.write_only:
                    old, new = ("****" if old else None), ("****" if new else None)
                changes.append({"name": f.name, "old_value": wire_value(f, old), "new_value": wire_value(f, new)})
        doc = {**merged, "name": merged.get("name"), "version": int(current.get("version", 0)) + 1,
               "updated_on": now}
        if coll == "budget_flights":
            self._check_flights(doc)
        self.put(coll, doc)
        self.add_history(coll, doc, history_entry("update", now, user, changes))
        return doc

    def delete(self, coll: str, id_: int, version: Any, user: Mapping[str, Any],
               *, check_version: bool = True) -> dict[str, Any]:
        current = self.get(coll, id_)
        if current is None:
            raise EmulatorError(404, "not_found", f"{ENTITY_TYPES[coll].type} {id_} not found")
        self.require_access(coll, current, user)
        if check_version and (version is None or str(version).strip() != str(current.get("version", 0))):
            raise EmulatorError(409, "conflict", "Version Conflict")
        now = now_text()
        self.add_history(coll, current, history_entry("delete", now, user, []))
        self.store.delete(API, coll, id_)
        return {**current, "version": int(current.get("version", 0)) + 1, "updated_on": now}

    # -- rules ---------------------------------------------------------------------------------
    def require_access(self, coll: str, doc: Mapping[str, Any], user: Mapping[str, Any]) -> None:
        org = self.org_of(coll, doc)
        if ENTITY_TYPES[coll].owner is not None and org != user.get("organization_id"):
            raise EmulatorError(403, "denied", "Permission denied")

    def _coerce_form(
        self, etype: EntityType, form: Mapping[str, Any], current: Mapping[str, Any] | None
    ) -> tuple[dict[str, Any], list[FieldError]]:
        values: dict[str, Any] = {}
        errors: list[FieldError] = []
        for name, raw in sorted(form.items()):
            if name == "api_key" or (name == "version" and current is None):
                continue
            if name == "id":
                errors.append(FieldError(name, "cannot be modified (it is part of the URL)"))
                continue
            f = etype.by_name.get(name)
            if f is None:
                errors.append(FieldError(name, "is not a field of " + etype.type))
                continue
            if f.readonly:  # computed by the server: ignored, as clients echo them back (the SDK does)
                continue
            try:
                value = coerce(f, raw)
            except FieldError as exc:
                errors.append(exc)
                continue
            if f.create_only and current is not None and value != current.get(name):
                errors.append(FieldError(name, "cannot be changed"))
                continue
            if value is None and f.required and current is None:
                errors.append(FieldError(name, "is required"))
                continue
            values[name] = value
        return values, errors

    def _apply_create_rules(self, etype: EntityType, values: dict[str, Any], errors: list[FieldError]) -> None:
        if etype.collection == "strategies":
            values.setdefault("use_campaign_start", values.get("start_date") is None)
            values.setdefault("use_campaign_end", values.get("end_date") is None)
        self._apply_update_rules(etype, values, errors)

    def _apply_update_rules(self, etype: EntityType, values: Mapping[str, Any], errors: list[FieldError]) -> None:
        start, end = values.get("start_date"), values.get("end_date")
        if start and end and end <= start:
            errors.append(FieldError("end_date", "must be after start_date"))
        zone = values.get("zone_name")
        if etype.collection == "campaigns" and zone is not None and not valid_zone(str(zone)):
            errors.append(FieldError("zone_name", f"unknown time zone {zone!r}"))
        if etype.collection == "strategy_day_parts":
            _check_day_part(values, errors)
        currency = values.get("currency_code")
        if etype.collection == "campaigns" and currency is not None and not (
            len(str(currency)) == 3 and str(currency).isalpha() and str(currency).isupper()
        ):
            errors.append(FieldError("currency_code", "must be a 3-letter ISO currency code"))

    def _check_refs(
        self, etype: EntityType, values: Mapping[str, Any], user: Mapping[str, Any], current: Mapping[str, Any] | None
    ) -> None:
        errors: list[FieldError] = []
        for name, value in values.items():
            f: Field = etype.by_name[name]
            if f.ref is None or value is None or (current is not None and current.get(name) == value):
                continue
            target = self.get(f.ref, value)
            if target is None:
                errors.append(FieldError(name, f"{ENTITY_TYPES[f.ref].type} {value} does not exist"))
                continue
            if ENTITY_TYPES[f.ref].owner is not None and self.org_of(f.ref, target) != user.get("organization_id"):
                raise EmulatorError(403, "denied", "Permission denied")
        if errors:
            raise ValidationFailed(errors)

    def _check_assignment(self, values: Mapping[str, Any]) -> None:
        """A strategy runs concepts of its own advertiser, each at most once."""
        strategy = self.get("strategies", values.get("strategy_id")) or {}
        campaign = self.get("campaigns", strategy.get("campaign_id")) or {}
        concept = self.get("concepts", values.get("concept_id")) or {}
        errors: list[FieldError] = []
        if concept.get("advertiser_id") != campaign.get("advertiser_id"):
            errors.append(FieldError("concept_id", f"concept {concept.get('id')} belongs to advertiser "
                                                   f"{concept.get('advertiser_id')}, not to the strategy's "
                                                   f"advertiser {campaign.get('advertiser_id')}"))
        for other in self.all("strategy_concepts"):
            if (other.get("strategy_id"), other.get("concept_id")) == (strategy.get("id"), concept.get("id")):
                errors.append(FieldError("concept_id", f"concept {concept.get('id')} is already assigned to strategy "
                                                       f"{strategy.get('id')} (strategy_concept {other['id']})"))
        if errors:
            raise ValidationFailed(errors)

    def _check_flights(self, doc: Mapping[str, Any]) -> None:
        """Flights of a campaign must not overlap and span at most 36 months."""
        flights = [f for f in self.all("budget_flights") if f.get("campaign_id") == doc.get("campaign_id")
                   and f["id"] != doc["id"]]
        errors: list[FieldError] = []
        for other in flights:
            if doc["start_date"] <= other["end_date"] and other["start_date"] <= doc["end_date"]:
                errors.append(FieldError("start_date", f"overlaps budget flight {other['id']}"))
                break
        starts = [datetime.strptime(f["start_date"], DT_FORMAT) for f in [*flights, doc]]
        ends = [datetime.strptime(f["end_date"], DT_FORMAT) for f in [*flights, doc]]
        first, last = min(starts), max(ends)
        months = (last.year - first.year) * 12 + (last.month - first.month) + (1 if last.day > first.day else 0)
        if months > FLIGHT_SPAN_MONTHS:
            errors.append(FieldError("end_date", "budget flights may span at most 36 months"))
        if errors:
            raise ValidationFailed(errors)


def history_entry(action: str, date: str, user: Mapping[str, Any], fields: Iterable[dict[str, str]]) -> dict[str, Any]:
    return {"action": action, "date": date, "user_id": user.get("id"), "user_name": user.get("name"),
            "fields": list(fields)}


def _check_day_part(values: Mapping[str, Any], errors: list[FieldError]) -> None:
    """Days are letters of ``MTWRFSU``, each once, in that order; the window does not end before it starts."""
    days = values.get("days")
    if isinstance(days, str) and days and not _in_week_order(days):
        errors.append(FieldError("days", f"{days!r} must be letters of {DAYS} (Monday to Sunday), each once, in that order"))
    start, end = values.get("start_hour"), values.get("end_hour")
    if isinstance(start, int) and isinstance(end, int) and end < start:
        errors.append(FieldError("end_hour", "must not be before start_hour"))


def _in_week_order(days: str) -> bool:
    positions = [DAYS.find(d) for d in days]
    return -1 not in positions and positions == sorted(set(positions))


def field_of(coll: str, name: str) -> Field | None:
    return ENTITY_TYPES[coll].by_name.get(name)


def is_money(coll: str, name: str) -> bool:
    f = field_of(coll, name)
    return f is not None and f.type is FieldType.MONEY
