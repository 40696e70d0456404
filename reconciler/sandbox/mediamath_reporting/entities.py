"""The entities that deliver in the reporting sandbox, read from the management emulator's data.

Campaigns, strategies, advertisers, agencies, organisations and budget flights are the documents
the MediaMath v2.0 emulator keeps in the shared :class:`~reconciler.sandbox.base.Store` (api
``mediamath``; datetimes as UTC ``YYYY-MM-DDTHH:MM:SS``, money as decimal strings). Each strategy
is one delivering entity; a campaign without strategies delivers as one entity itself (its
``strategy_*`` dimensions are null). Reporting never writes those documents.

Also here: *synthetic* entities (a seed for benchmarks: many campaigns and strategies that exist
only in the reporting sandbox, built on the fly) and spend overrides (stored under api
``mediamath-reporting``), and the dimension values of an entity (``campaign_name``,
``strategy_budget``, ``advertiser_id``...).
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from reconciler.sandbox.base import Store
from reconciler.sandbox.mediamath_reporting.metrics import Series, between, mix, name_seed
from reconciler.sandbox.mediamath_reporting.windows import hour_of, stored_time_hour

MM = "mediamath"
SYNTHETIC_CAMPAIGN_BASE = 800_000_000
SYNTHETIC_STRATEGY_BASE = 900_000_000
_DECIMAL = re.compile(r"^-?\d+\.\d+$")
_DATETIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}$")
_UNKNOWN = object()


def wire(value: Any) -> Any:
    """A stored management-API value as the reporting API shows it."""
    if isinstance(value, str):
        if _DECIMAL.match(value):
            return float(value)
        if _DATETIME.match(value):
            return value + "Z"
    return value


@dataclass
class Entity:
    kind: str  # "strategy" | "campaign" (a campaign without strategies)
    id: int
    campaign: Mapping[str, Any]
    strategy: Mapping[str, Any] | None
    advertiser: Mapping[str, Any] | None
    agency: Mapping[str, Any] | None
    organization: Mapping[str, Any] | None
    flight: Mapping[str, Any] | None
    start: int  # first hour of the flight
    end: int  # hour after the flight's last hour
    series: Series
    _dims: dict[str, Any] = field(default_factory=dict, repr=False)

    @property
    def key(self) -> str:
        return f"{self.kind}:{self.id}"

    @property
    def campaign_id(self) -> int:
        return int(self.campaign["id"])

    def clip_start(self, clip: str | None) -> int | None:
        if clip == "campaign":
            return stored_time_hour(self.campaign.get("start_date"))
        if clip == "flight":
            return stored_time_hour((self.flight or self.campaign).get("start_date"))
        return None

    def dim(self, name: str) -> Any:
        value = self._dims.get(name, _UNKNOWN)
        if value is _UNKNOWN:
            value = self._dims[name] = self._dimension(name)
        return value

    def _dimension(self, name: str) -> Any:
        c, s = self.campaign, self.strategy
        if name == "campaign_id":
            return c["id"]
        if name == "strategy_id":
            return s["id"] if s else None
        for prefix, doc in (("organization_", self.organization), ("agency_", self.agency),
                            ("advertiser_", self.advertiser)):
            if name in (prefix + "id", prefix + "name"):
                return doc.get(name[len(prefix):]) if doc else None
        if name == "flight_id":
            return self.flight["id"] if self.flight else None
        if name.startswith("campaign_"):
            attr = name[len("campaign_"):]
            if attr == "archived":
                return False
            if attr.endswith("_campaign_tz"):
                return _local(c.get(attr[: -len("_campaign_tz")]), str(c.get("zone_name") or "UTC"))
            return wire(c.get(attr))
        if name.startswith("strategy_"):
            if s is None:
                return None
            attr = name[len("strategy_"):]
            if attr == "archived":
                return False
            if attr == "channel":
                return s.get("media_type")
            if attr == "groups":  # the sandbox's stand-in for strategy groups: an array of labels
                return sorted({str(s.get("type") or "GBO"), str(s.get("media_type") or "DISPLAY")})
            if attr in ("start_date", "end_date") and not s.get(attr):
                return wire(c.get(attr))
            return wire(s.get(attr))
        return None


def _local(stored: Any, zone: str) -> str | None:
    if not stored:
        return None
    moment = datetime.fromisoformat(str(stored)).replace(tzinfo=UTC)
    try:
        tz = ZoneInfo(zone)
    except Exception:  # unknown zone: show UTC
        tz = ZoneInfo("UTC")
    return moment.astimezone(tz).isoformat()


def _money(value: Any) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        return 0.0


def _by_id(store: Store, coll: str) -> dict[int, Mapping[str, Any]]:
    return {int(d["id"]): d for d in store.all(MM, coll) if d.get("id") is not None}


def _current_flight(flights: list[Mapping[str, Any]], now_h: int) -> Mapping[str, Any] | None:
    started = [f for f in flights if (stored_time_hour(f.get("start_date")) or 0) <= now_h]
    running = [f for f in started if (stored_time_hour(f.get("end_date")) or 0) >= now_h]
    pool = running or started
    return max(pool, key=lambda f: (f.get("start_date") or "", f["id"])) if pool else None


def synthetic_docs(params: Mapping[str, Any]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Virtual campaigns and strategies of the ``synthetic`` seed (never stored one by one)."""
    n_campaigns = int(params.get("campaigns", 0))
    per = int(params.get("strategies_per_campaign", 0))
    start, end = str(params["start_date"]), str(params["end_date"])
    campaigns: list[dict[str, Any]] = []
    strategies: list[dict[str, Any]] = []
    for i in range(n_campaigns):
        cid = SYNTHETIC_CAMPAIGN_BASE + i + 1
        campaigns.append({"id": cid, "name": f"Synthetic Campaign {i + 1}", "status": True,
                          "start_date": start, "end_date": end, "total_budget": str(params.get("total_budget", "1000000.00")),
                          "currency_code": "USD", "zone_name": "UTC", "goal_type": "cpc"})
        for j in range(per):
            strategies.append({"id": SYNTHETIC_STRATEGY_BASE + i * per + j + 1, "campaign_id": cid,
                               "name": f"Synthetic Strategy {i + 1}.{j + 1}", "status": True,
                               "budget": str(params.get("strategy_budget", "10000.00")),
                               "use_campaign_start": True, "use_campaign_end": True,
                               "type": "GBO", "media_type": "DISPLAY"})
    return campaigns, strategies


