"""Good-path loading of manifests.

Covers: multi-document files with comment-only documents, recursive discovery (.yaml and
.yml, hidden directories and reconciler.yaml skipped, explicit files and workspace paths),
DesiredResource contents (address, spec, Refs, lifecycle, location, field lines of nested
paths), refs accepted wherever an id fits (integer, uuid string, anyOf, unique lists, other
providers) while literal ids still work, YAML 1.2 scalars (yes/no, 09:30, dates, 0123),
anchors and merge keys, interpolation typing (whole-string ${var:} keeps its type), and a
deterministic dependency order independent of file layout.
"""

from __future__ import annotations

from pathlib import Path

from reconciler.manifest import KindTable
from reconciler.model import Address, Lifecycle, OnDelete, Ref

ADV = """\
apiVersion: mediamath/v1
kind: Advertiser
metadata:
  name: {name}
spec:
  name: {name} inc
  agency_id: 7
"""


def addresses(resources) -> list[str]:
    return [str(r.address) for r in resources]


def test_multi_document_recursive_discovery(load, tmp_path: Path) -> None:
    resources = load(
        {
            "top.yaml": "# only a comment\n---\n"
            + ADV.format(name="a")
            + "---\n# trailing\n---\n"
            + ADV.format(name="b"),
            "deep/er/c.yml": ADV.format(name="c"),
            "deep/notes.txt": "not yaml: [",
            ".reconciler/junk.yaml": "not: [valid",
            "deep/.hidden/x.yaml": "not: [valid",
            "deep/.dotfile.yaml": "not: [valid",
            "reconciler.yaml": "apiVersion: reconciler/v1\nkind: Workspace\n",
        }
    )
    assert addresses(resources) == [
        "mediamath.Advertiser/a",
        "mediamath.Advertiser/b",
        "mediamath.Advertiser/c",
    ]
    by_name = {r.address.name: r for r in resources}
    assert str(by_name["a"].location) == "top.yaml:3"
    assert str(by_name["b"].location) == "top.yaml:13"
    assert str(by_name["c"].location) == "deep/er/c.yml:1"
    assert by_name["b"].location_of("spec.agency_id").line == 19


def test_resource_contents(load) -> None:
    resources = load(
        {
            "a.yaml": ADV.format(name="acme"),
            "lr.yaml": """
                apiVersion: liveramp/v1
                kind: Cleanroom
                metadata:
                  name: room.1
                spec:
                  name: Room
                  data_connection_id: {ref: DataConnection/conn}
                  partner_ids:
                    - {ref: DataConnection/conn}
                    - {ref: mediamath.Advertiser/acme}
                    - 0b9c4ffb-9bd6-4c34-8d42-6f1d0a3c9e11
                  members:
                    - org: acme
                      purposes:
                        - measurement
                lifecycle:
                  prevent_destroy: true
                  ignore_changes: [members]
                  on_delete: abandon
                ---
                apiVersion: liveramp/v1
                kind: DataConnection
                metadata: {name: conn}
                spec:
                  name: Conn
                  cleanroom_id: null
            """.replace("cleanroom_id: null", "cleanroom_id: 7d1f0f3e-1d5b-4c1e-9a61-1c2b3d4e5f60"),
        }
    )
    room = next(r for r in resources if r.address.kind == "Cleanroom")
    assert room.address == Address("liveramp", "Cleanroom", "room.1")
    conn, acme = (
        Ref(Address("liveramp", "DataConnection", "conn")),
        Ref(Address("mediamath", "Advertiser", "acme")),
    )
    assert room.spec == {
        "name": "Room",
        "data_connection_id": conn,
        "partner_ids": [conn, acme, "0b9c4ffb-9bd6-4c34-8d42-6f1d0a3c9e11"],
        "members": [{"org": "acme", "purposes": ["measurement"]}],
    }
    assert room.references == (conn.target, acme.target)
    assert room.lifecycle == Lifecycle(
        prevent_destroy=True, ignore_changes=("members",), on_delete=OnDelete.ABANDON
    )
    assert str(room.location) == "lr.yaml:1"
    assert room.field_lines["spec.members.0.purposes"] == 14
    assert room.field_lines["spec.members.0.purposes.0"] == 15
    assert room.field_lines["spec.partner_ids.2"] == 11
    assert str(room.location_of("lifecycle.on_delete")) == "lr.yaml:19"
    # dependencies come first; the rest by address
    assert addresses(resources) == [
        "liveramp.DataConnection/conn",
        "mediamath.Advertiser/acme",
        "liveramp.Cleanroom/room.1",
    ]


def test_refs_where_ids_are_integers_and_literal_ids(load) -> None:
    resources = load(
        {
            "a.yaml": ADV.format(name="acme") + "---\n" + ADV.format(name="beta"),
            "c.yaml": """
                apiVersion: mediamath/v1
                kind: Campaign
                metadata: {name: summer}
                spec:
                  advertiser_id: {ref: Advertiser/acme}
                  name: Summer
                  total_budget: 5000.50
                  audience_ids: [{ref: Advertiser/acme}, {ref: Advertiser/beta}, 12]
                ---
                apiVersion: mediamath/v1
                kind: Campaign
                metadata: {name: literal}
                spec: {advertiser_id: 42, name: Literal, total_budget: 0}
            """,
        }
    )
    summer = next(r for r in resources if r.address.name == "summer")
    assert summer.spec["audience_ids"][2] == 12
    assert summer.spec["total_budget"] == 5000.5
    literal = next(r for r in resources if r.address.name == "literal")
    assert literal.spec["advertiser_id"] == 42 and literal.references == ()


