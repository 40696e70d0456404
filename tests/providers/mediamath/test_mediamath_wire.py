"""Parsing of MediaMath v2.0 answers (the shapes of seed 003 and the reference's fixtures).

Covers: a collection (``entities count start``, count = total matches), a single entity with
``version`` and datetime props carrying ``<local_time zone_name>``, money props with
``currency_code`` and ``<amount>`` children, related entities from ``with=`` kept apart from
props, the change log (``log_entries``), error bodies (``invalid`` with field errors,
``auth_error``, ``conflict``), the login answer with ``<session>``, the JSON form (money arrays,
booleans, offsets, field errors), unreadable bodies, and that XML is parsed defensively
(entity expansion is refused).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from reconciler.providers.mediamath.wire import WireFormatError, parse, parse_json, parse_xml

FIXTURES = Path(__file__).parent / "fixtures"


def fixture(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def test_collection_count_is_total_matches_and_start_is_offset() -> None:
    result = parse_xml(fixture("strategies_page.xml"))
    assert result.status.ok
    assert result.count == 1213
    assert result.start == 10
    assert [e.id for e in result.entities] == ["566901", "566678", "566653", "566306", "566080"]
    assert result.entities[3].name == "test #12"
    assert all(e.type == "strategy" and e.version is None and not e.props for e in result.entities)


def test_single_organization_collection() -> None:
    result = parse(fixture("organizations.xml"), "text/xml; charset=utf-8")
    assert result.count == 1
    (org,) = result.entities
    assert (org.id, org.name, org.type) == ("100048", "ACME Org", "organization")


def test_entity_props_local_time_and_money() -> None:
    result = parse_xml(fixture("strategy.xml"))
    entity = result.entity
    assert entity is not None
    assert (entity.id, entity.name, entity.type, entity.version) == ("515578", "Sassytimes", "strategy", 1)
    start = entity.props["start_date"]
    assert start.value == "2014-10-08T10:08:41"
    assert (start.local_value, start.zone_name) == ("2014-10-08T10:08:41", "Etc/GMT")
    budget = entity.props["budget"]
    assert budget.value == "10.00"
    assert budget.currency_code == "AUD"
    assert budget.amounts == (("AUD", "10.00"),)
    assert entity.value("use_campaign_end") == "1"
    assert entity.value("missing") is None


def test_related_entities_are_not_props() -> None:
    entity = parse_xml(fixture("strategy_with_campaign.xml")).entity
    assert entity is not None
    assert set(entity.props) == {"campaign_id"}
    (campaign,) = entity.related
    assert (campaign.rel, campaign.type, campaign.id, campaign.version) == ("campaign", "campaign", "166047", 0)
    assert campaign.value("status") == "1"
    (advertiser,) = campaign.related
    assert advertiser.value("agency_id") == "101324"


def test_history_entries_keep_order_user_and_fields() -> None:
    result = parse_xml(fixture("history.xml"))
    assert result.count == 3
    first, second, added = result.history
    assert (first.action, first.date, first.user_id, first.user_name) == (
        "update",
        "2014-11-21T01:35:31",
        "8135",
        "rcrosby",
    )
    assert [(f.name, f.old, f.new) for f in first.fields] == [("name", "Demo Agency Updated", "Demo Agency")]
    assert second.fields[0].new == "Demo Agency Updated"
    assert added.action == "add" and added.fields == ()


def test_validation_error_carries_field_errors() -> None:
    status = parse_xml(fixture("error_invalid.xml")).status
    assert status.code == "invalid"
    assert status.field_errors == (("deal_ids", "Invalid deal id(s)"),)
    assert status.describe() == "Validation errors; deal_ids: Invalid deal id(s)"


def test_auth_and_conflict_statuses() -> None:
    auth = parse_xml(fixture("error_auth.xml")).status
    assert (auth.code, auth.message) == ("auth_error", "Authentication error")
    assert auth.describe() == "Authentication error"
    conflict = parse_xml(fixture("error_conflict.xml")).status
    assert (conflict.code, conflict.describe()) == ("conflict", "Version Conflict")
    assert not conflict.ok


def test_login_answer_has_user_and_session() -> None:
    result = parse_xml(fixture("login.xml"))
    assert result.entity is not None and result.entity.type == "user"
    assert result.session is not None and result.session["sessionid"] == "d24f00000000"


def test_json_entity_money_booleans_and_relations() -> None:
    result = parse(fixture("campaign.json"), "application/vnd.mediamath.v1+json")
    entity = result.entity
    assert entity is not None
    assert (entity.type, entity.id, entity.version, entity.name) == ("campaign", "205095", 8, "Campaigns 205095")
    assert entity.value("status") == "1"
    assert entity.value("advertiser_id") == "142420"
    assert entity.props["total_budget"].amounts == (("GBP", "50000.00"), ("JPY", "8000000.0000"))
    assert entity.props["goal_value"].value == "1.25"
    assert entity.value("start_date") == "2016-11-07T09:07:57+0000"
    assert [r.type for r in entity.related] == ["advertiser"]
    assert "advertiser" not in entity.props


def test_json_collection_and_errors() -> None:
    body = (
        b'{"data":[{"entity_type":"agency","id":3,"name":"A","version":0},'
        b'{"entity_type":"agency","id":4,"name":"B","version":2}],'
        b'"meta":{"count":2,"total_count":7,"offset":5,"status":"ok"}}'
    )
    result = parse_json(body)
    assert (result.count, result.start) == (7, 5)
    assert [(e.id, e.version) for e in result.entities] == [("3", 0), ("4", 2)]
    status = parse_json(fixture("error_field.json")).status
    assert status.code == "invalid"
    assert status.describe() == "Validation errors; advertiser_id: Must supply advertiser_id (integer)"
    assert parse_json(b'{"errors":[{"message":"Not found"}],"meta":{"status":"not_found"}}').status.describe() == (
        "Not found"
    )
    assert parse_json(b'{"meta":{"status":"denied"}}').status.describe() == "denied"


def test_json_history_shapes() -> None:
    body = (
        b'{"data":[{"action":"update","date":"2026-11-20T10:00:00","user_id":7,"user_name":"ops",'
        b'"fields":{"status":{"old_value":"0","new_value":"1"}}}],"meta":{"status":"ok","total_count":1}}'
    )
    (entry,) = parse_json(body).history
    assert (entry.user_name, entry.user_id) == ("ops", "7")
    assert [(f.name, f.old, f.new) for f in entry.fields] == [("status", "0", "1")]


@pytest.mark.parametrize(
    ("body", "ctype"),
    [
        (b"<h1>Developer Inactive</h1>", "text/html"),
        (b"<result><entity/></result>", "text/xml"),  # no <status>
        (b"<result", "text/xml"),
        (b"{not json", "application/json"),
        (b"<other/>", "application/xml"),
    ],
)
def test_unreadable_bodies_raise_wire_format_error(body: bytes, ctype: str) -> None:
    with pytest.raises(WireFormatError):
        parse(body, ctype)


def test_entity_expansion_is_refused() -> None:
    bomb = (
        b'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;">]>'
        b'<result><status code="ok">&b;</status></result>'
    )
    with pytest.raises(WireFormatError):
        parse_xml(bomb)
