"""Many similar objects written once (issue 20): ``for_each`` over lists, maps, CSV, YAML/JSON
files and matrices; expressions; defaults with selectors; groups with parameters; labels;
environments and ``--var``; error locations naming the template and the instance.

Loaded the way the CLI loads them (``load`` fixture: a workspace of fake kinds, no API).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from reconciler.errors import InputError
from reconciler.manifest import Selection, load_manifests, load_workspace_config
from reconciler.model import Address, Ref
from tests.manifest.conftest import KINDS, PROVIDERS

CAMPAIGNS = """\
apiVersion: mediamath/v1
kind: Campaign
metadata:
  name: "summer-${each.key}"
  labels: {market: "${each.key}"}
for_each:
  {source}
spec:
  advertiser_id: 7
  name: "Summer ${upper(each.key)}"
  total_budget: {budget}
"""

CSV_TEMPLATE = """\
apiVersion: mediamath/v1
kind: Campaign
metadata:
  name: "${each.value.market}-${slug(each.value.product)}"
for_each:
  csv: rows.csv
spec:
  advertiser_id: 7
  name: "${each.value.product} in ${upper(each.value.market)}"
  total_budget: ${each.value.budget}
  goal_type: "${each.value.goal}"
"""

ROWS = """\
market,product,budget,goal
us,Running Shoes,1000.5,cpa
ca,Running Shoes,800,cpc
us,Boots,1200,reach
"""


def by_address(resources) -> dict[str, object]:
    return {str(r.address): r for r in resources}


def error_of(load, files, env=None, **kw) -> str:
    with pytest.raises(InputError) as caught:
        load(files, env, **kw)
    return str(caught.value)


# -- for_each sources ---------------------------------------------------------------------------
def test_for_each_over_a_list_and_a_map(load) -> None:
    listed = load({"c.yaml": CAMPAIGNS.replace("{source}", "list: [us, ca]").replace("{budget}", "100")})
    assert sorted(by_address(listed)) == ["mediamath.Campaign/summer-ca", "mediamath.Campaign/summer-us"]
    us = by_address(listed)["mediamath.Campaign/summer-us"]
    assert us.spec == {"advertiser_id": 7, "name": "Summer US", "total_budget": 100}
    assert us.labels == {"market": "us"} and us.generated
    mapped = load({"c.yaml": CAMPAIGNS.replace("{source}", "map: {us: 50, ca: 20}").replace("{budget}", "${each.value * 1000}")})
    budgets = {r.address.name: r.spec["total_budget"] for r in mapped}
    assert budgets == {"summer-us": 50000, "summer-ca": 20000}  # an expression's number stays a number


def test_for_each_over_csv_rows_typed_by_the_schema(load) -> None:
    resources = by_address(load({"c.yaml": CSV_TEMPLATE, "rows.csv": ROWS}))
    assert sorted(resources) == ["mediamath.Campaign/ca-running-shoes", "mediamath.Campaign/us-boots",
                                 "mediamath.Campaign/us-running-shoes"]
    shoes = resources["mediamath.Campaign/us-running-shoes"]
    assert shoes.spec["total_budget"] == 1000.5 and shoes.spec["goal_type"] == "cpa"  # "1000.5" -> a number
    assert shoes.spec["name"] == "Running Shoes in US"
    assert str(shoes.location) == "rows.csv:2 (for_each of c.yaml:1)"
    assert str(shoes.location_of("spec.total_budget")) == "rows.csv:2 (for_each of c.yaml:10)"


def test_reordering_rows_or_adding_one_changes_no_other_object(load, tmp_path: Path) -> None:
    before = {a: r.spec for a, r in by_address(load({"c.yaml": CSV_TEMPLATE, "rows.csv": ROWS})).items()}
    lines = ROWS.splitlines()
    shuffled = "\n".join([lines[0], lines[3], lines[1], lines[2], "uk,Boots,300,cpa"]) + "\n"
    after = {a: r.spec for a, r in by_address(load({"c.yaml": CSV_TEMPLATE, "rows.csv": shuffled})).items()}
    assert set(after) == set(before) | {"mediamath.Campaign/uk-boots"}
    assert {a: after[a] for a in before} == before


def test_for_each_over_data_files_and_a_matrix(load, tmp_path: Path) -> None:
    yaml_file = load({
        "c.yaml": CAMPAIGNS.replace("{source}", "file: markets.yaml").replace("{budget}", "${each.value.budget}"),
        "markets.yaml": "us: {budget: 10}\nca: {budget: 20}\n",
    })
    assert {r.address.name: r.spec["total_budget"] for r in yaml_file} == {"summer-us": 10, "summer-ca": 20}
    json_file = load({
        "c.yaml": CAMPAIGNS.replace("{source}", "file: markets.json").replace("{budget}", "${each.value.budget}"),
        "markets.json": '[{"key": "de", "budget": 5}]',
    }, root=tmp_path / "json")
    assert [r.address.name for r in json_file] == ["summer-de"]
    matrix = CAMPAIGNS.replace("{source}", "matrix: {market: {list: [us, ca]}, goal: {list: [cpa, cpc]}}")
    matrix = matrix.replace('name: "summer-${each.key}"', 'name: "summer-${each.value.market}-${each.value.goal}"')
    matrix = matrix.replace('labels: {market: "${each.key}"}', 'labels: {market: "${each.value.market}"}')
    made = load({"c.yaml": matrix.replace("{budget}", "1").replace("${upper(each.key)}", "${each.key}")}, root=tmp_path / "m")
    assert sorted(r.address.name for r in made) == ["summer-ca-cpa", "summer-ca-cpc", "summer-us-cpa", "summer-us-cpc"]
    assert by_address(made)["mediamath.Campaign/summer-us-cpc"].spec["name"] == "Summer us-cpc"


# -- errors name the template and the instance ------------------------------------------------
def test_an_error_in_a_generated_document_names_the_row_and_the_template_line(load) -> None:
    rows = ROWS.replace("ca,Running Shoes,800,cpc", "ca,Running Shoes,-800,cpc")
    message = error_of(load, {"c.yaml": CSV_TEMPLATE, "rows.csv": rows})
    assert message == "rows.csv:3 (for_each of c.yaml:10): spec.total_budget: -800 is less than the minimum of 0"


def test_duplicate_keys_and_addresses_name_both_rows(load) -> None:
    doubled = ROWS + "us,Boots,5,cpa\n"
    message = error_of(load, {"c.yaml": CSV_TEMPLATE.replace("  csv: rows.csv", "  csv: rows.csv\n  key: '${each.value.market}-${each.value.product}'"),
                              "rows.csv": doubled})
    assert "for_each key 'us-Boots' at rows.csv:5 is also the key at rows.csv:4" in message
    same_name = error_of(load, {"c.yaml": CSV_TEMPLATE.replace("-${slug(each.value.product)}", ""), "rows.csv": ROWS})
    assert "duplicate address mediamath.Campaign/us: also defined at rows.csv:2 (for_each of c.yaml:4)" in same_name
    assert same_name.startswith("rows.csv:4 (for_each of c.yaml:4): metadata.name")


def test_bad_expressions_are_errors_at_their_line(load) -> None:
    broken = CAMPAIGNS.replace("{source}", "list: [us]").replace("{budget}", "${each.value +* 2}")
    assert error_of(load, {"c.yaml": broken}).startswith("c.yaml:7 (for_each of c.yaml:11): spec.total_budget: '${each.value +* 2}'")
    unknown = CAMPAIGNS.replace("{source}", "list: [us]").replace("{budget}", "${each.budget}")
    assert "'${each.budget}'" in error_of(load, {"c.yaml": unknown})
    text_math = CAMPAIGNS.replace("{source}", "list: ['5']").replace("{budget}", "${each.value * 2 + 1}")
    assert "convert with int(...) or float(...)" in error_of(load, {"c.yaml": text_math})
    repeated = CAMPAIGNS.replace("{source}", "list: ['5']").replace("{budget}", "${each.value * 2}")  # not '55'
    assert "text is not multiplied" in error_of(load, {"c.yaml": repeated})
    typo = CAMPAIGNS.replace("{source}", "list: [us]").replace("{budget}", "${titel(each.value)}")
    assert "no function 'titel'; did you mean 'title'?" in error_of(load, {"c.yaml": typo})
    huge = CAMPAIGNS.replace("{source}", "list: [us]").replace("{budget}", "${2**2**2**2**2}")
    assert "the number is too large" in error_of(load, {"c.yaml": huge})


@pytest.mark.parametrize("template", [
    "{0.__class__.__init__.__globals__}",  # attributes: out of the sandbox
    "{0[x]}",                              # items
    "{name}",                              # names
    "{:>999999999}",                       # a width that builds a huge string
    "{:{}}",                               # nested fields
])
def test_format_takes_positional_fields_only(load, template: str) -> None:
    """format() is str.format, whose fields can reach attributes the evaluator refuses: a
    template from a variable must not read the environment (a sensitive variable) that way."""
    doc = CAMPAIGNS.replace("{source}", "list: [us]").replace("{budget}", "1").replace(
        '"Summer ${upper(each.key)}"', '"${format(var.t, var)}"')
    workspace = f"apiVersion: reconciler/v1\nkind: Workspace\nvariables:\n  t: '{template}'\n"
    assert "format:" in error_of(load, {"reconciler.yaml": workspace, "c.yaml": doc})
    no_source = CAMPAIGNS.replace("{source}", "lisst: [us]").replace("{budget}", "1")
    assert "unknown for_each setting 'lisst'; did you mean 'list'?" in error_of(load, {"c.yaml": no_source})
    missing = CAMPAIGNS.replace("{source}", "csv: nope.csv").replace("{budget}", "1")
    assert "c.yaml:7: for_each.csv: data file nope.csv not found" in error_of(load, {"c.yaml": missing})
    ragged = error_of(load, {"c.yaml": CSV_TEMPLATE, "rows.csv": ROWS + "uk,Boots\n"})
    assert "rows.csv:5: the row has 2 cells; the header has 4" in ragged
    many = error_of(load, {"c.yaml": CSV_TEMPLATE.replace("goal_type", "goal_typ"), "rows.csv": ROWS})
    assert many.count("\n") == 0 and "rows.csv:2 and 2 more instances (for_each of c.yaml:11): spec.goal_typ" in many


# -- defaults ---------------------------------------------------------------------------------
DEFAULTS = """\
apiVersion: reconciler/v1
kind: Defaults
metadata: {name: campaign-defaults}
spec:
  kind: mediamath.Campaign
  selector: "market in (us)"
  values: {goal_type: reach, total_budget: 5}
