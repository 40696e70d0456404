"""Bad input: every case raises the right reconciler error whose text names file:line and field path.

Covers: broken YAML, non-mapping document, unknown apiVersion (shape and version), unknown
provider, unknown kind (listing known kinds), missing/invalid metadata.name, missing, unknown,
wrongly typed and nested spec fields, bad enum, bad date format, refs where no id fits,
bad lifecycle key, bad on_delete, ignore_changes naming an unknown field, duplicate YAML key,
duplicate address across files, dangling and malformed references, cycles of 1, 2 and 3,
undefined ${env:} and ${var:}, unknown ${...} syntax, literal secret in workspace credentials
(value never echoed), unknown workspace key, non-UTF-8 file, several errors reported at once.
"""

from __future__ import annotations

import pytest

from reconciler.errors import (
    CycleError,
    InputError,
    InterpolationError,
    ManifestError,
    MultipleInputErrors,
    ReferenceError_,
    WorkspaceError,
)

ADV = """\
apiVersion: mediamath/v1
kind: Advertiser
metadata:
  name: acme
spec:
  name: Acme
  agency_id: 7
"""

CAMPAIGN = """\
apiVersion: mediamath/v1
kind: Campaign
metadata:
  name: summer
spec:
  advertiser_id: {ref: Advertiser/acme}
  name: Summer
  total_budget: 5000
"""


def adv(name: str, parent: str | None = None) -> str:
    text = ADV.replace("name: acme", f"name: {name}").replace("name: Acme", f"name: Acme {name}")
    if parent:
        text += f"  parent_id: {{ref: Advertiser/{parent}}}\n"
    return text


