"""The mediamath kinds, their JSON Schemas and the examples.

Covers: every schema file is valid Draft 2020-12 with ``$id``/``title``, describes a whole
manifest document (apiVersion/kind consts, ``spec`` in ``$defs.spec``) and rejects unknown spec
fields; schema properties match the provider's field table and their JSON types match the wire
types (ids accept integers, strings and ``{ref:}``); required-on-create, enums, lengths and ranges
are enforced with readable errors; KindInfo values (natural keys, parents, immutable parent ids,
Organization read-only); and every example manifest validates against its kind's schema (both
the whole document, as an editor would, and through the project's manifest loader).
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from jsonschema import Draft202012Validator

from reconciler.manifest.loader import KindTable, load_manifests
from reconciler.manifest.workspace import load_workspace_config
from reconciler.model import OnDelete
from reconciler.providers.base import schemas_dir
from reconciler.providers.mediamath import MediaMathProvider
from reconciler.providers.mediamath.kinds import KIND_SPECS, FieldType, spec_schema

ROOT = Path(__file__).resolve().parents[3]
EXAMPLES = ROOT / "examples" / "mediamath"
KINDS = sorted(KIND_SPECS)

JSON_TYPES = {
    FieldType.STR: {"string"},
    FieldType.INT: {"integer"},
    FieldType.DEC: {"number"},
    FieldType.MONEY: {"number"},
    FieldType.BOOL: {"boolean"},
    FieldType.DATETIME: {"string"},
    FieldType.ID: {"string", "integer", "object"},
}


def document_schema(kind: str) -> dict[str, Any]:
    with (schemas_dir() / "mediamath" / f"{kind}.schema.json").open(encoding="utf-8") as fh:
        data: dict[str, Any] = json.load(fh)
    return data


@pytest.mark.parametrize("kind", KINDS)
def test_schema_file_is_a_valid_document_schema(kind: str) -> None:
    schema = document_schema(kind)
    Draft202012Validator.check_schema(schema)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema["$id"].endswith(f"/mediamath/{kind}.schema.json")
    assert schema["title"]
    assert schema["additionalProperties"] is False
    assert schema["properties"]["apiVersion"] == {"const": "mediamath/v1"}
    assert schema["properties"]["kind"] == {"const": kind}
    spec = schema["$defs"]["spec"]
    assert spec["additionalProperties"] is False
    assert set(spec["required"]) <= set(spec["properties"])


@pytest.mark.parametrize("kind", KINDS)
def test_schema_fields_match_the_field_table(kind: str) -> None:
    props = spec_schema(kind)["properties"]
    table = KIND_SPECS[kind].fields
    assert set(props) == set(table)
    for name, ftype in table.items():
        declared = props[name]["type"]
        declared_types = set(declared if isinstance(declared, list) else [declared]) - {"null"}
        assert declared_types == JSON_TYPES[ftype], name
    assert set(MediaMathProvider.kinds[kind].schema["properties"]) == set(table)


def errors(kind: str, spec: dict[str, Any]) -> list[str]:
    validator = Draft202012Validator(spec_schema(kind))
    return sorted(f"{'.'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(spec))


VALID_CAMPAIGN = {
    "advertiser_id": {"ref": "Advertiser/acme"},
    "ad_server_id": 9,
    "name": "Summer Sale 2026",
    "start_date": "2026-12-01T00:00:00",
    "end_date": "2027-01-31T23:59:59-05:00",
    "goal_type": "cpa",
    "goal_value": 12.5,
    "service_type": "SELF",
    "total_budget": 50000,
    "use_mm_freq": False,
}


def test_valid_specs_pass() -> None:
    assert errors("Campaign", VALID_CAMPAIGN) == []
    assert errors("Campaign", {**VALID_CAMPAIGN, "advertiser_id": "150001", "merit_pixel_id": None}) == []
    assert errors("Organization", {"name": "ACME Org"}) == []


def test_invalid_specs_are_named() -> None:
    assert errors("Campaign", {**VALID_CAMPAIGN, "goal_type": "cpx"}) == [
        "goal_type: 'cpx' is not one of ['cpa', 'cpc', 'cpe', 'ctr', 'reach', 'roi', 'spend', 'vcpm', 'vcr', "
        "'viewability_rate']"
    ]
    assert errors("Campaign", {**VALID_CAMPAIGN, "created_on": "2026-01-01"}) == [
        ": Additional properties are not allowed ('created_on' was unexpected)"
    ]
    missing = {k: v for k, v in VALID_CAMPAIGN.items() if k != "total_budget"}
    assert errors("Campaign", missing) == [": 'total_budget' is a required property"]
    assert errors("Strategy", {"name": "x" * 129})[-1].startswith("name: ")
    assert any(e.startswith("max_bid: 0 is less than the minimum") for e in errors("Strategy", {"max_bid": 0}))
    assert errors("Campaign", {**VALID_CAMPAIGN, "start_date": "next week"})[0].startswith("start_date: 'next week'")
    assert errors("Campaign", {**VALID_CAMPAIGN, "advertiser_id": {"ref": "not a ref"}}) != []
    assert errors("Campaign", {**VALID_CAMPAIGN, "advertiser_id": 1.5}) != []
    assert errors("Campaign", {**VALID_CAMPAIGN, "status": 1}) == ["status: 1 is not of type 'boolean'"]


def test_kind_infos() -> None:
    kinds = MediaMathProvider.kinds
    assert sorted(kinds) == sorted([*KINDS, "StrategyTargeting"])
    assert kinds["Organization"].read_only and kinds["Organization"].natural_key == ("name",)
    assert kinds["Organization"].parent_field is None
    expected = {
        "Agency": "organization_id",
        "Advertiser": "agency_id",
        "Campaign": "advertiser_id",
        "Strategy": "campaign_id",
        "BudgetFlight": "campaign_id",
        "Concept": "advertiser_id",
        "StrategyConcept": "strategy_id",
        "StrategyDayPart": "strategy_id",
    }
    for kind, parent in expected.items():
        info = kinds[kind]
        assert info.parent_field == parent
        assert parent in info.natural_key
        assert parent in info.immutable_fields
        assert not info.read_only and info.deletable
        assert info.default_on_delete is OnDelete.DELETE
    assert kinds["Campaign"].natural_key == ("advertiser_id", "name")
    assert kinds["BudgetFlight"].natural_key == ("campaign_id", "start_date")
    assert kinds["StrategyConcept"].natural_key == ("strategy_id", "concept_id")
    assert kinds["StrategyConcept"].immutable_fields == {"strategy_id", "concept_id"}


# -- examples ------------------------------------------------------------------------------------
SCHEMA_LINE = re.compile(r"^# yaml-language-server: \$schema=(?P<path>\S+)$")


def example_files() -> list[Path]:
    return sorted(p for p in EXAMPLES.glob("*.yaml") if p.name != "reconciler.yaml")


def test_examples_cover_the_brief() -> None:
    kinds: dict[str, int] = {}
    for path in example_files():
        for doc in yaml.safe_load_all(path.read_text(encoding="utf-8")):
            if doc:
                kinds[doc["kind"]] = kinds.get(doc["kind"], 0) + 1
    assert kinds.get("Agency") == 1 and kinds.get("Advertiser") == 1
    assert kinds.get("Campaign") == 2 and kinds.get("BudgetFlight") == 2 and kinds.get("Strategy") == 5
    assert kinds.get("StrategyTargeting") == 1 and kinds.get("Concept") == 1 and kinds.get("StrategyConcept") == 1


@pytest.mark.parametrize("path", example_files(), ids=lambda p: p.name)
def test_example_documents_validate_as_an_editor_sees_them(path: Path) -> None:
    first = path.read_text(encoding="utf-8").splitlines()[0]
    match = SCHEMA_LINE.match(first)
    assert match, f"{path.name} must start with a yaml-language-server $schema line"
    schema_path = (path.parent / match["path"]).resolve()
    schema = json.loads(schema_path.read_text(encoding="utf-8"))
    validator = Draft202012Validator(schema)
    for doc in yaml.safe_load_all(path.read_text(encoding="utf-8")):
        if doc:
            assert schema["properties"]["kind"]["const"] == doc["kind"]
            problems = [e.message for e in validator.iter_errors(doc)]
            assert problems == [], f"{path.name}: {problems}"


def test_examples_load_through_the_manifest_loader() -> None:
    config = load_workspace_config(EXAMPLES, env={}, resolve_credentials=False)
    assert config.providers["mediamath"].endpoint == "sandbox"
    resources = load_manifests(
        [],
        config=config,
        kind_lookup=KindTable({"mediamath": MediaMathProvider.kinds}),
        known_providers=["mediamath"],
        env={},
    )
    assert len(resources) == 15
    order = [r.address.kind for r in resources]
    assert order.index("Organization") < order.index("Agency") < order.index("Advertiser") < order.index("Campaign")


@pytest.mark.parametrize("kind", ["Agency", "Advertiser", "Campaign", "Strategy", "BudgetFlight", "Concept",
                                  "StrategyConcept", "StrategyDayPart"])
def test_schema_defaults_are_what_the_api_sets_on_create(kind: str) -> None:
    """``export`` leaves out values equal to a property's ``default``: each declared default must be
    what the API sets when a create does not send the field (the sandbox models the documented
    defaults: reference §5 and the v3 OpenAPI), and every such default is declared."""
    from decimal import Decimal

    from reconciler.sandbox.mediamath.models import ENTITY_TYPES
    from reconciler.sandbox.mediamath.models import FieldType as WireType

    collection = {"Agency": "agencies", "Advertiser": "advertisers", "Campaign": "campaigns",
                  "Strategy": "strategies", "BudgetFlight": "budget_flights", "Concept": "concepts",
                  "StrategyConcept": "strategy_concepts", "StrategyDayPart": "strategy_day_parts"}[kind]
    props = spec_schema(kind)["properties"]
    declared = {name: prop["default"] for name, prop in props.items() if "default" in prop}
    expected: dict[str, Any] = {}
    for f in ENTITY_TYPES[collection].fields:
        if f.default is None or f.name not in props:
            continue
        if f.type in (WireType.DEC, WireType.MONEY):
            expected[f.name] = Decimal(str(f.default))
        else:
            expected[f.name] = f.default
    assert declared == expected
    for name, value in declared.items():
        assert Draft202012Validator(props[name]).is_valid(value), name
