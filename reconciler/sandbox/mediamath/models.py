"""Entity types of the MediaMath v2.0 emulator: fields, relations, value rules.

Each :class:`EntityType` lists its fields in the order the API renders them (the order seen in the
vendor's documented examples first, then the rest), with the wire type, required/read-only flags,
enums, lengths and numeric ranges from the research notes (``reference/mediamath-api.md`` §5 and the
v3 OpenAPI limits). Stored values are JSON-native: ``str``, ``int``, ``bool``, decimals and money
as quantised decimal strings, datetimes as UTC ``YYYY-MM-DDTHH:MM:SS`` strings; ``None`` is null.

How a value is coerced, stored and sent is in :mod:`.values`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from enum import Enum
from typing import Any

DT_FORMAT = "%Y-%m-%dT%H:%M:%S"
DEFAULT_ZONE = "Etc/GMT"
DEFAULT_CURRENCY = "USD"
MAX_ID = 2147483647


class FieldType(Enum):
    STR = "str"
    INT = "int"
    DEC = "dec"
    BOOL = "bool"
    DATETIME = "datetime"
    MONEY = "money"


class FieldError(ValueError):
    """One invalid field: rendered as ``<field-error name= error=>``."""

    def __init__(self, name: str, error: str) -> None:
        super().__init__(f"{name}: {error}")
        self.name = name
        self.error = error


@dataclass(frozen=True)
class Field:
    name: str
    type: FieldType = FieldType.STR
    required: bool = False
    readonly: bool = False  # never accepted in a POST body
    create_only: bool = False  # accepted on create; on update only if unchanged
    write_only: bool = False  # accepted but never rendered (secrets)
    enum: tuple[str, ...] | None = None
    default: Any = None
    min_length: int | None = None
    max_length: int | None = None
    minimum: Decimal | None = None
    maximum: Decimal | None = None
    places: int = 2  # decimals shown for DEC and MONEY
    ref: str | None = None  # collection an ``*_id`` field points to

    @property
    def is_decimal(self) -> bool:
        return self.type in (FieldType.DEC, FieldType.MONEY)


class RelationKind(Enum):
    SINGLE = "single"  # this entity holds ``via`` = the related id
    PLURAL = "plural"  # the related entities hold ``via`` = this entity's id


@dataclass(frozen=True)
class Relation:
    name: str
    kind: RelationKind
    target: str  # collection
    via: str  # field name


@dataclass(frozen=True)
class EntityType:
    type: str  # singular, as in ``type="campaign"``
    collection: str
    fields: tuple[Field, ...]
    relations: tuple[Relation, ...] = ()
    owner: str | None = None  # field naming the parent that decides the organisation; "" = self
    owner_collection: str | None = None
    creatable: bool = True
    updatable: bool = True
    zoned: bool = False  # datetimes carry <local_time> in the campaign's zone
    derived: tuple[str, ...] = ()  # fields computed at read time (not stored)
    # relations the vendor's client asks for with ``with=`` whose entity the reference names but
    # does not describe (currency, time_zone, seats): accepted, nothing nested (see query.parse_withs)
    unmodelled_relations: tuple[str, ...] = ()
    by_name: dict[str, Field] = field(default_factory=dict, compare=False, repr=False)

    def __post_init__(self) -> None:
        self.by_name.update({f.name: f for f in self.fields})

    def relation(self, name: str) -> Relation | None:
        for rel in self.relations:
            if rel.name == name:
                return rel
        return None

    def string_fields(self) -> list[str]:
        return [f.name for f in self.fields if f.type is FieldType.STR and not f.write_only]


def D(text: str) -> Decimal:
    return Decimal(text)


INT, DEC, B, DT, M = FieldType.INT, FieldType.DEC, FieldType.BOOL, FieldType.DATETIME, FieldType.MONEY
TS = (Field("created_on", DT, readonly=True), Field("updated_on", DT, readonly=True))
FREQ_TYPES = ("asap", "even", "no-limit")
INTERVALS = ("day", "hour", "month", "not-applicable", "week")
INTERVALS_C = ("campaign", "day", "hour", "month", "not-applicable", "week")
GOAL_TYPES = ("cpa", "cpc", "cpe", "ctr", "reach", "roi", "spend", "vcpm", "vcr", "viewability_rate")
BIG = D("9999999.99")
BIG4 = D("9999999.9999")

ORGANIZATION = EntityType(
    "organization",
    "organizations",
    (
        Field("name", required=True, min_length=1, max_length=64),
        Field("status", B, default=True),
        Field("org_type", enum=("buyer", "partner"), default="buyer"),
        Field("address_1", required=True, max_length=256),
        Field("address_2", max_length=256),
        Field("city", required=True, max_length=32),
        Field("state", required=True, max_length=2),
        Field("zip", required=True, max_length=10),
        Field("country", max_length=2, default="US"),
        Field("phone", required=True, max_length=24),
        Field("contact_name", required=True, max_length=64),
        Field("mm_contact_name", required=True, max_length=64),
        Field("currency_code", max_length=3, default=DEFAULT_CURRENCY),
        Field("billing_country_code", max_length=2, default="US"),
        Field("dmp_enabled", enum=("disabled", "enabled"), default="disabled"),
        Field("adx_seat_account_id", INT, minimum=D("1")),
        Field("allow_byo_price", B, default=False),
        Field("allow_x_agency_pixels", B, default=False),
        Field("accountable_and_addressable", B, default=False),
        Field("override_suspicious_traffic_filter", B, default=False),
        Field("suspicious_traffic_filter_level", INT, default=25, minimum=D("0"), maximum=D("100")),
        Field("tag_ruleset"),
        Field("use_evidon_optout", B, default=False),
        *TS,
    ),
    relations=(
        Relation("agencies", RelationKind.PLURAL, "agencies", "organization_id"),
        Relation("contracts", RelationKind.PLURAL, "contracts", "organization_id"),
    ),
    owner="",
    creatable=False,
    unmodelled_relations=("currency", "seats"),
)

AGENCY = EntityType(
    "agency",
    "agencies",
    (
        Field("organization_id", INT, required=True, create_only=True, ref="organizations", minimum=D("1")),
        Field("name", required=True, min_length=1, max_length=64),
        *TS,
        Field("status", B, default=False),
        Field("allow_x_adv_pixels", B, default=False),
        Field("allow_x_adv_optimization", B, default=False),
        Field("dmp_enabled", enum=("disabled", "inherits"), default="inherits"),
        Field("logo", max_length=1024),
        Field("billing_contact_id", INT),
        Field("sales_contact_id", INT),
        Field("traffic_contact_id", INT),
    ),
    relations=(
        Relation("organization", RelationKind.SINGLE, "organizations", "organization_id"),
        Relation("advertisers", RelationKind.PLURAL, "advertisers", "agency_id"),
        Relation("billing_contact", RelationKind.SINGLE, "contacts", "billing_contact_id"),
        Relation("sales_contact", RelationKind.SINGLE, "contacts", "sales_contact_id"),
        Relation("traffic_contact", RelationKind.SINGLE, "contacts", "traffic_contact_id"),
    ),
    owner="organization_id",
    owner_collection="organizations",
)

ADVERTISER = EntityType(
    "advertiser",
    "advertisers",
    (
        Field("agency_id", INT, required=True, create_only=True, ref="agencies", minimum=D("1")),
        Field("name", required=True, min_length=1, max_length=64),
        Field("vertical_id", INT, required=True, ref="verticals"),
        Field("ad_server_id", INT, required=True, ref="ad_servers"),
        Field("allow_x_strat_optimization", B, default=False),
        Field("status", B, default=False),
        Field("domain", required=True, max_length=255),
        *TS,
        Field("frequency_type", enum=FREQ_TYPES, default="no-limit"),
        Field("frequency_interval", enum=INTERVALS_C, default="not-applicable"),
        Field("frequency_amount", INT, minimum=D("0")),
        Field("minimize_multi_ads", B, default=False),
        Field("dmp_enabled", enum=("disabled", "inherits"), default="inherits"),
        Field("ad_server_fee", DEC, minimum=D("0"), maximum=BIG),
        Field("ad_server_username", max_length=64),
        Field("ad_server_password", max_length=64, write_only=True),
        Field("billing_contact_id", INT),
        Field("sales_contact_id", INT),
        Field("political", B, default=False),
        Field("accountable_and_addressable", B, default=False),
        Field("connected_id_type", enum=("DETERMINISTIC_FIRST", "DETERMINISTIC_ONLY"),
              default="DETERMINISTIC_ONLY"),
    ),
    relations=(
        Relation("agency", RelationKind.SINGLE, "agencies", "agency_id"),
        Relation("ad_server", RelationKind.SINGLE, "ad_servers", "ad_server_id"),
        Relation("vertical", RelationKind.SINGLE, "verticals", "vertical_id"),
        Relation("campaigns", RelationKind.PLURAL, "campaigns", "advertiser_id"),
        Relation("billing_contact", RelationKind.SINGLE, "contacts", "billing_contact_id"),
        Relation("sales_contact", RelationKind.SINGLE, "contacts", "sales_contact_id"),
        Relation("pixel_bundles", RelationKind.PLURAL, "pixel_bundles", "advertiser_id"),
        Relation("concepts", RelationKind.PLURAL, "concepts", "advertiser_id"),
    ),
    owner="agency_id",
    owner_collection="agencies",
)

CAMPAIGN = EntityType(
    "campaign",
    "campaigns",
    (
        Field("advertiser_id", INT, required=True, create_only=True, ref="advertisers", minimum=D("1")),
        Field("status", B, default=False),
        Field("io_name", max_length=256, default=""),
        Field("io_reference_num", max_length=32, default=""),
        Field("name", required=True, min_length=1, max_length=256),
        Field("start_date", DT, required=True),
        Field("end_date", DT, required=True),
        Field("initial_start_date", DT, readonly=True),
        Field("zone_name", default=DEFAULT_ZONE),
        Field("currency_code", max_length=3, default=DEFAULT_CURRENCY),
        Field("service_type", enum=("MANAGED", "SELF"), required=True),
        Field("goal_type", enum=GOAL_TYPES, required=True),
        Field("goal_value", M, required=True, places=4, minimum=D("0.0001"), maximum=BIG4),
        Field("goal_category", enum=("audience", "engagement", "response")),
        Field("goal_alert", DEC, minimum=D("0"), maximum=D("999.99")),
        Field("total_budget", M, required=True, minimum=D("0.01"), maximum=D("9999999999.99")),
        Field("total_impression_budget", INT, minimum=D("1")),
        Field("ad_server_id", INT, required=True, ref="ad_servers"),
        Field("ad_server_fee", DEC, default="0.00", minimum=D("0"), maximum=BIG),
        Field("ad_server_username", max_length=64),
        Field("ad_server_password", max_length=64, write_only=True),
        Field("agency_fee_pct", DEC, default="0.00", minimum=D("0"), maximum=BIG4),
        Field("margin_pct", DEC, default="0.00", minimum=D("0"), maximum=BIG4),
        Field("merit_pixel_id", INT),
        Field("pc_window_minutes", INT, minimum=D("0")),
        Field("pv_window_minutes", INT, minimum=D("0")),
        Field("pv_pct", DEC, minimum=D("0"), maximum=D("100")),
        Field("conversion_type", enum=("every", "one", "variable"), default="variable"),
        Field("conversion_variable_minutes", INT, minimum=D("0")),
        Field("dcs_data_is_campaign_level", B, default=False),
        Field("frequency_type", enum=FREQ_TYPES, default="no-limit"),
        Field("frequency_interval", enum=INTERVALS, default="not-applicable"),
        Field("frequency_amount", INT, minimum=D("0")),
        Field("frequency_optimization", B, default=False),
        Field("has_custom_attribution", B, default=False),
        Field("impression_cap_amount", INT, minimum=D("0")),
        Field("impression_cap_automatic", B, default=False),
        Field("impression_cap_type", enum=FREQ_TYPES, default="no-limit"),
        Field("spend_cap_amount", DEC, minimum=D("0"), maximum=BIG),
        Field("spend_cap_automatic", B, default=True),  # v3 OpenAPI: default true
        Field("spend_cap_enabled", B, default=False),
        Field("spend_cap_type", enum=FREQ_TYPES, default="no-limit"),
        Field("pacing_alert", DEC, minimum=D("0"), maximum=D("999.99")),
        Field("minimize_multi_ads", B, default=False),
        Field("override_suspicious_traffic_filter", B, default=False),
        Field("suspicious_traffic_filter_level", INT, default=25, minimum=D("0"), maximum=D("100")),
        Field("use_default_ad_server", B, default=True),
        Field("use_mm_freq", B, required=True),
        Field("political", B, default=False),
        Field("is_programmatic_guaranteed", B, default=False),
        Field("restrict_targeting_to_same_device_id", B, default=False),
        Field("connected_id_type", enum=("DETERMINISTIC_FIRST", "DETERMINISTIC_ONLY")),
        Field("bid_min_devices", INT, minimum=D("-32768"), maximum=D("32767")),
        Field("source_campaign_id", INT),
        Field("viewability_type"),
        Field("viewability_vendor_id", INT),
        Field("viewability_sample_rate", DEC, minimum=D("0"), maximum=D("1")),
        *TS,
    ),
    relations=(
        Relation("advertiser", RelationKind.SINGLE, "advertisers", "advertiser_id"),
        Relation("ad_server", RelationKind.SINGLE, "ad_servers", "ad_server_id"),
        Relation("strategies", RelationKind.PLURAL, "strategies", "campaign_id"),
        Relation("budget_flights", RelationKind.PLURAL, "budget_flights", "campaign_id"),
        Relation("merit_pixel", RelationKind.SINGLE, "pixel_bundles", "merit_pixel_id"),
        Relation("vendor_contracts", RelationKind.PLURAL, "vendor_contracts", "campaign_id"),
    ),
    owner="advertiser_id",
    owner_collection="advertisers",
    zoned=True,
    unmodelled_relations=("currency", "time_zone"),
)

SEG_OPS = ("AND", "OR")
STRATEGY = EntityType(
    "strategy",
    "strategies",
    (
        Field("campaign_id", INT, required=True, create_only=True, ref="campaigns", minimum=D("1")),
        Field("start_date", DT),
        Field("end_date", DT),
        Field("use_campaign_start", B),
        Field("use_campaign_end", B),
        Field("use_optimization", B, default=False),
        Field("pacing_type", enum=("asap", "even"), default="even"),
        Field("pacing_interval", enum=("day", "hour"), default="day"),
        Field("goal_type", enum=GOAL_TYPES, required=True),
        Field("bid_aggressiveness", DEC, default="50.00", minimum=D("0"), maximum=D("100")),
        Field("frequency_type", enum=FREQ_TYPES, default="no-limit"),
        Field("frequency_interval", enum=INTERVALS_C, default="not-applicable"),
        Field("run_on_all_exchanges", B, default=False),
        *TS,
        Field("status", B, default=False),
        Field("budget", M, required=True, minimum=D("1"), maximum=D("10000000")),
        Field("pacing_amount", M, required=True, minimum=D("0.01"), maximum=BIG),
        Field("goal_value", M, required=True, places=4, minimum=D("0"), maximum=BIG4),
        Field("max_bid", M, required=True, minimum=D("0.01"), maximum=BIG),
        Field("min_bid", M, default="0.00", minimum=D("0"), maximum=BIG),
        Field("name", required=True, min_length=1, max_length=128),
        Field("site_selectiveness", enum=("ALL", "EXCLUDE_UGC", "MATHSELECT_250", "REDUCED"), default="REDUCED"),
        Field("type", enum=("AUD", "GBO", "REM"), required=True),
        Field("use_mm_freq", B, default=False),
        Field("site_restriction_transparent_urls", B, default=False),
        Field("supply_type", enum=("BATCH", "MKT", "RMX_API", "RTB", "T1_RMX"), default="RTB"),
        Field("audience_segment_include_op", enum=SEG_OPS, default="OR"),
        Field("audience_segment_exclude_op", enum=SEG_OPS, default="OR"),
        Field("run_on_all_pmp", B, default=False),
        Field("bid_price_is_media_only", B, default=False),
        Field("media_type", enum=("DISPLAY", "VIDEO"), default="DISPLAY"),
        Field("run_on_display", B, default=True),
        Field("run_on_mobile", B, default=False),
        Field("run_on_streaming", B, default=False),
        Field("currency_code", readonly=True),
        Field("zone_name", readonly=True),
        Field("targeting_segment_include_op", enum=SEG_OPS, default="OR"),
        Field("targeting_segment_exclude_op", enum=SEG_OPS, default="OR"),
        Field("frequency_optimization", B, default=False),
        Field("impression_pacing_type", enum=FREQ_TYPES, default="no-limit"),
        Field("impression_pacing_interval", enum=INTERVALS_C, default="not-applicable"),
        Field("effective_goal_value", M, readonly=True, places=4),
        Field("pixel_target_expr", default="", max_length=4096),
        Field("description", max_length=1024),
        Field("bid_min_devices", INT, minimum=D("-32768"), maximum=D("32767")),
        Field("feature_compatibility", max_length=1024),
        Field("frequency_amount", INT, minimum=D("0")),
        Field("impression_cap", INT, minimum=D("0")),
        Field("impression_pacing_amount", INT, minimum=D("0")),
        Field("max_bid_wm", DEC, minimum=D("0"), maximum=BIG),
        Field("pacing_optimization_amount", DEC, minimum=D("0"), maximum=BIG),
        Field("pacing_optimization_type", enum=("impression", "monetary")),
        Field("roi_target", DEC, minimum=D("0"), maximum=BIG),
    ),
    relations=(
        Relation("campaign", RelationKind.SINGLE, "campaigns", "campaign_id"),
        Relation("strategy_concepts", RelationKind.PLURAL, "strategy_concepts", "strategy_id"),
        Relation("strategy_day_parts", RelationKind.PLURAL, "strategy_day_parts", "strategy_id"),
        Relation("strategy_audience_segments", RelationKind.PLURAL, "strategy_audience_segments", "strategy_id"),
        Relation("strategy_supply_sources", RelationKind.PLURAL, "strategy_supply_sources", "strategy_id"),
        Relation("strategy_deals", RelationKind.PLURAL, "strategy_deals", "strategy_id"),
        Relation("strategy_site_lists", RelationKind.PLURAL, "strategy_site_lists", "strategy_id"),
        Relation("strategy_domain_restrictions", RelationKind.PLURAL, "strategy_domain_restrictions", "strategy_id"),
    ),
    owner="campaign_id",
    owner_collection="campaigns",
    zoned=True,
    derived=("currency_code", "zone_name", "effective_goal_value"),
    unmodelled_relations=("currency", "time_zone"),
)

BUDGET_FLIGHT = EntityType(
    "budget_flight",
    "budget_flights",
    (
        Field("campaign_id", INT, required=True, create_only=True, ref="campaigns", minimum=D("1")),
        Field("name", max_length=256),
        Field("start_date", DT, required=True),
        Field("end_date", DT, required=True),
        Field("total_budget", M, required=True, minimum=D("0.01"), maximum=D("9999999999.99")),
        Field("total_impression_budget", INT, minimum=D("1")),
        Field("currency_code", readonly=True),
        Field("zone_name", readonly=True),
        Field("is_relevant", B, readonly=True),
        *TS,
    ),
    relations=(Relation("campaign", RelationKind.SINGLE, "campaigns", "campaign_id"),),
    owner="campaign_id",
    owner_collection="campaigns",
    zoned=True,
    derived=("currency_code", "zone_name", "is_relevant"),
)

# Creatives: a concept groups an advertiser's creatives; a strategy runs the concepts assigned to it
# (reference §5 concept and strategy_concept; v3 OpenAPI: concept name 1-256).
CONCEPT = EntityType(
    "concept",
    "concepts",
    (
        Field("advertiser_id", INT, required=True, create_only=True, ref="advertisers", minimum=D("1")),
        Field("name", required=True, min_length=1, max_length=256),
        Field("status", B, default=True),
        *TS,
    ),
    relations=(
        Relation("advertiser", RelationKind.SINGLE, "advertisers", "advertiser_id"),
        Relation("strategy_concepts", RelationKind.PLURAL, "strategy_concepts", "concept_id"),
    ),
    owner="advertiser_id",
    owner_collection="advertisers",
)
STRATEGY_CONCEPT = EntityType(  # a linkage entity: strategy <-> concept, deleted with its version
    "strategy_concept",
    "strategy_concepts",
    (
        Field("strategy_id", INT, required=True, create_only=True, ref="strategies", minimum=D("1")),
        Field("concept_id", INT, required=True, create_only=True, ref="concepts", minimum=D("1")),
        Field("status", B, default=True),
        Field("weighting", enum=("BUDGET", "IMPRESSION", "NONE"), default="NONE"),
        Field("percent", DEC, minimum=D("0"), maximum=D("100")),
        *TS,
    ),
    relations=(
        Relation("strategy", RelationKind.SINGLE, "strategies", "strategy_id"),
        Relation("concept", RelationKind.SINGLE, "concepts", "concept_id"),
    ),
    owner="strategy_id",
    owner_collection="strategies",
)

# When a strategy bids (reference §5 strategy_day_part): days as letters of ``MTWRFSU`` (Monday ...
# Thursday ``R`` ... Sunday ``U``, in that order), hours 0-23, in the user's or the campaign's time.
DAYS = "MTWRFSU"
STRATEGY_DAY_PART = EntityType(
    "strategy_day_part",
    "strategy_day_parts",
    (
        Field("strategy_id", INT, required=True, create_only=True, ref="strategies", minimum=D("1")),
        Field("days", required=True, min_length=1, max_length=7),
        Field("start_hour", INT, required=True, minimum=D("0"), maximum=D("23")),
        Field("end_hour", INT, required=True, minimum=D("0"), maximum=D("23")),
        Field("user_time", B, default=False),
        Field("status", B, default=True),
        *TS,
    ),
    relations=(Relation("strategy", RelationKind.SINGLE, "strategies", "strategy_id"),),
    owner="strategy_id",
    owner_collection="strategies",
)

# Read-only entities the relations above reach (fields: reference §5 and the SDK's models); the
# sandbox holds them as seeded data (``entities`` seed), the API creates none of them here.
CONTACT = EntityType(
    "contact",
    "contacts",
    (*(Field(n) for n in ("first_name", "last_name", "title", "phone", "mobile", "fax", "email", "address_1",
                          "address_2", "city", "state", "zip", "country")), *TS),
    creatable=False,
    updatable=False,
)
CONTRACT = EntityType(
    "contract",
    "contracts",
    (Field("organization_id", INT, ref="organizations"), Field("effective_start_date", DT),
     Field("effective_end_date", DT), *TS),
    relations=(Relation("organization", RelationKind.SINGLE, "organizations", "organization_id"),),
    owner="organization_id",
    owner_collection="organizations",
    creatable=False,
    updatable=False,
)
PIXEL_BUNDLE = EntityType(
    "pixel_bundle",
    "pixel_bundles",
    (
        Field("name", max_length=256),
        Field("advertiser_id", INT, ref="advertisers"),
        Field("agency_id", INT, ref="agencies"),
        Field("pixel_type", enum=("creative", "data", "event", "segment"), default="event"),
        Field("tag_type", enum=("dfa", "iframe", "image", "js", "uat"), default="image"),
        Field("eligible", B, default=False),
        Field("status", B, default=True),
        *TS,
    ),
    relations=(Relation("advertiser", RelationKind.SINGLE, "advertisers", "advertiser_id"),),
    owner="advertiser_id",
    owner_collection="advertisers",
    creatable=False,
    updatable=False,
)
VENDOR = EntityType(
    "vendor",
    "vendors",
    (Field("name"), Field("vendor_type", default="OTHER"), Field("is_eligible", B, default=True),
     Field("mm_contract_available", B, default=False), Field("rate_card_type"), Field("rate_card_price", DEC), *TS),
    relations=(Relation("vendor_contracts", RelationKind.PLURAL, "vendor_contracts", "vendor_id"),),
    creatable=False,
    updatable=False,
)
VENDOR_CONTRACT = EntityType(  # a linkage entity: campaign <-> vendor (``/limit/vendor_contracts.vendor=ID``)
    "vendor_contract",
    "vendor_contracts",
    (Field("campaign_id", INT, ref="campaigns"), Field("vendor_id", INT, ref="vendors"), Field("price", DEC),
     Field("rate_card_type"), Field("use_mm_contract", B, default=False), *TS),
    relations=(Relation("campaign", RelationKind.SINGLE, "campaigns", "campaign_id"),
               Relation("vendor", RelationKind.SINGLE, "vendors", "vendor_id")),
    owner="campaign_id",
    owner_collection="campaigns",
    creatable=False,
    updatable=False,
)
# Targeting lookups (reference §1.4; fields from the SDK's TargetValue model and the v3 OpenAPI
# ``list_target_values``): global reference data, read-only. A strategy's targeting per dimension is
# not an entity of a collection: see :mod:`.targeting`.
TARGET_DIMENSION = EntityType(
    "target_dimension",
    "target_dimensions",
    (Field("name"), Field("code"), *TS),
    relations=(Relation("target_values", RelationKind.PLURAL, "target_values", "target_dimension_id"),),
    creatable=False,
    updatable=False,
)
TARGET_VALUE = EntityType(
    "target_value",
    "target_values",
    (
        Field("name"),
        Field("code"),
        Field("value", INT),
        Field("dimension_code"),
        Field("target_dimension_id", INT, ref="target_dimensions"),
        Field("parent_value_id", INT),
        Field("is_targetable", B, default=True),
        Field("child_count", INT, default=0),
        *TS,
    ),
    relations=(Relation("target_dimension", RelationKind.SINGLE, "target_dimensions", "target_dimension_id"),),
    creatable=False,
    updatable=False,
)
# Audience lookups (v3 OpenAPI ``path_audience_segments``: name, code, full_path, buyable, parent):
# a read-only tree of vendors' segments. A strategy's segments are ``strategy_audience_segments``
# (reference §5), written only through ``POST /strategies/{id}/audience_segments``
# (:mod:`.audiences`).
AUDIENCE_SEGMENT = EntityType(
    "audience_segment",
    "audience_segments",
    (
        Field("name"),
        Field("code"),
        Field("full_path"),
        Field("parent_audience_segment_id", INT),
        Field("buyable", B, default=True),
        Field("child_count", INT, default=0),
        Field("audience_vendor_id", INT),
        Field("retail_cpm", DEC),
        *TS,
    ),
    relations=(Relation("strategy_audience_segments", RelationKind.PLURAL, "strategy_audience_segments",
                        "audience_segment_id"),),
    creatable=False,
    updatable=False,
)
STRATEGY_AUDIENCE_SEGMENT = EntityType(  # a linkage entity: strategy <-> segment, INCLUDE or EXCLUDE
    "strategy_audience_segment",
    "strategy_audience_segments",
    (
        Field("strategy_id", INT, ref="strategies"),
        Field("audience_segment_id", INT, ref="audience_segments"),
        Field("restriction", enum=("INCLUDE", "EXCLUDE"), default="INCLUDE"),
        Field("group_identifier"),
        Field("operator", enum=SEG_OPS, default="OR"),
        Field("code", readonly=True),
        Field("user_cpm", DEC),
        *TS,
    ),
    relations=(
        Relation("strategy", RelationKind.SINGLE, "strategies", "strategy_id"),
        Relation("audience_segment", RelationKind.SINGLE, "audience_segments", "audience_segment_id"),
    ),
    owner="strategy_id",
    owner_collection="strategies",
    creatable=False,
    updatable=False,
)
# Supply lookups (reference §5 supply_source; deals: ``deal_identifier`` is the exchange's id of the
# deal) and a strategy's picks of them, written only through ``POST /strategies/{id}/supplies`` and
# ``/deals`` (:mod:`.supplies`).
SUPPLY_SOURCE = EntityType(
    "supply_source",
    "supply_sources",
    (Field("name"), Field("code"), Field("supply_type", enum=("exchange", "data")),
     Field("rtb_type", enum=("STANDARD", "MARKETPLACE")), Field("rtb_enabled", B, default=True),
     Field("pmp_enabled", B, default=False), Field("status", B, default=True), *TS),
    creatable=False,
    updatable=False,
)
DEAL = EntityType(
    "deal",
    "deals",
    (Field("name"), Field("deal_identifier"), Field("supply_source_id", INT, ref="supply_sources"),
     Field("price", DEC), Field("price_type", enum=("FIXED", "FLOOR")), Field("status", B, default=True), *TS),
    relations=(Relation("supply_source", RelationKind.SINGLE, "supply_sources", "supply_source_id"),),
    creatable=False,
    updatable=False,
)
STRATEGY_SUPPLY_SOURCE = EntityType(
    "strategy_supply_source",
    "strategy_supply_sources",
    (Field("strategy_id", INT, ref="strategies"), Field("supply_source_id", INT, ref="supply_sources"),
     Field("code", readonly=True), *TS),
    relations=(Relation("strategy", RelationKind.SINGLE, "strategies", "strategy_id"),
               Relation("supply_source", RelationKind.SINGLE, "supply_sources", "supply_source_id")),
    owner="strategy_id",
    owner_collection="strategies",
    creatable=False,
    updatable=False,
)
STRATEGY_DEAL = EntityType(
    "strategy_deal",
    "strategy_deals",
    (Field("strategy_id", INT, ref="strategies"), Field("deal_id", INT, ref="deals"),
     Field("code", readonly=True), *TS),
    relations=(Relation("strategy", RelationKind.SINGLE, "strategies", "strategy_id"),
               Relation("deal", RelationKind.SINGLE, "deals", "deal_id")),
    owner="strategy_id",
    owner_collection="strategies",
    creatable=False,
    updatable=False,
)
# Site lists (the SDK's SiteList: an organisation's list of domains, INCLUDE or EXCLUDE; uploaded as a
# file, so seeded here) and a strategy's assignments of them, written only through
# ``POST /strategies/{id}/site_lists`` (:mod:`.supplies`).
SITE_LIST = EntityType(
    "site_list",
    "site_lists",
    (Field("name"), Field("organization_id", INT, ref="organizations"), Field("filename"),
     Field("restriction", enum=("INCLUDE", "EXCLUDE"), default="EXCLUDE"), Field("status", B, default=True), *TS),
    relations=(Relation("organization", RelationKind.SINGLE, "organizations", "organization_id"),),
    creatable=False,
    updatable=False,
)
STRATEGY_SITE_LIST = EntityType(
    "strategy_site_list",
    "strategy_site_lists",
    (Field("strategy_id", INT, ref="strategies"), Field("site_list_id", INT, ref="site_lists"),
     Field("code", readonly=True), *TS),
    relations=(Relation("strategy", RelationKind.SINGLE, "strategies", "strategy_id"),
               Relation("site_list", RelationKind.SINGLE, "site_lists", "site_list_id")),
    owner="strategy_id",
    owner_collection="strategies",
    creatable=False,
    updatable=False,
)
# A strategy's domain restrictions (reference §5 strategy_domain_restriction), written only through
# ``POST /strategies/{id}/domain_restrictions`` (:mod:`.domains`).
STRATEGY_DOMAIN_RESTRICTION = EntityType(
    "strategy_domain_restriction",
    "strategy_domain_restrictions",
    (Field("strategy_id", INT, ref="strategies"), Field("domain"), Field("restriction", enum=("INCLUDE", "EXCLUDE")),
     *TS),
    relations=(Relation("strategy", RelationKind.SINGLE, "strategies", "strategy_id"),),
    owner="strategy_id",
    owner_collection="strategies",
    creatable=False,
    updatable=False,
)
AD_SERVER = EntityType("ad_server", "ad_servers", (*TS, Field("name")), creatable=False, updatable=False)
VERTICAL = EntityType("vertical", "verticals", (*TS, Field("name")), creatable=False, updatable=False)

USER = EntityType(
    "user",
    "users",
    (
        Field("name"),
        Field("first_name"),
        Field("last_name"),
        Field("email"),
        Field("title"),
        Field("organization_id", INT, ref="organizations"),
        Field("active", B, default=True),
        *TS,
    ),
    relations=(Relation("organization", RelationKind.SINGLE, "organizations", "organization_id"),),
    owner="organization_id",
    owner_collection="organizations",
    creatable=False,
    updatable=False,
)

ENTITY_TYPES: dict[str, EntityType] = {
    t.collection: t
    for t in (ORGANIZATION, AGENCY, ADVERTISER, CAMPAIGN, STRATEGY, BUDGET_FLIGHT, AD_SERVER, VERTICAL, USER,
              CONTACT, CONTRACT, PIXEL_BUNDLE, VENDOR, VENDOR_CONTRACT, TARGET_DIMENSION, TARGET_VALUE, CONCEPT,
              STRATEGY_CONCEPT, STRATEGY_DAY_PART, AUDIENCE_SEGMENT, STRATEGY_AUDIENCE_SEGMENT, SUPPLY_SOURCE, DEAL,
              STRATEGY_SUPPLY_SOURCE, STRATEGY_DEAL, SITE_LIST, STRATEGY_SITE_LIST,
              STRATEGY_DOMAIN_RESTRICTION)
}
BY_TYPE: dict[str, EntityType] = {t.type: t for t in ENTITY_TYPES.values()}
HISTORY_COLLECTIONS = frozenset({"organizations", "agencies", "advertisers", "campaigns", "strategies",
                                 "budget_flights", "concepts", "strategy_concepts", "strategy_day_parts"})
