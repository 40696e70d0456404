"""The one-pass XML reader of MediaMath answers (``wire._XmlReader``) keeps ElementTree's meaning.

Covers: only ``<prop>`` and ``<entity>`` children of an entity count (other children and props
nested deeper are ignored), a later prop of the same name wins, a prop with children takes its
first ``<local_time>`` and every ``<amount>`` with a value, leaf props repeat as equal values,
related entities nest, ``<status>`` text is the text before its first child, field errors are
found at any depth under ``<errors>``, the text of ``<errors>`` alone becomes a field error, a
namespaced root is named ``{uri}tag`` in the error, and DTD entities are still refused (the
parser stays defusedxml's).
"""

from __future__ import annotations

import pytest

from reconciler.providers.mediamath.wire import Prop, WireFormatError, parse_xml

ODD_ENTITY = b"""<?xml version='1.0'?>
<result>
  <status code="ok">done<note/>tail</status>
  <entity id="1" type="strategy" version="3" name="S">
    stray text
    <prop name="a" value="1"><unknown/></prop>
    <prop name="a" value="2"/>
    <prop value="nameless"/>
    <prop name="budget" currency_code="USD" value="10.00">
      <amount currency_code="USD" value="10.00"/>
      <amount value="11.00"/>
      <amount currency_code="EUR"/>
    </prop>
    <prop name="start_date" value="2026-01-01T00:00:00">
      <local_time value="2026-01-01T01:00:00" zone_name="Europe/Paris"/>
      <local_time value="ignored" zone_name="ignored"/>
    </prop>
    <entity rel="campaign" id="2" type="campaign"><prop name="c" value="x"/></entity>
    <other><prop name="deep" value="no"/></other>
  </entity>
  <entity id="9" type="strategy"/>
</result>
"""


def test_entity_children_and_props_read_as_elementtree_would() -> None:
    result = parse_xml(ODD_ENTITY)
    assert result.status.code == "ok" and result.status.message == "done"
    entity = result.entity
    assert entity is not None and result.count == 1
    assert (entity.id, entity.type, entity.version, entity.name, entity.rel) == ("1", "strategy", 3, "S", None)
    assert list(entity.props) == ["a", "budget", "start_date"]
    assert entity.props["a"] == Prop(value="2")
    assert entity.props["budget"] == Prop(
        value="10.00", currency_code="USD", amounts=(("USD", "10.00"), ("", "11.00"))
    )
    assert entity.props["start_date"] == Prop(
        value="2026-01-01T00:00:00", zone_name="Europe/Paris", local_value="2026-01-01T01:00:00"
    )
    (campaign,) = entity.related
    assert (campaign.id, campaign.rel, campaign.value("c")) == ("2", "campaign", "x")
    assert "deep" not in entity.props


def test_entities_in_a_collection_share_equal_props() -> None:
    body = b"<result><status code='ok'/><entities count='7' start='5'>" + b"".join(
        b"<entity id='%d' type='strategy'><prop name='status' value='1'/><prop name='b' currency_code='USD' value='5'>"
        b"<amount currency_code='USD' value='5'/></prop></entity>" % i
        for i in range(3)
    ) + b"</entities></result>"
    result = parse_xml(body)
    assert (result.count, result.start) == (7, 5)
    assert [e.id for e in result.entities] == ["0", "1", "2"]
    assert all(e.props == result.entities[0].props for e in result.entities)
    assert result.entities[2].props["b"].amounts == (("USD", "5"),)


def test_error_texts_and_nested_field_errors() -> None:
    body = b"""<result><status code="invalid"/><error>Bad request</error>
      <errors>ignored text<field-error name="budget" error="must be positive"/>
        <group><field-error name="name">too long</field-error></group></errors></result>"""
    status = parse_xml(body).status
    assert (status.code, status.message) == ("invalid", "Bad request")
    assert status.field_errors == (("budget", "must be positive"), ("name", "too long"))
    only_text = parse_xml(b"<result><status code='error'/><errors> Session expired </errors></result>").status
    assert only_text.field_errors == (("", "Session expired"),)


def test_namespaced_root_and_refused_entities() -> None:
    with pytest.raises(WireFormatError, match=r"XML root is <\{urn:x\}result>"):
        parse_xml(b"<result xmlns='urn:x'><status code='ok'/></result>")
    bomb = b"<?xml version='1.0'?><!DOCTYPE r [<!ENTITY a 'aaaa'>]><result><status code='ok'>&a;</status></result>"
    with pytest.raises(WireFormatError, match="unreadable XML"):
        parse_xml(bomb)
    with pytest.raises(WireFormatError, match="unreadable XML"):
        parse_xml(b"<result><status code='ok'>")
