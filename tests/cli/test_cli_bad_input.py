"""Bad input at the command line: each case exits 1, prints one ``Error:`` message naming the
file, line and field path (or the file for plan and state files), never a traceback, and
changes nothing (no state written, no remote object created).

Aspects covered: broken YAML, non-mapping document, unknown apiVersion, unknown provider,
unknown kind, missing metadata.name, missing and unknown spec fields, wrong types, bad enum
values, bad lifecycle values, duplicate YAML keys, duplicate addresses, dangling and malformed
references, cycles, undefined ``${env:}`` and ``${var:}``, a literal secret in the workspace
file, an unknown workspace key, a plan file that is not a plan, a state file that is not a state.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.cli.conftest import Workspace

FOLDER = """\
apiVersion: memory/v1
kind: Folder
metadata:
  name: {name}
spec:
{spec}
"""


def folder(spec: str, name: str = "docs") -> str:
    body = "\n".join("  " + line for line in spec.strip().splitlines())
    return FOLDER.format(name=name, spec=body)


# (id, manifest text, expected "file:line" fragment, expected field/message fragment)
CASES = [
    ("broken-yaml", "apiVersion: memory/v1\nkind: Folder\nmetadata: {name: docs\nspec: {}\n", "bad.yaml:", ""),
    ("not-a-mapping", "- just\n- a list\n", "bad.yaml:1", ""),
    ("unknown-apiversion", folder("name: A").replace("memory/v1", "memory/v9"), "bad.yaml:1", "apiVersion"),
    ("unknown-provider", folder("name: A").replace("memory/v1", "nosuch/v1"), "bad.yaml:1", "nosuch"),
    ("unknown-kind", folder("name: A").replace("kind: Folder", "kind: Drawer"), "bad.yaml:2", "Drawer"),
    ("missing-name", "apiVersion: memory/v1\nkind: Folder\nmetadata: {}\nspec: {name: A}\n", "bad.yaml:3", "metadata"),
    ("bad-name", folder("name: A", name="'has space'"), "bad.yaml:4", "metadata.name"),
    ("missing-field", folder("color: red"), "bad.yaml:", "name"),
    ("unknown-field", folder("name: A\nshade: dark"), "bad.yaml:7", "spec.shade"),
    ("wrong-type", folder("name: A\nsize: big"), "bad.yaml:7", "spec.size"),
    ("bad-enum", folder("name: A\ncolor: purple"), "bad.yaml:7", "spec.color"),
    ("bad-lifecycle", folder("name: A") + "lifecycle:\n  on_delete: shred\n", "bad.yaml:8", "lifecycle.on_delete"),
    ("ignore-unknown-field", folder("name: A") + "lifecycle:\n  ignore_changes: [nope]\n", "bad.yaml:8", "ignore_changes"),
    ("duplicate-key", folder("name: A\nname: B"), "bad.yaml:7", "name"),
    ("dangling-ref", "apiVersion: memory/v1\nkind: Item\nmetadata: {name: i}\nspec:\n  name: I\n  folder_id: {ref: Folder/nope}\n", "bad.yaml:6", "spec.folder_id"),
    ("malformed-ref", "apiVersion: memory/v1\nkind: Item\nmetadata: {name: i}\nspec:\n  name: I\n  folder_id: {ref: 'not an address'}\n", "bad.yaml:6", "spec.folder_id"),
    ("undefined-env", folder("name: ${env:RECONCILER_TEST_UNSET_VARIABLE}"), "bad.yaml:6", "RECONCILER_TEST_UNSET_VARIABLE"),
    ("undefined-var", folder("name: ${var:nope}"), "bad.yaml:6", "nope"),
]


def assert_clean_failure(ws: Workspace, result_code: int, err: str, out: str, where: str, what: str) -> None:
    assert result_code == 1, out + err
    assert err.startswith("Error: "), err
    assert "Traceback" not in out + err
    assert where in err, err
    assert what in err, err
    assert not (ws.root / ".reconciler" / "state.json").exists() or "resources\":{}" in (
        ws.root / ".reconciler" / "state.json"
    ).read_text()
    assert ws.remote().get("Folder", {}) == {}


@pytest.mark.parametrize(("case", "text", "where", "what"), CASES, ids=[c[0] for c in CASES])
@pytest.mark.parametrize("command", ["validate", "plan", "apply"])
def test_bad_manifest(ws: Workspace, case: str, text: str, where: str, what: str, command: str) -> None:
    ws.write("manifests/bad.yaml", text)
    args = [command] + (["--auto-approve"] if command == "apply" else [])
    result = ws.run(*args)
    assert_clean_failure(ws, result.code, result.err, result.out, where, what)


def test_duplicate_address_names_both_files(ws: Workspace) -> None:
    ws.write("manifests/other.yaml", folder("name: Other"))
    result = ws.run("plan")
    assert_clean_failure(ws, result.code, result.err, result.out, "other.yaml:4", "memory.Folder/docs")
    assert "main.yaml" in result.err


def test_cycle_names_the_path(ws: Workspace) -> None:
    # Folder labels cannot reference; build a cycle with two items referencing each other's folder is
    # impossible in this schema, so use the folder_id of items pointing at items via a second kind.
    ws.write(
        "manifests/cycle.yaml",
        "apiVersion: memory/v1\nkind: Item\nmetadata: {name: a}\nspec:\n  name: A\n  folder_id: {ref: Item/b}\n"
        "---\napiVersion: memory/v1\nkind: Item\nmetadata: {name: b}\nspec:\n  name: B\n  folder_id: {ref: Item/a}\n",
    )
    result = ws.run("plan")
    assert_clean_failure(ws, result.code, result.err, result.out, "cycle.yaml:", "->")
    assert "memory.Item/a" in result.err and "memory.Item/b" in result.err


def test_literal_secret_in_workspace_file(ws: Workspace) -> None:
    ws.configure("credentials:\n  token: hunter2-literal-secret\n")
    result = ws.run("plan")
    assert_clean_failure(ws, result.code, result.err, result.out, "reconciler.yaml:", "credentials")
    assert "hunter2-literal-secret" not in result.err + result.out


def test_unknown_workspace_key(ws: Workspace) -> None:
    text = (ws.root / "reconciler.yaml").read_text() + "colour: blue\n"
    (ws.root / "reconciler.yaml").write_text(text)
    result = ws.run("validate")
    assert_clean_failure(ws, result.code, result.err, result.out, "reconciler.yaml:", "colour")


@pytest.mark.parametrize(
    "content", ["not json at all", "[1, 2, 3]", '{"format": "something-else"}', '{"format": "reconciler-plan", "format_version": 99}']
)
def test_plan_file_that_is_not_a_plan(ws: Workspace, tmp_path: Path, content: str) -> None:
    bad = tmp_path / "bad-plan.json"
    bad.write_text(content)
    result = ws.run("apply", str(bad))
    assert result.code == 1, result.text
    assert "Traceback" not in result.text and "bad-plan.json" in result.err
    assert ws.remote().get("Folder", {}) == {}


@pytest.mark.parametrize("content", ["not json", "[]", '{"format_version": 1}', '{"format_version": 1, "lineage": "x", "serial": 1, "resources": {"a": 1}}'])
def test_state_file_that_is_not_a_state(ws: Workspace, content: str) -> None:
    state = ws.root / ".reconciler" / "state.json"
    state.parent.mkdir(parents=True, exist_ok=True)
    state.write_text(content)
    for args in (["plan"], ["state", "list"], ["apply", "--auto-approve"]):
        result = ws.run(*args)
        assert result.code == 1, result.text
        assert "Traceback" not in result.text and "state.json" in result.err
    assert state.read_text() == content  # nothing rewritten
    assert ws.remote().get("Folder", {}) == {}
