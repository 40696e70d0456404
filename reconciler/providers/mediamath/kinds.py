"""The MediaMath kinds this provider serves and how each maps onto the v2.0 API.

One :class:`KindSpec` per kind holds the wire facts (collection, entity type, the ``/limit``
relation of its parent, the wire type of every manifest-owned field) that the parser, the
normaliser and the provider share; :func:`kind_infos` turns them into the engine's
:class:`~reconciler.providers.base.KindInfo` with the JSON Schema from
``schemas/mediamath/<Kind>.schema.json`` (the file describes a whole manifest document for
editors; the spec schema is its ``$defs.spec``).

Field tables follow ``reference/mediamath-api.md`` §5. Server-set fields (``id``, ``version``,
``created_on``, ``updated_on``, ``initial_start_date``, ``effective_goal_value``, ``is_relevant``,
and the ``currency_code``/``zone_name`` that strategies and budget flights take from their
campaign) and secrets (``ad_server_password``) are not manifest fields: they never
appear in ``LiveObject.fields`` and the schemas reject them.

Deletion: MediaMath v2.0 has no delete for organizations, agencies, advertisers, campaigns,
strategies or concepts. Deleting one of those (``on_delete: delete``, the default, or a
``replace``) *deactivates* it: one versioned update ``status=0`` (a paused campaign or strategy
stops spending), after which the engine forgets it. Budget flights, strategy–concept
assignments and strategy day parts have a real delete (``POST /campaigns/{cid}/budget_flights/
{id}/delete``, ``POST /strategy_concepts/{id}/delete``, ``POST /strategy_day_parts/{id}/delete``,
with ``version``).

Concepts (an advertiser's creative groups), StrategyConcept (a concept a strategy runs, with
its weighting) and StrategyDayPart (days and hours a strategy bids) follow reference §5; a strategy's target dimensions are the kind
``StrategyTargeting`` of :mod:`.targeting` (no wire entity: not a KindSpec).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from types import MappingProxyType
from typing import Any

from reconciler.model import OnDelete
from reconciler.providers.base import KindInfo, load_schema


class FieldType(StrEnum):
    """How a field travels on the wire and how it is normalised."""

    STR = "str"
    INT = "int"
    DEC = "dec"  # plain decimal number
    BOOL = "bool"  # "0"/"1" on the wire, true/false in manifests
    DATETIME = "datetime"  # UTC "YYYY-MM-DDTHH:MM:SS" on the wire, canonical "...Z" in manifests
    MONEY = "money"  # currency-tagged decimal on read, plain decimal on write
    ID = "id"  # id of another entity: integer on the wire, string in manifests


class DeleteMode(StrEnum):
    DELETE = "delete"  # the API deletes the object
    DEACTIVATE = "deactivate"  # no delete in the API: set status=0


S, N, D, B, T, M, ID = (
    FieldType.STR,
    FieldType.INT,
    FieldType.DEC,
    FieldType.BOOL,
    FieldType.DATETIME,
    FieldType.MONEY,
    FieldType.ID,
)


@dataclass(frozen=True)
class KindSpec:
    """Wire facts of one kind."""

    kind: str
    collection: str  # ``/api/v2.0/<collection>``
    entity_type: str  # ``<entity type="...">``
    fields: Mapping[str, FieldType]
    parent_field: str | None = None  # spec field holding the parent id
    parent_rel: str | None = None  # ``/limit/<parent_rel>=<id>``
    natural_key: tuple[str, ...] = ("name",)
    immutable: frozenset[str] = frozenset()
    read_only: bool = False
    delete_mode: DeleteMode = DeleteMode.DEACTIVATE
    create_defaults: Mapping[str, object] = field(default_factory=dict)  # sent unless the spec sets them
    zone_field: str | None = None  # spec field naming the zone naive times are read in
    scan_unmanaged: bool = True  # False: drift does not list it under every managed parent

    @property
    def schema_file(self) -> str:
        return f"mediamath/{self.kind}.schema.json"


def _fields(**types: FieldType) -> Mapping[str, FieldType]:
    return MappingProxyType(dict(sorted(types.items())))


ORGANIZATION = KindSpec(
    kind="Organization",
    collection="organizations",
    entity_type="organization",
    read_only=True,
    fields=_fields(
        accountable_and_addressable=B, address_1=S, address_2=S, adx_seat_account_id=N,
        allow_byo_price=B, allow_x_agency_pixels=B, billing_country_code=S, city=S,
        contact_name=S, country=S, currency_code=S, dmp_enabled=S, mm_contact_name=S, name=S,
        org_type=S, override_suspicious_traffic_filter=B, phone=S, state=S, status=B,
        suspicious_traffic_filter_level=N, tag_ruleset=S, use_evidon_optout=B, zip=S,
    ),
)

AGENCY = KindSpec(
    kind="Agency",
    collection="agencies",
    entity_type="agency",
    parent_field="organization_id",
    parent_rel="organization",
    natural_key=("organization_id", "name"),
    immutable=frozenset({"organization_id"}),
    fields=_fields(
        allow_x_adv_optimization=B, allow_x_adv_pixels=B, billing_contact_id=ID, dmp_enabled=S,
        logo=S, name=S, organization_id=ID, sales_contact_id=ID, status=B, traffic_contact_id=ID,
    ),
)

ADVERTISER = KindSpec(
    kind="Advertiser",
    collection="advertisers",
    entity_type="advertiser",
    parent_field="agency_id",
    parent_rel="agency",
    natural_key=("agency_id", "name"),
    immutable=frozenset({"agency_id"}),
    fields=_fields(
        accountable_and_addressable=B, ad_server_fee=D, ad_server_id=ID, ad_server_username=S,
        agency_id=ID, allow_x_strat_optimization=B, billing_contact_id=ID, connected_id_type=S,
        dmp_enabled=S, domain=S, frequency_amount=N, frequency_interval=S, frequency_type=S,
        minimize_multi_ads=B, name=S, political=B, sales_contact_id=ID, status=B, vertical_id=ID,
    ),
)

CAMPAIGN = KindSpec(
    kind="Campaign",
    collection="campaigns",
    entity_type="campaign",
    parent_field="advertiser_id",
    parent_rel="advertiser",
    natural_key=("advertiser_id", "name"),
    immutable=frozenset({"advertiser_id"}),
    create_defaults=MappingProxyType({"status": False}),
    zone_field="zone_name",
    fields=_fields(
        ad_server_fee=D, ad_server_id=ID, ad_server_username=S, advertiser_id=ID,
        agency_fee_pct=D, bid_min_devices=N, connected_id_type=S, conversion_type=S,
        conversion_variable_minutes=N, currency_code=S, dcs_data_is_campaign_level=B,
        end_date=T, frequency_amount=N, frequency_interval=S, frequency_optimization=B,
        frequency_type=S, goal_alert=D, goal_category=S, goal_type=S, goal_value=M,
        has_custom_attribution=B, impression_cap_amount=N, impression_cap_automatic=B,
        impression_cap_type=S, io_name=S, io_reference_num=S, is_programmatic_guaranteed=B,
        margin_pct=D, merit_pixel_id=ID, minimize_multi_ads=B, name=S,
        override_suspicious_traffic_filter=B, pacing_alert=D, pc_window_minutes=N, political=B,
        pv_pct=D, pv_window_minutes=N, restrict_targeting_to_same_device_id=B, service_type=S,
        source_campaign_id=ID, spend_cap_amount=D, spend_cap_automatic=B, spend_cap_enabled=B,
        spend_cap_type=S, start_date=T, status=B, suspicious_traffic_filter_level=N,
        total_budget=M, total_impression_budget=N, use_default_ad_server=B, use_mm_freq=B,
        viewability_sample_rate=D, viewability_type=S, viewability_vendor_id=ID, zone_name=S,
    ),
)

STRATEGY = KindSpec(
    kind="Strategy",
    collection="strategies",
    entity_type="strategy",
    parent_field="campaign_id",
    parent_rel="campaign",
    natural_key=("campaign_id", "name"),
    immutable=frozenset({"campaign_id"}),
    create_defaults=MappingProxyType({"status": False}),
    fields=_fields(
        audience_segment_exclude_op=S, audience_segment_include_op=S, bid_aggressiveness=D,
        bid_min_devices=N, bid_price_is_media_only=B, budget=M, campaign_id=ID, description=S,
        end_date=T, feature_compatibility=S, frequency_amount=N,
        frequency_interval=S, frequency_optimization=B, frequency_type=S, goal_type=S,
        goal_value=M, impression_cap=N, impression_pacing_amount=N,
        impression_pacing_interval=S, impression_pacing_type=S, max_bid=M, max_bid_wm=D,
        media_type=S, min_bid=M, name=S, pacing_amount=M, pacing_interval=S,
        pacing_optimization_amount=D, pacing_optimization_type=S, pacing_type=S,
        pixel_target_expr=S, roi_target=D, run_on_all_exchanges=B, run_on_all_pmp=B,
        run_on_display=B, run_on_mobile=B, run_on_streaming=B,
        site_restriction_transparent_urls=B, site_selectiveness=S, start_date=T, status=B,
        supply_type=S, targeting_segment_exclude_op=S, targeting_segment_include_op=S, type=S,
        use_campaign_end=B, use_campaign_start=B, use_mm_freq=B, use_optimization=B,
    ),
)

BUDGET_FLIGHT = KindSpec(
    kind="BudgetFlight",
    collection="budget_flights",
    entity_type="budget_flight",
    parent_field="campaign_id",
    parent_rel="campaign",
    # ``name`` is optional on a flight; flights of one campaign do not overlap, so the start
    # identifies one.
    natural_key=("campaign_id", "start_date"),
    immutable=frozenset({"campaign_id"}),
    delete_mode=DeleteMode.DELETE,
    fields=_fields(
        campaign_id=ID, end_date=T, name=S, start_date=T, total_budget=M, total_impression_budget=N,
    ),
)

CONCEPT = KindSpec(
    kind="Concept",
    collection="concepts",
    entity_type="concept",
    parent_field="advertiser_id",
    parent_rel="advertiser",
    natural_key=("advertiser_id", "name"),
    immutable=frozenset({"advertiser_id"}),
    fields=_fields(advertiser_id=ID, name=S, status=B),
)

STRATEGY_CONCEPT = KindSpec(
    kind="StrategyConcept",
    collection="strategy_concepts",
    entity_type="strategy_concept",
    parent_field="strategy_id",
    parent_rel="strategy",
    # one assignment per strategy and concept (the API refuses a second)
    natural_key=("strategy_id", "concept_id"),
    immutable=frozenset({"strategy_id", "concept_id"}),
    delete_mode=DeleteMode.DELETE,
    scan_unmanaged=False,  # one listing per strategy: too many for every drift run
    fields=_fields(concept_id=ID, percent=D, status=B, strategy_id=ID, weighting=S),
)

STRATEGY_DAY_PART = KindSpec(
    kind="StrategyDayPart",
    collection="strategy_day_parts",
    entity_type="strategy_day_part",
    parent_field="strategy_id",
    parent_rel="strategy",
    # no name: a day part is its window (changing the window makes the lookup look for the new one)
    natural_key=("strategy_id", "days", "start_hour", "end_hour"),
    immutable=frozenset({"strategy_id"}),
    delete_mode=DeleteMode.DELETE,
    scan_unmanaged=False,  # one listing per strategy: too many for every drift run
    fields=_fields(days=S, end_hour=N, start_hour=N, status=B, strategy_id=ID, user_time=B),
)

KIND_SPECS: Mapping[str, KindSpec] = MappingProxyType(
    {spec.kind: spec for spec in (ORGANIZATION, AGENCY, ADVERTISER, CAMPAIGN, STRATEGY, BUDGET_FLIGHT, CONCEPT,
                                  STRATEGY_CONCEPT, STRATEGY_DAY_PART)}
)

# Decimal places the API keeps per numeric field (money is 2 unless listed; goal values 4).
SCALE: Mapping[str, int] = MappingProxyType({"goal_value": 4, "margin_pct": 4, "roi_target": 4})


def spec_schema(kind: str) -> dict[str, Any]:
    """The JSON Schema of a kind's ``spec``: ``$defs.spec`` of its document schema file."""
    document = load_schema(KIND_SPECS[kind].schema_file)
    defs = document["$defs"]
    return {"$schema": document["$schema"], **defs["spec"], "$defs": defs}


