"""Saved plan files: round-trip, format marker, atomic write, and files that are not plans.

Covers: a plan with every action, refs, preconditions, drift, warnings, targets and options
survives save/load unchanged; the file is JSON with the ``reconciler-plan`` marker and
version 1; saving replaces an existing file and leaves no temp file; a plan that cannot be
serialised leaves the old file intact; sixteen shapes of bad files (missing, a directory,
empty, YAML, binary/zip, a JSON array, rendered plan JSON, no marker, an unknown version, missing and
ill-typed fields, an unknown action, bad addresses and refs, provider/kind mismatch, an unknown
precondition kind) each raise PlanFileError naming the file (and the line for JSON syntax).
The integrity hash (issue 16.3): a file edited after saving (a remote id, a value, a flag; even
one whitespace-insensitive change of a value) or without a hash is refused, naming the file.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from reconciler.errors import PlanFileError
from reconciler.model import Ref
from reconciler.plan.model import Action, Plan
from reconciler.plan.planfile import FORMAT, FORMAT_VERSION, integrity, load_plan, plan_to_json, save_plan
from tests.plan.fixtures import check_plan_json, mixed_plan
from tests.support.cli import invoke


@pytest.fixture(scope="module")
def plan() -> Plan:
    return mixed_plan()


def test_round_trip(plan: Plan, tmp_path: Path) -> None:
    path = tmp_path / "out" / "plan.json"
    path.parent.mkdir()
    save_plan(plan, path)
    loaded = load_plan(path)
    assert loaded == plan
    replace = next(c for c in loaded.changes if c.action is Action.REPLACE)
    assert isinstance(replace.after["advertiser_id"], Ref)  # type: ignore[index]
    assert replace.precondition is not None and replace.precondition.value == 3
    assert loaded.drift and loaded.warnings
    data = json.loads(path.read_text())
    assert data["format"] == FORMAT and data["format_version"] == FORMAT_VERSION
    assert (data["lineage"], data["serial"]) == ("lin-1", 7)
    assert [p.name for p in path.parent.iterdir()] == ["plan.json"]


def test_targets_and_options_round_trip(tmp_path: Path) -> None:
    plan = Plan("lin", 0, (), targets=("mediamath.Campaign/a",), options={"destroy": True, "parallelism": 4})
    save_plan(plan, tmp_path / "p.json")
    assert load_plan(tmp_path / "p.json") == plan
    assert check_plan_json(plan)["targets"] == ["mediamath.Campaign/a"]


def test_save_replaces_existing_file_atomically(plan: Plan, tmp_path: Path) -> None:
    path = tmp_path / "plan.json"
    save_plan(Plan("older", 0, ()), path)
    save_plan(plan, path)
    assert load_plan(path) == plan
    bad = Plan("lin", 1, (), options={"not json": object()})
    with pytest.raises(TypeError):
        save_plan(bad, path)
    assert load_plan(path) == plan  # untouched
    assert sorted(p.name for p in tmp_path.iterdir()) == ["plan.json"]


def _write(tmp_path: Path, content: Any) -> Path:
    path = tmp_path / "plan.json"
    if isinstance(content, bytes):
        path.write_bytes(content)
    elif isinstance(content, str):
        path.write_text(content)
    else:
        path.write_text(json.dumps(content))
    return path


def _valid(plan: Plan) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(json.dumps(plan_to_json(plan)))
    return data


def _broken(plan: Plan, edit: Any) -> dict[str, Any]:
    """A plan file edited by ``edit``, then sealed again (as a buggy writer would): the reader's
    own checks must still refuse it."""
    data = _valid(plan)
    edit(data)
    return {**data, "integrity": integrity(data)}


BAD_FILES: list[tuple[str, Any, str]] = [
    ("empty", "", "invalid JSON"),
    ("yaml", "format: reconciler-plan\nchanges: []\n", "invalid JSON"),
    ("zip", b"PK\x03\x04\x14\x00\x00\x00\x08\x00\xff\xfe\x00", "not UTF-8"),
    ("array", [1, 2], "expected a JSON object, found list"),
    (
        "rendered json",
        {"format_version": "1.2", "resource_changes": []},
        "not a saved plan; save one with plan --out",
    ),
    ("no marker", {"lineage": "x", "serial": 1}, "format marker is None"),
    ("wrong marker", {"format": "terraform-plan", "format_version": 1}, "format marker is 'terraform-plan'"),
    ("future version", "VERSION2", "format_version 2 is not supported"),
    ("missing lineage", "NO_LINEAGE", "'lineage' is a required property"),
    ("ill-typed serial", "SERIAL_STR", "serial: '7' is not of type 'integer'"),
    ("unknown action", "BAD_ACTION", "changes[0].action: 'explode' is not one of"),
    ("bad address", "BAD_ADDRESS", "changes[0].address: 'nope' is not an address"),
    ("bad ref", "BAD_REF", "is not an address"),
    ("kind mismatch", "KIND_MISMATCH", "provider/kind do not match the address"),
    ("bad precondition", "BAD_PRECONDITION", "changes[0].precondition"),
]

EDITS = {
    "VERSION2": lambda d: d.update(format_version=2),
    "NO_LINEAGE": lambda d: d.pop("lineage"),
    "SERIAL_STR": lambda d: d.update(serial="7"),
    "BAD_ACTION": lambda d: d["changes"][0].update(action="explode"),
    "BAD_ADDRESS": lambda d: d["changes"][0].update(address="nope"),
    "BAD_REF": lambda d: d["changes"][0].update(after={"x": {"$ref": "no such thing"}}),
    "KIND_MISMATCH": lambda d: d["changes"][0].update(kind="Campaign"),
    "BAD_PRECONDITION": lambda d: d["changes"][0].update(precondition={"kind": "etag", "value": 1}),
}


@pytest.mark.parametrize(("name", "content", "message"), BAD_FILES, ids=[b[0] for b in BAD_FILES])
def test_bad_plan_files(plan: Plan, tmp_path: Path, name: str, content: Any, message: str) -> None:
    if isinstance(content, str) and content in EDITS:
        content = _broken(plan, EDITS[content])
    path = _write(tmp_path, content)
    with pytest.raises(PlanFileError) as info:
        load_plan(path)
    text = str(info.value)
    assert str(path) in text
    assert message in text
    assert info.value.exit_code == 1
    assert "Traceback" not in text


def test_json_syntax_error_names_the_line(tmp_path: Path) -> None:
    path = _write(tmp_path, '{\n  "format": "reconciler-plan",\n  "serial": ,\n}')
    with pytest.raises(PlanFileError) as info:
        load_plan(path)
    assert str(info.value).startswith(f"{path}:3: not a reconciler plan: invalid JSON")


def test_missing_file_and_directory(tmp_path: Path) -> None:
    with pytest.raises(PlanFileError, match="plan file not found"):
        load_plan(tmp_path / "absent.json")
    with pytest.raises(PlanFileError, match="cannot read the plan file"):
        load_plan(tmp_path)


@pytest.mark.parametrize(
    "edit",
    [
        lambda d: d["changes"][0].update(remote_id="999999"),
        lambda d: d["changes"][0].update(prevent_destroy=not d["changes"][0].get("prevent_destroy", False)),
        lambda d: d.update(serial=d["serial"] + 1),
        lambda d: d["options"].update(guardrails_skipped=True),
        lambda d: d.pop("integrity"),
    ],
    ids=["remote id", "prevent_destroy", "serial", "option", "no hash"],
)
def test_an_edited_plan_is_refused(plan: Plan, tmp_path: Path, edit: Any) -> None:
    path = tmp_path / "plan.json"
    save_plan(plan, path)
    data = json.loads(path.read_text())
    assert data["integrity"].startswith("sha256:") and load_plan(path) == plan
    edit(data)
    path.write_text(json.dumps(data, indent=4))  # re-indented too: only the content counts
    with pytest.raises(PlanFileError) as info:
        load_plan(path)
    text = str(info.value)
    assert text.startswith(f"{path}: the plan file ") and "nothing was applied" in text, text
    assert ("integrity hash does not match" in text) != ("no integrity hash" in text)
    shown = invoke(tmp_path, "show", str(path))  # show applies nothing: it says it refuses the file
    assert shown.code == 1 and "the plan file is refused and not shown" in shown.err, shown
    assert "applied" not in shown.err


def test_a_plan_reformatted_without_edits_still_loads(plan: Plan, tmp_path: Path) -> None:
    path = tmp_path / "plan.json"
    save_plan(plan, path)
    path.write_text(json.dumps(json.loads(path.read_text()), indent=None, sort_keys=False, ensure_ascii=True))
    assert load_plan(path) == plan
