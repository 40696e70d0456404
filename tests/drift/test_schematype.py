"""Values typed as a kind's schema types them (reconciler.schematype), on the real MediaMath schemas."""

from __future__ import annotations

from reconciler.providers.mediamath.kinds import spec_schema
from reconciler.schematype import field_schema, typed_at


def test_text_that_reads_as_the_schema_s_type_becomes_that_type() -> None:
    advertiser, strategy = spec_schema("Advertiser"), spec_schema("Strategy")
    assert typed_at(advertiser, "vertical_id", "13") == 13
    assert typed_at(strategy, "max_bid", "5.25") == 5.25
    assert typed_at(strategy, "use_campaign_start", "true") is True


def test_text_stays_text_where_the_schema_or_the_manifest_says_so() -> None:
    advertiser = spec_schema("Advertiser")
    assert typed_at(advertiser, "name", "13") == "13"  # a string field
    assert typed_at(advertiser, "vertical_id", "13", written="12") == "13"  # the manifest quotes it
    assert typed_at(advertiser, "vertical_id", "013") == "013"  # not an integer's text
    assert typed_at(advertiser, "no_such_field", "13") == "13"
    assert field_schema(advertiser, "vertical_id.deeper") is None