CASES = [
    pytest.param(
        {"a.yaml": ADV.replace("  name: Acme", "  name: [Acme")},
        {},
        ManifestError,
        ["a.yaml:7: ", "invalid YAML"],
        id="broken-yaml",
    ),
    pytest.param(
        {"a.yaml": ADV + "---\n- just\n- a list\n"},
        {},
        ManifestError,
        ["a.yaml:9: ", "must be a mapping", "not a list"],
        id="non-mapping-document",
    ),
    pytest.param(
        {"a.yaml": ADV.replace("mediamath/v1", "v1")},
        {},
        ManifestError,
        ["a.yaml:1: apiVersion: 'v1' is not a valid apiVersion"],
        id="apiversion-shape",
    ),
    pytest.param(
        {"a.yaml": ADV.replace("mediamath/v1", "mediamath/v2")},
        {},
        ManifestError,
        ["a.yaml:1: apiVersion: unsupported apiVersion 'mediamath/v2'"],
        id="apiversion-version",
    ),
    pytest.param(
        {"a.yaml": ADV.replace("mediamath/v1", "google/v1")},
        {},
        ManifestError,
        ["a.yaml:1: apiVersion: unknown provider 'google'", "known providers: liveramp, mediamath"],
        id="unknown-provider",
    ),
    pytest.param(
        {"a.yaml": ADV.replace("kind: Advertiser", "kind: Advertizer")},
        {},
        ManifestError,
        ["a.yaml:2: kind: unknown kind 'Advertizer'", "did you mean 'Advertiser'?"],
        id="unknown-kind",
    ),
    pytest.param(
        {"a.yaml": ADV.replace("metadata:\n  name: acme", "metadata: {}\n# no name")},
        {},
        ManifestError,
        ["a.yaml:3: metadata: 'name' is a required property"],
        id="missing-metadata-name",
    ),
    pytest.param(
        {"a.yaml": ADV.replace("name: acme", "name: 'Acme Corp!'")},
        {},
        ManifestError,
        ["a.yaml:4: metadata.name: 'Acme Corp!' is not a valid name"],
        id="invalid-metadata-name",
    ),
    pytest.param(
        {"a.yaml": ADV.replace("kind: Advertiser\n", "kind: Advertiser\nspecs: {}\n")},
        {},
        ManifestError,
        ["a.yaml:3: specs: unknown field 'specs'"],
        id="unknown-envelope-field",
    ),
    pytest.param(
        {"a.yaml": ADV.replace("spec:\n  name: Acme\n  agency_id: 7\n", "spec:\n")},
        {},
        ManifestError,
        ["a.yaml:5: spec: expected object, got null (an empty value)"],
        id="empty-spec",
    ),
    pytest.param(
        {"a.yaml": ADV.replace("  agency_id: 7\n", "")},
        {},
        ManifestError,
        ["a.yaml:5: spec: 'agency_id' is a required property"],
        id="missing-spec-field",
    ),
    pytest.param(
        {"a.yaml": ADV + "  nmae: typo\n"},
        {},
        ManifestError,
        ["a.yaml:8: spec.nmae: unknown field 'nmae'; did you mean 'name'?"],
        id="unknown-spec-field",
    ),
    pytest.param(
        {"a.yaml": ADV.replace("agency_id: 7", "agency_id: seven")},
        {},
        ManifestError,
        ["a.yaml:7: spec.agency_id: 'seven' is not of type 'integer'"],
        id="wrong-type",
    ),
    pytest.param(
        {"a.yaml": ADV + "  status: yes\n"},
        {},
        ManifestError,
        ["a.yaml:8: spec.status: 'yes' is not of type 'boolean'"],
        id="yaml11-boolean-is-a-string",
    ),
    pytest.param(
        {"a.yaml": ADV, "c.yaml": CAMPAIGN + "  goal_type: cpx\n"},
        {},
        ManifestError,
        ["c.yaml:9: spec.goal_type: 'cpx' is not one of ['cpa', 'cpc', 'reach']"],
        id="bad-enum",
    ),
    pytest.param(
        {"a.yaml": ADV, "c.yaml": CAMPAIGN + "  start_date: 2026-13-45\n"},
        {},
        ManifestError,
        ["c.yaml:9: spec.start_date: '2026-13-45' is not a 'date'"],
        id="bad-date-format",
    ),
    pytest.param(
        {"a.yaml": ADV, "c.yaml": CAMPAIGN + "  flights:\n    - budget: 1\n    - budget: lots\n"},
        {},
        ManifestError,
        ["c.yaml:11: spec.flights.1.budget: 'lots' is not of type 'number'"],
        id="nested-wrong-type",
    ),
    pytest.param(
        {"a.yaml": ADV, "c.yaml": CAMPAIGN + "  status: {ref: Advertiser/acme}\n"},
        {},
        ManifestError,
        ["c.yaml:9: spec.status: '${ref:mediamath.Advertiser/acme}' is not of type 'boolean'"],
        id="ref-where-no-id-fits",
    ),
    pytest.param(
        {"a.yaml": ADV + "lifecycle:\n  prevent_destroy: true\n  protect: true\n"},
        {},
        ManifestError,
        ["a.yaml:10: lifecycle.protect: unknown field 'protect'"],
        id="bad-lifecycle-key",
    ),
    pytest.param(
        {"a.yaml": ADV + "lifecycle:\n  on_delete: keep\n"},
        {},
        ManifestError,
        ["a.yaml:9: lifecycle.on_delete: 'keep' is not one of ['delete', 'abandon']"],
        id="bad-on-delete",
    ),
    pytest.param(
        {"a.yaml": ADV + "lifecycle:\n  ignore_changes: [status, regoin]\n"},
        {},
        ManifestError,
        ["a.yaml:9: lifecycle.ignore_changes.1: 'regoin' is not a field of Advertiser"],
        id="ignore-changes-unknown-field",
    ),
    pytest.param(
        {"a.yaml": ADV + "  name: Again\n"},
        {},
        ManifestError,
        ["a.yaml:8: spec.name: duplicate key 'name' (first written at line 6)"],
        id="duplicate-yaml-key",
    ),
    pytest.param(
        {"a.yaml": ADV, "sub/b.yaml": "# another copy\n" + ADV},
        {},
        ReferenceError_,
        [
            "sub/b.yaml:5: metadata.name: duplicate address mediamath.Advertiser/acme",
            "also defined at a.yaml:4",
        ],
        id="duplicate-address",
    ),
    pytest.param(
        {"a.yaml": ADV, "c.yaml": CAMPAIGN.replace("Advertiser/acme", "Advertiser/acm")},
        {},
        ReferenceError_,
        [
            "c.yaml:6: spec.advertiser_id: reference to mediamath.Advertiser/acm, which no manifest defines",
            "did you mean mediamath.Advertiser/acme?",
        ],
        id="dangling-reference",
    ),
    pytest.param(
        {"a.yaml": ADV, "c.yaml": CAMPAIGN.replace("{ref: Advertiser/acme}", "{ref: 'acme'}")},
        {},
        ReferenceError_,
        ["c.yaml:6: spec.advertiser_id: malformed reference: 'acme' is not an address"],
        id="malformed-ref-text",
    ),
    pytest.param(
        {"a.yaml": ADV, "c.yaml": CAMPAIGN.replace("{ref: Advertiser/acme}", "{ref: 12}")},
        {},
        ReferenceError_,
        ["c.yaml:6: spec.advertiser_id: malformed reference", "got an integer"],
        id="malformed-ref-type",
    ),
    pytest.param(
        {"a.yaml": adv("a", parent="a")},
        {},
        CycleError,
        ["a.yaml:8: spec.parent_id: dependency cycle: mediamath.Advertiser/a -> mediamath.Advertiser/a"],
        id="cycle-of-1",
    ),
    pytest.param(
        {"a.yaml": adv("a", parent="b"), "b.yaml": adv("b", parent="a")},
        {},
        CycleError,
        [
            "a.yaml:8: spec.parent_id: dependency cycle: "
            "mediamath.Advertiser/a -> mediamath.Advertiser/b -> mediamath.Advertiser/a",
            "mediamath.Advertiser/b spec.parent_id at b.yaml:8",
        ],
        id="cycle-of-2",
    ),
    pytest.param(
        {
            "z.yaml": adv("c", parent="a"),
            "y.yaml": adv("b", parent="c"),
            "x.yaml": adv("a", parent="b"),
            "free.yaml": adv("d", parent="a"),
        },
        {},
        CycleError,
        [
            "x.yaml:8: spec.parent_id: dependency cycle: mediamath.Advertiser/a -> mediamath.Advertiser/b"
            " -> mediamath.Advertiser/c -> mediamath.Advertiser/a",
            "mediamath.Advertiser/b spec.parent_id at y.yaml:8; mediamath.Advertiser/c spec.parent_id at z.yaml:8",
        ],
        id="cycle-of-3",
    ),
    pytest.param(
        {"a.yaml": ADV.replace("name: Acme", "name: ${env:ACME_NAME}")},
        {},
        InterpolationError,
        ["a.yaml:6: spec.name: environment variable ACME_NAME is not set"],
        id="undefined-env",
    ),
    pytest.param(
        {"a.yaml": ADV.replace("name: Acme", "name: 'Acme ${var:brand}'")},
        {},
        InterpolationError,
        ["a.yaml:6: spec.name: variable 'brand' is not defined"],
        id="undefined-var",
    ),
    pytest.param(
        {"a.yaml": ADV.replace("name: Acme", "name: 'Acme ${brand}'")},
        {},
        InterpolationError,
        ["a.yaml:6: spec.name: '${brand}': unknown name 'brand' (names: var;"],
        id="unknown-interpolation",
    ),
    pytest.param(
        {"a.yaml": ADV.replace("name: Acme", "name: 'Acme ${env:X'")},
        {"X": "x"},
        InterpolationError,
        ["a.yaml:6: spec.name: unterminated '${'"],
        id="unterminated-interpolation",
    ),
    pytest.param(
        {"a.yaml": "\n\n" + ADV.replace("Acme", "Acm\xe9").encode("latin-1").decode("latin-1")},
        {},
        ManifestError,
        ["a.yaml:8: ", "not valid UTF-8"],
        id="non-utf8",
    ),
    pytest.param(
        {
            "reconciler.yaml": (
                "apiVersion: reconciler/v1\nkind: Workspace\nproviders:\n  mediamath:\n"
                "    endpoint: sandbox\n    credentials:\n      username: ${env:MM_USER}\n"
                "      password: hunter2-secret\n"
            )
        },
        {"MM_USER": "u"},
        WorkspaceError,
        ["reconciler.yaml:8: providers.mediamath.credentials.password: a literal credential is not allowed"],
        id="literal-secret",
    ),
    pytest.param(
        {"reconciler.yaml": "apiVersion: reconciler/v1\nkind: Workspace\nprovider: {}\n"},
        {},
        WorkspaceError,
        ["reconciler.yaml:3: provider: unknown top-level key 'provider'", "allowed: adopt_existing, apiVersion, defaults, drift, environments, guardrails, kind"],
        id="workspace-unknown-key",
    ),
    pytest.param(
        {"reconciler.yaml": "apiVersion: reconciler/v1\nkind: Workspace\nproviders:\n  mediamath: {}\n"},
        {},
        WorkspaceError,
        ["reconciler.yaml:4: providers.mediamath: 'endpoint' is a required property"],
        id="workspace-provider-without-endpoint",
    ),
    pytest.param(
        {
            "reconciler.yaml": "apiVersion: reconciler/v1\nkind: Workspace\ndrift:\n  ignore:\n"
            "    - {address: 'mediamath.Strategy/*'}\n"
        },
        {},
        WorkspaceError,
        ["reconciler.yaml:5: drift.ignore.0: 'fields' is a required property"],
        id="workspace-drift-rule-without-fields",
    ),
    pytest.param(
        {
            "reconciler.yaml": "apiVersion: reconciler/v1\nkind: Workspace\nproviders:\n"
            "  mediamath: {endpoint: '${env:MM_URL}'}\n"
        },
        {},
        InterpolationError,
        ["reconciler.yaml:4: providers.mediamath.endpoint: environment variable MM_URL is not set"],
        id="workspace-undefined-env",
    ),
]


