"""Normalisation between MediaMath wire values and the manifest vocabulary.

Covers: datetimes (UTC ``...Z`` canonical form; offsets in both spellings; naive times read in the
spec's ``zone_name`` for campaigns and in UTC otherwise; dates alone; YAML-parsed datetime
objects; bad values and zones named by field), money and decimals (rounded to the API's scale,
integral as int, read in the entity's currency), 0/1 booleans, ids as strings, live fields limited
to schema fields (server-set fields dropped), form encoding for writes, and round trips: a desired
spec encoded for the wire, stored as the API stores it and read back compares equal to the
normalised spec; normalisation is idempotent.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from reconciler.errors import ManifestError
from reconciler.model import Address, Ref
from reconciler.providers.mediamath.kinds import CAMPAIGN, KIND_SPECS, STRATEGY, FieldType
from reconciler.providers.mediamath.normalize import (
    canonical_bool,
    canonical_datetime,
    canonical_number,
    form_value,
    history_value,
    live_fields,
    normalize_spec,
    to_form,
)
from reconciler.providers.mediamath.wire import Prop, WireEntity, parse, parse_xml

FIXTURES = Path(__file__).parent / "fixtures"


@pytest.mark.parametrize(
    ("value", "zone", "expected"),
    [
        ("2026-12-01T00:00:00", None, "2026-12-01T00:00:00Z"),
        ("2026-12-01T00:00:00Z", "America/New_York", "2026-12-01T00:00:00Z"),
        ("2026-12-01T00:00:00", "America/New_York", "2026-12-01T05:00:00Z"),
        ("2026-07-01T00:00:00", "America/New_York", "2026-07-01T04:00:00Z"),
        ("2026-12-01T10:30:00+02:00", None, "2026-12-01T08:30:00Z"),
        ("2026-12-01T10:30:00+0200", None, "2026-12-01T08:30:00Z"),
        ("2016-11-07T09:07:57+0000", None, "2016-11-07T09:07:57Z"),
        ("2026-12-01", None, "2026-12-01T00:00:00Z"),
        ("2026-12-01 08:15", None, "2026-12-01T08:15:00Z"),
        ("2026-12-01T08:15:07.999", None, "2026-12-01T08:15:07Z"),
        (dt.date(2026, 12, 1), None, "2026-12-01T00:00:00Z"),
        (dt.datetime(2026, 12, 1, 9, tzinfo=dt.UTC), "Asia/Tokyo", "2026-12-01T09:00:00Z"),
        ("", None, None),
        (None, None, None),
    ],
)
def test_canonical_datetime(value: object, zone: str | None, expected: str | None) -> None:
    assert canonical_datetime(value, zone) == expected


def test_naive_times_follow_the_campaign_zone_but_not_the_strategy() -> None:
    campaign = normalize_spec(CAMPAIGN, {"zone_name": "Australia/Sydney", "start_date": "2027-01-05T14:09:58"})
    assert campaign["start_date"] == "2027-01-05T03:09:58Z"
    strategy = normalize_spec(STRATEGY, {"start_date": "2027-01-05T14:09:58"})
    assert strategy["start_date"] == "2027-01-05T14:09:58Z"


def test_bad_values_name_the_field() -> None:
    with pytest.raises(ManifestError, match=r"spec\.start_date: 'tomorrow' is not a date-time"):
        normalize_spec(CAMPAIGN, {"start_date": "tomorrow"})
    with pytest.raises(ManifestError, match=r"spec\.start_date: unknown time zone 'Mars/Olympus'"):
        normalize_spec(CAMPAIGN, {"zone_name": "Mars/Olympus", "start_date": "2026-12-01T00:00:00"})
    with pytest.raises(ManifestError, match=r"spec\.status: 'maybe' is not a boolean"):
        normalize_spec(CAMPAIGN, {"status": "maybe"})
    with pytest.raises(ManifestError, match=r"spec\.total_budget: 'lots' is not a number"):
        normalize_spec(CAMPAIGN, {"total_budget": "lots"})
    with pytest.raises(ManifestError, match=r"spec\.frequency_amount: '2\.5' is not an integer"):
        normalize_spec(CAMPAIGN, {"frequency_amount": "2.5"})


@pytest.mark.parametrize(
    ("value", "scale", "expected"),
    [
        ("50000.00", 2, 50000),
        (50000.0, 2, 50000),
        ("10.50", 2, 10.5),
        ("1.2345", 4, 1.2345),
        (0.005, 2, 0.01),  # half-up, as the API stores it
        ("7", 2, 7),
        (None, 2, None),
    ],
)
def test_canonical_number(value: object, scale: int, expected: object) -> None:
    result = canonical_number(value, scale)
    assert result == expected
    assert type(result) is type(expected)


def test_booleans_and_ids() -> None:
    assert canonical_bool("0") is False and canonical_bool(1) is True and canonical_bool(True) is True
    spec = normalize_spec(CAMPAIGN, {"advertiser_id": 142420, "ad_server_id": "9", "status": 1, "use_mm_freq": 0})
    assert spec == {"ad_server_id": "9", "advertiser_id": "142420", "status": True, "use_mm_freq": False}


def test_unresolved_refs_and_unknown_fields_pass_unchanged() -> None:
    ref = Ref(Address("mediamath", "Advertiser", "acme"))
    spec = normalize_spec(CAMPAIGN, {"advertiser_id": ref, "x_custom": [1]})
    assert spec["advertiser_id"] is ref
    assert spec["x_custom"] == [1]


def test_live_fields_from_seed_strategy() -> None:
    entity = parse_xml((FIXTURES / "strategy.xml").read_bytes()).entity
    assert entity is not None
    fields = live_fields(STRATEGY, entity)
    assert fields == {
        "budget": 10,
        "campaign_id": "166047",
        "end_date": "2014-11-05T23:59:00Z",
        "goal_value": 1.5,
        "name": "Sassytimes",
        "pacing_interval": "day",
        "pacing_type": "even",
        "start_date": "2014-10-08T10:08:41Z",
        "use_campaign_end": True,
        "use_campaign_start": False,
        "use_optimization": False,
    }
    # server-set and campaign-derived fields never become manifest fields
    assert not {"created_on", "updated_on", "effective_goal_value", "zone_name", "currency_code"} & set(fields)


def test_json_money_is_read_in_the_entity_currency() -> None:
    entity = parse((FIXTURES / "campaign.json").read_bytes(), "application/vnd.mediamath.v1+json").entity
    assert entity is not None
    fields = live_fields(CAMPAIGN, entity)
    assert fields["total_budget"] == 50000
    assert fields["goal_value"] == 1.25
    assert fields["status"] is True
    assert fields["start_date"] == "2016-11-07T09:07:57Z"
    jpy = WireEntity(
        type="campaign",
        id="1",
        props={
            "currency_code": Prop("JPY"),
            "total_budget": Prop("50000.00", amounts=(("GBP", "50000.00"), ("JPY", "8000000.0000"))),
        },
    )
    assert live_fields(CAMPAIGN, jpy)["total_budget"] == 8000000


def test_form_encoding() -> None:
    form = to_form(
        CAMPAIGN,
        normalize_spec(
            CAMPAIGN,
            {
                "name": "Summer & Sale",
                "status": False,
                "use_mm_freq": True,
                "total_budget": 50000,
                "goal_value": 0.0001,
                "start_date": "2026-12-01T00:00:00-05:00",
                "merit_pixel_id": None,
                "advertiser_id": 12,
            },
        ),
    )
    assert form == {
        "advertiser_id": "12",
        "goal_value": "0.0001",
        "merit_pixel_id": "",
        "name": "Summer & Sale",
        "start_date": "2026-12-01T05:00:00",
        "status": "0",
        "total_budget": "50000",
        "use_mm_freq": "1",
    }
    assert form_value("total_budget", FieldType.MONEY, 1e-4) == "0.0001"
    assert form_value("x", None, 1.5e10) == "15000000000"


def test_history_values_are_normalised() -> None:
    assert history_value(CAMPAIGN, "status", "1") is True
    assert history_value(CAMPAIGN, "total_budget", "100.00") == 100
    assert history_value(CAMPAIGN, "start_date", "2026-12-01T00:00:00") == "2026-12-01T00:00:00Z"
    assert history_value(CAMPAIGN, "last_seen_by_bidder", "x") == "x"


# -- round trips ----------------------------------------------------------------------------------
def _store_as_api(ftype: FieldType, text: str, field: str) -> str:
    """What the API keeps from a form value: money/decimals quantised, booleans 0/1."""
    if ftype is FieldType.MONEY and text:
        places = 4 if field == "goal_value" else 2
        return f"{float(text):.{places}f}"
    return text


def _round_trip(kind: str, spec: dict[str, object]) -> None:
    kspec = KIND_SPECS[kind]
    desired = normalize_spec(kspec, spec)
    form = to_form(kspec, desired)
    props = {
        name: Prop(_store_as_api(kspec.fields[name], text, name) or None) for name, text in form.items()
    }
    live = live_fields(kspec, WireEntity(type=kspec.entity_type, id="1", name=str(spec.get("name")), props=props))
    assert {k: v for k, v in live.items() if k in desired} == {k: v for k, v in desired.items() if v is not None}
    assert normalize_spec(kspec, desired) == desired  # idempotent


def test_round_trip_examples() -> None:
    _round_trip(
        "Campaign",
        {
            "name": "Summer Sale 2026",
            "advertiser_id": 4,
            "ad_server_id": 9,
            "status": False,
            "total_budget": 50000,
            "goal_type": "cpa",
            "goal_value": 12.3456,
            "service_type": "SELF",
            "use_mm_freq": False,
            "zone_name": "America/New_York",
            "start_date": "2026-12-01T00:00:00",
            "end_date": "2027-01-31T23:59:59",
            "margin_pct": 1.5,
        },
    )
    _round_trip(
        "Strategy",
        {"name": "s", "campaign_id": "77", "budget": 1000.5, "max_bid": 2.25, "pacing_amount": 100, "type": "GBO"},
    )


money = st.decimals(min_value=0, max_value=10_000_000, places=2, allow_nan=False).map(float)


@settings(max_examples=60, deadline=None)
@given(
    budget=money,
    goal=st.decimals(min_value="0.0001", max_value="9999999.9999", places=4).map(float),
    status=st.booleans(),
    offset_hours=st.integers(min_value=-12, max_value=14),
    day=st.dates(min_value=dt.date(2026, 1, 1), max_value=dt.date(2030, 12, 31)),
)
def test_round_trip_property(budget: float, goal: float, status: bool, offset_hours: int, day: dt.date) -> None:
    sign = "+" if offset_hours >= 0 else "-"
    start = f"{day.isoformat()}T06:30:00{sign}{abs(offset_hours):02d}:00"
    _round_trip(
        "Campaign",
        {"name": "p", "total_budget": budget, "goal_value": goal, "status": status, "start_date": start},
    )