class EntitySource:
    """Builds the delivering entities for one request (a consistent snapshot of the store)."""

    def __init__(self, store: Store, api: str) -> None:
        self.store = store
        self.api = api

    def overrides(self) -> dict[str, Mapping[str, Any]]:
        return {str(d["key"]): d for d in self.store.all(self.api, "spend")}

    def entities(self, now: datetime, *, with_overrides: bool = True,
                 campaign_ids: set[int] | None = None) -> Iterator[Entity]:
        campaigns: list[Mapping[str, Any]] = list(self.store.all(MM, "campaigns"))
        strategies: list[Mapping[str, Any]] = list(self.store.all(MM, "strategies"))
        synthetic = self.store.get(self.api, "_settings", "synthetic")
        if synthetic:
            extra_c, extra_s = synthetic_docs(synthetic)
            campaigns += extra_c
            strategies += extra_s
        advertisers = _by_id(self.store, "advertisers")
        agencies = _by_id(self.store, "agencies")
        organizations = _by_id(self.store, "organizations")
        flights: dict[int, list[Mapping[str, Any]]] = {}
        for doc in self.store.all(MM, "budget_flights"):
            flights.setdefault(int(doc.get("campaign_id") or 0), []).append(doc)
        children: dict[int, list[Mapping[str, Any]]] = {}
        for strategy in strategies:
            children.setdefault(int(strategy.get("campaign_id") or 0), []).append(strategy)
        overrides = self.overrides() if with_overrides else {}
        now_h = hour_of(now)
        for campaign in sorted(campaigns, key=lambda d: int(d["id"])):
            cid = int(campaign["id"])
            if campaign_ids is not None and cid not in campaign_ids:
                continue
            c_start = stored_time_hour(campaign.get("start_date"))
            c_end = stored_time_hour(campaign.get("end_date"))
            if c_start is None or c_end is None:
                continue
            c_end += 1  # the end date's hour is included
            advertiser = advertisers.get(int(campaign.get("advertiser_id") or 0))
            agency = agencies.get(int((advertiser or {}).get("agency_id") or 0))
            org = organizations.get(int((agency or {}).get("organization_id") or 0))
            flight = _current_flight(flights.get(cid, []), now_h)
            budget = _money(campaign.get("total_budget"))
            peak_c, cut_c = self._budget_history("campaigns", cid, "total_budget", budget)
            kids = sorted(children.get(cid, []), key=lambda d: int(d["id"]))
            common = {"campaign": campaign, "advertiser": advertiser, "agency": agency,
                      "organization": org, "flight": flight}
            if not kids:
                seed = mix(name_seed("campaign") ^ cid)
                yield self._entity("campaign", cid, None, c_start, c_end, (peak_c, budget, cut_c), seed, overrides, common)
                continue
            weights = [between(mix(name_seed("strategy") ^ int(s["id"])), "share", 0.5, 1.5) for s in kids]
            total = sum(weights)
            for strategy, weight in zip(kids, weights, strict=True):
                sid = int(strategy["id"])
                s_start = stored_time_hour(strategy.get("start_date")) if not strategy.get("use_campaign_start") else None
                s_end = stored_time_hour(strategy.get("end_date")) if not strategy.get("use_campaign_end") else None
                start = max(c_start, s_start) if s_start is not None else c_start
                end = min(c_end, s_end + 1) if s_end is not None else c_end
                own = _money(strategy.get("budget"))
                peak_s, cut_s = self._budget_history("strategies", sid, "budget", own)
                cut = max((h for h in (cut_c, cut_s) if h is not None), default=None)
                budgets = (min(peak_s, peak_c * weight / total), min(own, budget * weight / total), cut)
                seed = mix(name_seed("strategy") ^ sid)
                yield self._entity("strategy", sid, strategy, start, end, budgets, seed, overrides, common)

    def _budget_history(self, coll: str, id_: int, field_name: str, current: float) -> tuple[float, int | None]:
        """(the highest value ``field_name`` has had, the hour of its last cut or None), from the
        MediaMath emulator's history of the entity."""
        doc = self.store.get(MM, "_history", f"{coll}:{id_}")
        peak, cut = current, None
        for entry in (doc or {}).get("entries", []):
            for change in entry.get("fields", []):
                if change.get("name") != field_name:
                    continue
                old, new = _money(change.get("old_value")), _money(change.get("new_value"))
                peak = max(peak, old, new)
                if new < old:
                    cut = stored_time_hour(entry.get("date"))
        return peak, cut

    @staticmethod
    def _entity(kind: str, id_: int, strategy: Mapping[str, Any] | None, start: int, end: int,
                budgets: tuple[float, float, int | None], seed: int, overrides: Mapping[str, Mapping[str, Any]],
                common: dict[str, Any]) -> Entity:
        """``budgets``: (the highest cap it had, which sets the pace; the cap now; the hour of the
        last cut). After a cut it keeps what it had spent by then (spend to date never goes down)."""
        peak, now_cap, cut = budgets
        series = Series(seed=seed, start=start, end=max(start, end), budget=max(0.0, peak))
        if now_cap < peak:
            spent_when_cut = series.spend(cut - start) if cut is not None else series.budget
            series.cap = max(0.0, now_cap, spent_when_cut)
        override = overrides.get(f"{kind}:{id_}")
        if override:
            series.scale = float(override["scale"])
            series.freeze = int(override["freeze"])
        return Entity(kind=kind, id=id_, strategy=strategy, start=start, end=max(start, end), series=series, **common)


def live_end(entity: Entity, now: datetime) -> int:
    """Hour after the entity's last delivering hour so far (the current hour counts)."""
    return min(entity.end, hour_of(now) + 1)