def test_yaml_core_schema_scalars_anchors_and_merge_keys(load) -> None:
    resources = load(
        {
            "c.yaml": """
                apiVersion: mediamath/v1
                kind: Campaign
                metadata: {name: c}
                spec:
                  advertiser_id: 0123
                  name: 09:30
                  status: True
                  total_budget: 1e3
                  start_date: 2026-06-01
                  settings:
                    base: &base {on: yes, null_value: ~, hex: 0x1F, quoted: "12"}
                    derived:
                      <<: *base
                      hex: 1
            """
        }
    )
    spec = resources[0].spec
    assert spec["advertiser_id"] == 123
    assert spec["name"] == "09:30"
    assert spec["status"] is True
    assert spec["total_budget"] == 1000.0
    assert spec["start_date"] == "2026-06-01"
    assert spec["settings"]["base"] == {"on": "yes", "null_value": None, "hex": 31, "quoted": "12"}
    assert spec["settings"]["derived"] == {"on": "yes", "null_value": None, "hex": 1, "quoted": "12"}


def test_interpolation_typing(load) -> None:
    workspace = """
        apiVersion: reconciler/v1
        kind: Workspace
        variables:
          budget: 2500
          live: false
          audiences: [3, 4]
          season: summer
          brand: ${env:BRAND}
    """
    resources = load(
        {
            "reconciler.yaml": workspace,
            "c.yaml": """
                apiVersion: mediamath/v1
                kind: Campaign
                metadata: {name: "${var:season}-sale"}
                spec:
                  advertiser_id: ${env:ADV_ID_INT}
                  name: "${var:brand} ${var:season} $${not:interpolated} ${var:budget} ${var:live}"
                  status: ${var:live}
                  total_budget: ${var:budget}
                  audience_ids: ${var:audiences}
            """.replace("${env:ADV_ID_INT}", "9"),
        },
        env={"BRAND": "Acme"},
    )
    (campaign,) = resources
    assert campaign.address.name == "summer-sale"
    assert campaign.spec == {
        "advertiser_id": 9,
        "name": "Acme summer ${not:interpolated} 2500 false",
        "status": False,
        "total_budget": 2500,
        "audience_ids": [3, 4],
    }
    # values spliced in from a variable are located at the line that used them
    assert campaign.field_lines["spec.audience_ids.1"] == 9


def test_a_whole_env_value_takes_the_type_the_schema_wants(load) -> None:
    files = {
        "a.yaml": ADV.format(name="a").replace("agency_id: 7", "agency_id: ${env:AGENCY}")
        + "  status: ${env:ACTIVE}\n  region: ${env:AGENCY}\n",
    }
    (adv,) = load(files, {"AGENCY": "7", "ACTIVE": "true"})
    assert adv.spec["agency_id"] == 7 and adv.spec["status"] is True  # typed where the schema wants it
    assert adv.spec["region"] == "7"  # a string field keeps the text
    mixed = {"a.yaml": ADV.format(name="a").replace("agency_id: 7", "agency_id: x${env:AGENCY}")}
    try:
        load(mixed, {"AGENCY": "7"})
    except Exception as exc:  # mixed text stays a string: the integer field rejects it
        assert "a.yaml:7: spec.agency_id: 'x7' is not of type 'integer'" in str(exc)
    else:
        raise AssertionError("text around ${env:} keeps the value a string")


def test_order_is_independent_of_file_layout(load, tmp_path: Path) -> None:
    docs = {name: ADV.format(name=name) for name in ("zeta", "alpha", "mid", "beta")}
    docs["alpha"] += "  parent_id: {ref: Advertiser/zeta}\n"
    docs["mid"] += "  parent_id: {ref: Advertiser/alpha}\n"
    layouts = [
        {f"{n}.yaml": d for n, d in docs.items()},
        {"all.yaml": "---\n".join(docs[n] for n in ("mid", "beta", "zeta", "alpha"))},
        {
            "x/1.yaml": docs["alpha"],
            "a/2.yaml": docs["zeta"] + "---\n" + docs["mid"],
            "m/3.yml": docs["beta"],
        },
    ]
    results = []
    for index, files in enumerate(layouts):
        results.append(addresses(load(files, root=tmp_path / str(index))))
    assert results[0] == [
        "mediamath.Advertiser/beta",
        "mediamath.Advertiser/zeta",
        "mediamath.Advertiser/alpha",
        "mediamath.Advertiser/mid",
    ]
    assert results[0] == results[1] == results[2]


def test_workspace_paths_and_explicit_paths(load, tmp_path: Path) -> None:
    files = {
        "reconciler.yaml": "apiVersion: reconciler/v1\nkind: Workspace\npaths: [manifests/, extra.yaml]\n",
        "manifests/a.yaml": ADV.format(name="a"),
        "extra.yaml": ADV.format(name="extra"),
        "elsewhere/b.yaml": ADV.format(name="b"),
    }
    assert addresses(load(files)) == ["mediamath.Advertiser/a", "mediamath.Advertiser/extra"]
    explicit = load(
        {},
        paths=[tmp_path / "elsewhere", tmp_path / "elsewhere" / "b.yaml", tmp_path / "manifests" / "a.yaml"],
    )
    assert addresses(explicit) == ["mediamath.Advertiser/a", "mediamath.Advertiser/b"]


def test_unknown_kind_message_without_catalog(load) -> None:
    table = KindTable({"mediamath": {}})

    def lookup(provider: str, kind: str):
        return table(provider, kind)

    try:
        load({"a.yaml": ADV.format(name="a").replace("Advertiser", "Nope")}, kind_lookup=lookup)
    except Exception as exc:
        assert str(exc) == "a.yaml:2: kind: unknown kind 'Nope' for provider 'mediamath'"
    else:
        raise AssertionError("expected an unknown kind error")
    assert table.known_kinds("mediamath") == []