@pytest.mark.parametrize(("files", "env", "error_type", "expected"), CASES)
def test_bad_input(load, files, env, error_type, expected) -> None:
    # Non-UTF-8: the test table writes str; re-encode that one case as latin-1 bytes.
    files = {name: text.encode("latin-1") if "\xe9" in text else text for name, text in files.items()}
    with pytest.raises(InputError) as caught:
        load(files, env)
    error = caught.value
    assert type(error) is error_type, f"{type(error).__name__}: {error}"
    message = str(error)
    assert "\n" not in message
    for text in expected:
        assert text in message


def test_literal_secret_is_never_echoed(load) -> None:
    files = {
        "reconciler.yaml": "apiVersion: reconciler/v1\nkind: Workspace\nproviders:\n  mediamath:\n"
        "    endpoint: sandbox\n    credentials: hunter2-secret\n"
    }
    with pytest.raises(WorkspaceError) as caught:
        load(files)
    assert "reconciler.yaml:6: providers.mediamath.credentials:" in str(caught.value)
    assert "hunter2" not in str(caught.value)


def test_schema_errors_near_credentials_never_echo_them(load) -> None:
    files = {
        "reconciler.yaml": "apiVersion: reconciler/v1\nkind: Workspace\n"
        "providers: [{endpoint: sandbox, credentials: {password: '${env:PW}'}}]\n"
    }
    with pytest.raises(WorkspaceError) as caught:
        load(files, {"PW": "hunter2"})
    assert "reconciler.yaml:3: providers: expected object, got list" in str(caught.value)
    assert "PW" not in str(caught.value)


