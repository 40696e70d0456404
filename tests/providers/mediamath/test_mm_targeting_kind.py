"""The ``StrategyTargeting`` kind without HTTP: schema, canonical form, checks and set diffs.

Covers: the schema file is a valid document schema (apiVersion/kind consts, ``$defs.spec``,
unknown dimensions and fields refused, values unique, ``strategy_id`` required and a reference to a
Strategy); the KindInfo (natural key and parent ``strategy_id``, immutable, one document per
strategy, fingerprint precondition, not scanned for drift's unmanaged objects, set-like lists);
the canonical form (both lists of a written dimension, sorted, repeats gone, integers as codes,
dimensions not written left out, references kept); ``validate`` refuses a value both included and
excluded, at its file and line; the plan's diff names values, never positions
(``region.include[US-CA]``), both ways and through ``ignore_changes``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator

from reconciler.diff import FieldDiffer, compare_owned, owned_template
from reconciler.model import Address, LiveObject, OnDelete, Ref
from reconciler.providers.base import PreconditionKind, schemas_dir
from reconciler.providers.mediamath import MediaMathProvider
from reconciler.providers.mediamath.targeting import DIMENSIONS, normalize_targeting
from tests.support.cli import invoke

INFO = MediaMathProvider.kinds["StrategyTargeting"]


def schema_errors(spec: dict[str, Any]) -> list[str]:
    validator = Draft202012Validator(INFO.schema)
    return sorted(f"{'.'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(spec))


def test_schema_describes_a_document_and_refuses_what_the_api_does_not_know() -> None:
    document = json.loads((schemas_dir() / "mediamath" / "StrategyTargeting.schema.json").read_text())
    Draft202012Validator.check_schema(document)
    assert document["properties"]["kind"] == {"const": "StrategyTargeting"}
    assert set(INFO.schema["properties"]) == {"strategy_id", "audience", "supply_sources", "deals", "site_lists", "domain_restrictions",
                                                  *DIMENSIONS}
    assert schema_errors({"strategy_id": "1", "deals": ["A", "A"]}) == ["deals: ['A', 'A'] has non-unique elements"]
    assert schema_errors({"strategy_id": "1", "audience": {"include": ["BK-AUTO-INTENDERS"], "exclude": []}}) == []
    assert schema_errors({"strategy_id": "1", "audience": {"include": [800002]}}) == [
        "audience.include.0: 800002 is not of type 'string'"]
    assert schema_errors({"strategy_id": {"ref": "Strategy/x"}, "region": {"include": ["US-CA"]}}) == []
    assert schema_errors({"strategy_id": "1000004", "dma": {"include": [501, "803"]}, "device": {}}) == []
    assert schema_errors({"region": {"include": ["US-CA"]}}) == [": 'strategy_id' is a required property"]
    problems = schema_errors({"strategy_id": "1", "geo": {"include": ["US"]}, "region": {"include": ["US-CA", "US-CA"],
                                                                                     "operator": "AND"}})
    assert any("'geo' was unexpected" in p for p in problems)
    assert any("'operator' was unexpected" in p for p in problems)
    assert any(p.startswith("region.include: ") and "non-unique" in p for p in problems)
    assert INFO.ref_kinds["strategy_id"] == ("Strategy",)


def test_kind_info() -> None:
    assert INFO.natural_key == ("strategy_id",) and INFO.parent_field == "strategy_id"
    assert INFO.parent_kind == "Strategy" and INFO.immutable_fields == {"strategy_id"}
    assert INFO.unique_key and INFO.deletable and not INFO.read_only
    assert INFO.default_on_delete is OnDelete.DELETE and "every target dimension" in INFO.delete_means
    assert INFO.list_keys["audience.include"] == "" and INFO.list_keys["audience.exclude"] == ""
    assert INFO.list_keys["deals"] == "" and INFO.list_keys["supply_sources"] == ""
    assert not INFO.scan_unmanaged
    assert INFO.list_keys["region.include"] == "" and INFO.list_keys["connection_speed.exclude"] == ""
    live = LiveObject("StrategyTargeting", "1000004", {"strategy_id": "1000004", "region": {"include": [], "exclude": []}})
    provider = MediaMathProvider.__new__(MediaMathProvider)  # precondition_for reads nothing
    assert provider.precondition_for(live).kind is PreconditionKind.FINGERPRINT


def test_canonical_form() -> None:
    ref = Ref(Address("mediamath", "Strategy", "x"))
    assert normalize_targeting({
        "strategy_id": 1000004,
        "region": {"include": [" US-NY", "US-CA", "US-CA"]},
        "dma": {"exclude": [501]},
        "device": {},
    }) == {
        "strategy_id": "1000004",
        "region": {"include": ["US-CA", "US-NY"], "exclude": []},
        "dma": {"include": [], "exclude": ["501"]},
        "device": {"include": [], "exclude": []},
    }
    assert normalize_targeting({"strategy_id": ref, "os": {"include": ["IOS"]}})["strategy_id"] is ref


def test_diffs_name_values_not_positions() -> None:
    differ = FieldDiffer()
    template = owned_template(normalize_targeting({"strategy_id": "1", "region": {"include": ["US-CA", "US-TX"]}}))
    live = normalize_targeting({"strategy_id": "1", "region": {"include": ["US-NY", "US-CA"], "exclude": ["US-FL"]},
                                "device": {"include": ["TABLET"]}})
    projected, changes = compare_owned(template, live, differ, INFO.list_keys)
    assert "device" not in projected  # not written: not compared
    assert [(c.path, c.before, c.after) for c in changes] == [
        ("region.exclude[US-FL]", "US-FL", None),
        ("region.include[US-NY]", "US-NY", None),
        ("region.include[US-TX]", None, "US-TX"),
    ]
    assert differ.deepdiff_calls == 0
    ignored = owned_template(template, ignore=("region.exclude",))
    _, changes = compare_owned(ignored, live, differ, INFO.list_keys)
    assert [c.path for c in changes] == ["region.include[US-NY]", "region.include[US-TX]"]


def test_validate_refuses_a_value_included_and_excluded(tmp_path: Path) -> None:
    (tmp_path / "reconciler.yaml").write_text(
        "apiVersion: reconciler/v1\nkind: Workspace\nproviders:\n  mediamath: {endpoint: sandbox}\n")
    (tmp_path / "targeting.yaml").write_text(
        "apiVersion: mediamath/v1\nkind: StrategyTargeting\nmetadata: {name: x}\nspec:\n"
        "  strategy_id: '1000004'\n  region:\n    include: [US-CA]\n    exclude: [US-CA]\n")
    result = invoke(tmp_path, "validate")
    assert result.code == 1, result
    assert "targeting.yaml:8: spec.region.exclude: 'US-CA' is in include too" in result.err, result