def kind_info(spec: KindSpec) -> KindInfo:
    from reconciler.providers.mediamath.checks import checks_for  # reads this module's types

    return KindInfo(
        name=spec.kind,
        schema=spec_schema(spec.kind),
        natural_key=spec.natural_key,
        parent_field=spec.parent_field,
        immutable_fields=spec.immutable,
        read_only=spec.read_only,
        deletable=not spec.read_only,
        default_on_delete=OnDelete.DELETE,
        delete_means=(
            "deactivated (status=0) and forgotten: the API has no delete for it"
            if spec.delete_mode is DeleteMode.DEACTIVATE else ""
        ),
        deactivates=spec.delete_mode is DeleteMode.DEACTIVATE,
        checks=checks_for(spec),
        # goal_value is money for cpa/cpc goals but a rate for ctr/vcr ones: not summed or shown as money
        money_fields=frozenset(f for f, t in spec.fields.items() if t is FieldType.MONEY and f != "goal_value"),
        total_fields=frozenset(f for f in ("total_budget", "budget") if spec.fields.get(f) is FieldType.MONEY),
        currency_field="currency_code" if spec.kind == "Campaign" else None,
        summary_group=spec.kind == "Advertiser",
        datetime_fields=frozenset(f for f, t in spec.fields.items() if t is FieldType.DATETIME),
        zone_field=spec.zone_field,
        scan_unmanaged=spec.scan_unmanaged,
    )


def kind_infos() -> dict[str, KindInfo]:
    """KindInfo per kind name, schemas loaded from ``schemas/mediamath/``."""
    return {name: kind_info(spec) for name, spec in sorted(KIND_SPECS.items())}