def test_several_errors_are_reported_together(load) -> None:
    files = {
        "a.yaml": ADV.replace("agency_id: 7", "agency_id: seven"),
        "b.yaml": ADV.replace("kind: Advertiser", "kind: Nope").replace("acme", "other"),
        "c.yaml": CAMPAIGN.replace("Advertiser/acme", "Advertiser/ghost"),
    }
    with pytest.raises(MultipleInputErrors) as caught:
        load(files)
    lines = str(caught.value).splitlines()
    assert len(lines) == 3
    assert lines[0].startswith("a.yaml:7: spec.agency_id:")
    assert lines[1].startswith("b.yaml:2: kind: unknown kind 'Nope'")
    assert lines[2].startswith("c.yaml:6: spec.advertiser_id: reference to mediamath.Advertiser/ghost")
    assert [type(e) for e in caught.value.errors] == [ManifestError, ManifestError, ReferenceError_]


def test_refs_to_an_invalid_document_are_not_also_dangling(load) -> None:
    files = {"a.yaml": ADV.replace("agency_id: 7", "agency_id: seven"), "c.yaml": CAMPAIGN}
    with pytest.raises(ManifestError) as caught:
        load(files)
    assert str(caught.value).startswith("a.yaml:7: spec.agency_id: 'seven' is not of type 'integer'")


def test_a_reference_to_a_removed_object_suggests_only_a_typo(load) -> None:
    """``spring-launch`` removed: suggesting ``winter-sale`` would move money to another campaign."""
    files = {"a.yaml": adv("winter-sale"), "c.yaml": CAMPAIGN.replace("Advertiser/acme", "Advertiser/spring-launch")}
    with pytest.raises(InputError) as caught:
        load(files)
    assert "reference to mediamath.Advertiser/spring-launch, which no manifest defines" in str(caught.value)
    assert "did you mean" not in str(caught.value)


def test_missing_path_is_an_error(load, tmp_path) -> None:
    with pytest.raises(ManifestError, match="nowhere: no such file or directory"):
        load({}, paths=[tmp_path / "nowhere"])