"""


def test_defaults_with_a_selector_fill_only_what_a_document_does_not_set(load) -> None:
    files = {
        "c.yaml": CAMPAIGNS.replace("{source}", "list: [us, ca]").replace("{budget}", "100"),
        "defaults.yaml": DEFAULTS,
        "reconciler.yaml": "apiVersion: reconciler/v1\nkind: Workspace\ndefaults:\n"
                           "  - {kind: mediamath.Campaign, values: {status: false, goal_type: cpa}}\n",
    }
    made = by_address(load(files))
    us, ca = made["mediamath.Campaign/summer-us"], made["mediamath.Campaign/summer-ca"]
    assert us.spec["goal_type"] == "reach" and us.spec["total_budget"] == 100 and us.spec["status"] is False
    assert ca.spec["goal_type"] == "cpa" and "total_budget" in ca.spec and ca.spec["total_budget"] == 100
    assert us.defaulted == frozenset({"goal_type", "status"}) and ca.defaulted == frozenset({"goal_type", "status"})
    bad = DEFAULTS.replace('"market in (us)"', '"market in us"')
    assert "defaults.yaml:6: spec.selector: 'market in us' is not a requirement" in error_of(load, {"d.yaml": "", "defaults.yaml": bad})


def test_defaults_read_variables_and_the_environment_like_any_document(tmp_path: Path) -> None:
    (tmp_path / "reconciler.yaml").write_text(WORKSPACE + "defaults:\n  - {kind: mediamath.Campaign, values: {goal_value: '${env:GOAL}'}}\n")
    (tmp_path / "c.yaml").write_text(CAMPAIGN.replace('total_budget: "${var:budget}"', "status: true"))
    (tmp_path / "d.yaml").write_text(DEFAULTS.replace('  selector: "market in (us)"\n', "").replace(
        "total_budget: 5", 'total_budget: "${var:budget}"'))
    config = load_workspace_config(tmp_path, {}, selection=Selection("production"))
    spec = load_manifests([], config=config, kind_lookup=KINDS, known_providers=PROVIDERS, env={"GOAL": "2.5"})[0].spec
    assert spec["goal_value"] == 2.5 and spec["total_budget"] == 3  # typed like a document's ${var:} and ${env:}
    with pytest.raises(InputError, match=r"d.yaml:6: .*unknown_var"):
        (tmp_path / "d.yaml").write_text(DEFAULTS.replace('  selector: "market in (us)"\n', "").replace(
            "total_budget: 5", 'total_budget: "${var:unknown_var}"'))
        load_manifests([], config=config, kind_lookup=KINDS, known_providers=PROVIDERS, env={"GOAL": "2.5"})


def warnings_of(root: Path, files: dict[str, str]) -> list[str]:
    """Load like the CLI (the ``load`` fixture's kinds), returning the warnings."""
    for name, text in {"reconciler.yaml": "apiVersion: reconciler/v1\nkind: Workspace\n", **files}.items():
        (root / name).write_text(text)
    warnings: list[str] = []
    load_manifests([], config=load_workspace_config(root, {}), kind_lookup=KINDS, known_providers=PROVIDERS,
                   env={}, warnings=warnings)
    return warnings


def test_defaults_are_checked_and_their_problems_told_at_their_line(load, tmp_path: Path) -> None:
    campaigns = CAMPAIGNS.replace("{source}", "list: [us, ca]").replace("{budget}", "100")
    typo = DEFAULTS.replace("kind: mediamath.Campaign", "kind: mediamath.Campaing")
    assert "defaults.yaml:5: kind: no kind 'mediamath.Campaing'; did you mean 'mediamath.Campaign'?" in error_of(
        load, {"c.yaml": campaigns, "defaults.yaml": typo})
    bad_value = DEFAULTS.replace("goal_type: reach", "goal_typ: reach")  # fills summer-us only
    message = error_of(load, {"c.yaml": campaigns, "defaults.yaml": bad_value})
    assert message.startswith("defaults.yaml:7: values.goal_typ:"), message  # the default's line, not c.yaml's
    nowhere = DEFAULTS.replace('"market in (us)"', '"market in (fr)"')
    assert warnings_of(tmp_path, {"c.yaml": campaigns, "defaults.yaml": nowhere}) == [
        "defaults.yaml:1: this default applies to nothing: its selector 'market in (fr)' matches no mediamath.Campaign"]


def test_a_for_each_without_items_is_said_and_positions_never_name_objects(load, tmp_path: Path) -> None:
    header_only = {"c.yaml": CSV_TEMPLATE, "rows.csv": ROWS.splitlines()[0] + "\n"}
    assert load(header_only) == []
    assert warnings_of(tmp_path, header_only) == [
        "c.yaml:5: for_each has no items: no mediamath.Campaign is made from it (objects it made before are planned for removal)"]
    by_line = CSV_TEMPLATE.replace('name: "${each.value.market}-${slug(each.value.product)}"', 'name: "row-${each.key}"')
    message = error_of(load, {"c.yaml": by_line, "rows.csv": ROWS})
    assert "c.yaml:4: metadata.name: the name uses each.key, which is the position of each item here (rows.csv:2: '2')" in message
    keyed = by_line.replace("csv: rows.csv", "csv: rows.csv\n  key: ${each.value.market}-${slug(each.value.product)}")
    assert sorted(by_address(load({"c.yaml": keyed, "rows.csv": ROWS}))) == [
        "mediamath.Campaign/row-ca-running-shoes", "mediamath.Campaign/row-us-boots", "mediamath.Campaign/row-us-running-shoes"]
    indexed = keyed.replace("row-${each.key}", "row-${each.index}")
    assert "metadata.name: the name uses each.index" in error_of(load, {"c.yaml": indexed, "rows.csv": ROWS})


# -- groups -----------------------------------------------------------------------------------
GROUP = """\
apiVersion: reconciler/v1
kind: Group
metadata: {name: launch}
spec:
  parameters:
    market: {type: string, required: true}
    budget: {type: number, default: 1000}
  documents:
    - apiVersion: mediamath/v1
      kind: Advertiser
      metadata: {name: brand}
      spec: {name: "Brand ${param.market}", agency_id: 7}
    - apiVersion: mediamath/v1
      kind: Campaign
      metadata: {name: campaign}
      spec:
        advertiser_id: {ref: Advertiser/brand}
        name: "Launch ${upper(param.market)}"
        total_budget: ${param.budget}
    - apiVersion: mediamath/v1
      kind: Campaign
      metadata: {name: outside}
      spec:
        advertiser_id: {ref: mediamath.Advertiser/brand}
        name: "Outside ${param.market}"
        total_budget: 1
"""
USES = """\
apiVersion: reconciler/v1
kind: Use
metadata: {name: "launch-${each.key}"}
for_each: {map: {us: 5000, ca: null}}
spec:
  group: launch
  parameters: {market: "${each.key}"}
"""
BRAND = "apiVersion: mediamath/v1\nkind: Advertiser\nmetadata: {name: brand}\nspec: {name: Global, agency_id: 7}\n"


def test_groups_with_parameters_and_local_references(load) -> None:
    uses = USES.replace('parameters: {market: "${each.key}"}',
                        'parameters: {market: "${each.key}", budget: "${default(each.value, 1000)}"}')
    made = by_address(load({"group.yaml": GROUP, "use.yaml": uses, "brand.yaml": BRAND}))
    campaign = made["mediamath.Campaign/launch-us.campaign"]
    assert campaign.spec["name"] == "Launch US" and campaign.spec["total_budget"] == 5000
    assert campaign.spec["advertiser_id"] == Ref(Address("mediamath", "Advertiser", "launch-us.brand"))  # its own
    assert made["mediamath.Campaign/launch-ca.campaign"].spec["total_budget"] == 1000  # the parameter's default
    outside = made["mediamath.Campaign/launch-us.outside"]
    assert outside.spec["advertiser_id"] == Ref(Address("mediamath", "Advertiser", "brand"))  # qualified: the global one
    assert str(campaign.location).startswith("use.yaml:") and "(group launch, group.yaml:" in str(campaign.location)


def test_a_missing_required_parameter_names_the_instance(load) -> None:
    uses = USES.replace('parameters: {market: "${each.key}"}', "parameters: {budget: 5}")
    message = error_of(load, {"group.yaml": GROUP, "use.yaml": uses, "brand.yaml": BRAND})
    assert "instance launch-us of group launch lacks parameter 'market' (required)" in message
    assert "instance launch-ca of group launch lacks parameter 'market' (required)" in message
    assert "which no manifest defines" not in message  # the failed instances' references are not dangling
    typo = USES.replace("group: launch", "group: lanch")
    assert "no group named 'lanch'; did you mean 'launch'?" in error_of(load, {"group.yaml": GROUP, "use.yaml": typo})
    wrong = USES.replace('parameters: {market: "${each.key}"}', 'parameters: {market: "${each.key}", budget: many}')
    assert "parameter 'budget' of instance launch-us must be a number, not a string" in error_of(
        load, {"group.yaml": GROUP, "use.yaml": wrong, "brand.yaml": BRAND})


# -- labels, environments, variables -------------------------------------------------------------
def test_labels_are_checked(load) -> None:
    bad = CAMPAIGNS.replace("{source}", "list: [us]").replace("{budget}", "1").replace(
        'labels: {market: "${each.key}"}', "labels: {'bad key!': x, tier: 3}")
    message = error_of(load, {"c.yaml": bad})
    assert "metadata.labels.bad key!: 'bad key!' is not a label key" in message
    assert "metadata.labels.tier: 3 is not a label value" in message


WORKSPACE = """\
apiVersion: reconciler/v1
kind: Workspace
variables: {budget: 1, name: base}
environments:
  staging:
    variables: {budget: 2}
  production:
    variables: {budget: 3}
    state: {path: prod/state.json}
"""
CAMPAIGN = """\
apiVersion: mediamath/v1
kind: Campaign
metadata: {name: c}
spec: {advertiser_id: 7, name: "${var:name}", total_budget: "${var:budget}"}
"""


def load_in(root: Path, selection: Selection, env: dict[str, str] | None = None) -> tuple[object, dict[str, object]]:
    config = load_workspace_config(root, env or {}, selection=selection)
    resources = load_manifests([], config=config, kind_lookup=KINDS, known_providers=PROVIDERS, env={})
    return config, resources[0].spec


def test_environments_variables_and_state(tmp_path: Path) -> None:
    (tmp_path / "reconciler.yaml").write_text(WORKSPACE)
    (tmp_path / "c.yaml").write_text(CAMPAIGN)
    (tmp_path / "vars.json").write_text('{"budget": 4, "name": "from-file"}')  # a YAML var file would be a manifest here
    config, spec = load_in(tmp_path, Selection())
    assert spec["total_budget"] == 1 and config.state["path"] == ".reconciler/state.json"
    config, spec = load_in(tmp_path, Selection("staging"))
    assert spec["total_budget"] == 2 and config.state["path"] == ".reconciler/staging/state.json"  # never shared
    config, spec = load_in(tmp_path, Selection("production"))
    assert spec["total_budget"] == 3 and config.state["path"] == "prod/state.json"
    _, spec = load_in(tmp_path, Selection("staging", (tmp_path / "vars.json",), {"budget": "5"}))
    assert spec == {"advertiser_id": 7, "name": "from-file", "total_budget": 5}  # --var wins, typed by the schema
    with pytest.raises(InputError, match="no environment 'prod' in reconciler.yaml; did you mean 'production'. .environments: production, staging."):
        load_in(tmp_path, Selection("prod"))


def test_environments_in_a_shared_state_database_get_their_own_key(tmp_path: Path) -> None:
    (tmp_path / "reconciler.yaml").write_text(
        WORKSPACE + "state: {backend: postgres, url: '${env:PG_URL}', workspace: acme}\n"
    )
    (tmp_path / "c.yaml").write_text(CAMPAIGN)
    env = {"PG_URL": "postgresql://reconciler@127.0.0.1/state"}
    config, _ = load_in(tmp_path, Selection(), env)
    assert config.state["workspace"] == "acme"
    config, _ = load_in(tmp_path, Selection("staging"), env)
    assert config.state["backend"] == "postgres" and config.state["workspace"] == "acme/staging"


def test_a_var_must_be_declared_and_takes_its_declared_type(tmp_path: Path) -> None:
    (tmp_path / "reconciler.yaml").write_text(
        "apiVersion: reconciler/v1\nkind: Workspace\nvariables: {budget: 1, ceiling: 2.5, live: false, name: base}\n"
    )
    config = load_workspace_config(tmp_path, {}, selection=Selection(variables={"budget": "7", "ceiling": "3",
                                                                              "live": "true", "name": "12"}))
    assert dict(config.variables) == {"budget": 7, "ceiling": 3.0, "live": True, "name": "12"}
    with pytest.raises(InputError, match="--var budgt: no variable 'budgt' is declared .*; did you mean 'budget'"):
        load_workspace_config(tmp_path, {}, selection=Selection(variables={"budgt": "7"}))
    with pytest.raises(InputError, match="--var budget=lots: expected a number, like the declared value 1"):
        load_workspace_config(tmp_path, {}, selection=Selection(variables={"budget": "lots"}))


def test_data_files_must_live_in_the_workspace(load, tmp_path: Path) -> None:
    """A pull request could otherwise plan ``csv: /etc/passwd`` and have CI print it."""
    (tmp_path / "outside.csv").write_text(ROWS)
    root = tmp_path / "ws"
    for source in ("csv: /etc/passwd", "csv: ../outside.csv", "file: ../outside.csv"):
        doc = CAMPAIGNS.replace("{source}", source).replace("{budget}", "1")
        assert "is outside the workspace" in error_of(load, {"c.yaml": doc}, root=root)
    folder = CAMPAIGNS.replace("{source}", "csv: sub").replace("{budget}", "1")
    (root / "sub").mkdir()
    assert "data file sub is a directory" in error_of(load, {"c.yaml": folder}, root=root)
