"""The command line end to end, on the test ``memory`` provider.

Aspects covered:
- ``reconciler --help`` and ``python -m reconciler --help``;
- plan -> apply -> plan gives an empty second plan; ``--detailed-exitcode`` gives 2 then 0;
- a saved plan applies once; applying it again is refused as stale (exit 3);
- every plan JSON produced here validates against ``schemas/plan.schema.json``;
- an apply SIGKILLed between the remote create and the state record: the next apply finishes
  without a duplicate and the final plan is empty;
- a second concurrent apply fails at once naming the lock holder, or waits with --lock-timeout;
- conflicts: an out-of-band edit to a field the plan changes -> exit 3 with both values, the
  other writer's value kept (and replaced, said so, with ``--force-conflicts``); an edit to another
  field -> rebased and applied; edited again while rebasing -> a conflict listed with the others;
- drift: an out-of-band edit shows with who/old/new and exit 2;
- state list/show/rm, import, destroy, and the markdown plan.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from jsonschema import Draft202012Validator

from tests.cli.conftest import REPO, Workspace
from tests.support.memory_provider import MemoryProvider

PLAN_SCHEMA = json.loads((REPO / "schemas" / "plan.schema.json").read_text())


def plan_json(ws: Workspace, *args: str) -> dict[str, object]:
    result = ws.run("plan", "--format", "json", *args)
    assert result.code == 0, result.text
    data: dict[str, object] = json.loads(result.out)
    Draft202012Validator(PLAN_SCHEMA).validate(data)
    return data


def actions(data: dict[str, object]) -> dict[str, list[str]]:
    changes = data["resource_changes"]
    assert isinstance(changes, list)
    return {c["address"]: c["change"]["actions"] for c in changes}


def provider(ws: Workspace) -> MemoryProvider:
    return MemoryProvider.at(ws.root / ".memory-remote.json")


def test_help_in_process_and_as_module(ws: Workspace) -> None:
    result = ws.run("--help")
    assert result.code == 0
    for command in ("validate", "plan", "apply", "drift", "destroy", "import", "state", "sandbox"):
        assert command in result.out
    proc = subprocess.run([sys.executable, "-m", "reconciler", "--help"], capture_output=True, text=True, cwd=REPO)
    assert proc.returncode == 0 and "plan" in proc.stdout


def test_plan_apply_plan_is_empty_and_detailed_exitcode(ws: Workspace) -> None:
    first = ws.run("plan", "--detailed-exitcode")
    assert first.code == 2, first.text
    assert "memory.Folder/docs" in first.out and "3 to create" in first.out
    data = plan_json(ws)
    assert actions(data) == {
        "memory.Folder/docs": ["create"],
        "memory.Item/memo": ["create"],
        "memory.Item/report": ["create"],
    }

    applied = ws.run("apply", "--auto-approve")
    assert applied.code == 0, applied.text
    remote = ws.remote()
    assert len(remote["Folder"]) == 1 and len(remote["Item"]) == 2

    again = ws.run("plan", "--detailed-exitcode")
    assert again.code == 0, again.text
    assert "No changes" in again.out
    assert set(map(tuple, actions(plan_json(ws)).values())) == {("no-op",)}

    listed = ws.run("state", "list")
    assert listed.out.split() == ["memory.Folder/docs", "memory.Item/memo", "memory.Item/report"]
    shown = json.loads(ws.run("state", "show", "memory.Item/report").out)
    assert shown["remote_id"] in remote["Item"]


def test_saved_plan_applies_once_then_is_stale(ws: Workspace, tmp_path: Path) -> None:
    out = tmp_path / "plan.json"
    assert ws.run("validate").code == 0
    assert ws.run("plan", "--out", str(out)).code == 0
    assert ws.run("plan", "--format", "json").code == 0
    assert not (ws.root / ".reconciler").exists()  # validate and plan write nothing, not even an empty state
    other = tmp_path / "other.json"
    assert ws.run("plan", "--out", str(other)).code == 0
    first = ws.run("apply", str(out))
    assert first.code == 0, first.text
    second = ws.run("apply", str(out))
    assert second.code == 3, second.text
    assert "stale plan" in second.err
    assert "Traceback" not in second.text
    assert len(ws.remote()["Folder"]) == 1  # nothing applied twice
    racing = ws.run("apply", str(other))  # made against the same missing state, applied after
    assert racing.code == 3 and "stale plan" in racing.err, racing.text


def test_update_and_markdown_plan(ws: Workspace) -> None:
    assert ws.run("apply", "--auto-approve").code == 0
    main = ws.root / "manifests" / "main.yaml"
    main.write_text(main.read_text().replace("size: 10", "size: 25"))
    data = plan_json(ws)
    assert actions(data)["memory.Folder/docs"] == ["update"]
    md = ws.run("plan", "--format", "markdown")
    assert md.code == 0 and "<details>" in md.out and "memory.Folder/docs" in md.out
    text = ws.run("plan")
    assert "size" in text.out and "10" in text.out and "25" in text.out
    assert ws.run("apply", "--auto-approve").code == 0
    folder = next(iter(ws.remote()["Folder"].values()))
    assert folder["fields"]["size"] == 25


def test_sigkill_mid_apply_then_next_apply_finishes_without_duplicates(ws: Workspace, tmp_path: Path) -> None:
    signal_file = tmp_path / "go"
    ws.configure(f"block_after_create: Q3 report\nsignal_file: {signal_file}\n")
    proc = ws.spawn("apply", "--auto-approve", "--parallelism", "1")
    reached = Path(f"{signal_file}.reached")
    deadline = time.monotonic() + 60
    while not reached.exists():
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, "the apply never reached the blocking create"
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=10)
    # The report was created remotely but the killed run never recorded it in state.
    assert "Q3 report" in [o["fields"]["name"] for o in ws.remote()["Item"].values()]
    state = json.loads((ws.root / ".reconciler" / "state.json").read_text())
    journal = (ws.root / ".reconciler" / "journal.jsonl").read_text()
    assert "memory.Item/report" not in state["resources"] and '"memory.Item/report"' in journal

    ws.configure()  # no more blocking
    resumed = ws.run("apply", "--auto-approve")
    assert resumed.code == 0, resumed.text
    names = sorted(o["fields"]["name"] for o in ws.remote()["Item"].values())
    assert names == ["Memo", "Q3 report"], names  # no duplicate create
    final = ws.run("plan", "--detailed-exitcode")
    assert final.code == 0, final.text


def test_concurrent_apply_fails_naming_holder_or_waits(ws: Workspace, tmp_path: Path) -> None:
    signal_file = tmp_path / "go"
    ws.configure(f"block_after_create: Documents\nsignal_file: {signal_file}\n")
    holder = ws.spawn("apply", "--auto-approve")
    reached = Path(f"{signal_file}.reached")
    deadline = time.monotonic() + 60
    while not reached.exists():
        assert holder.poll() is None, holder.communicate()
        assert time.monotonic() < deadline
        time.sleep(0.05)
    try:
        second = ws.run("apply", "--auto-approve")
        assert second.code == 1
        assert "held by" in second.err and f"pid {holder.pid}" in second.err and "apply" in second.err
        assert "Traceback" not in second.text

        waiter = ws.spawn("apply", "--auto-approve", "--lock-timeout", "60")
        time.sleep(0.5)
        assert waiter.poll() is None  # waiting for the lock
        signal_file.touch()
        assert holder.wait(timeout=60) == 0
        out, err = waiter.communicate(timeout=60)
        assert waiter.returncode == 0, out + err
    finally:
        signal_file.touch()
        holder.kill()
    assert len(ws.remote()["Folder"]) == 1 and len(ws.remote()["Item"]) == 2


def test_conflicting_edit_between_plan_and_apply_exits_3_and_keeps_theirs(ws: Workspace, tmp_path: Path) -> None:
    assert ws.run("apply", "--auto-approve").code == 0
    main = ws.root / "manifests" / "main.yaml"
    main.write_text(main.read_text().replace("size: 10", "size: 25"))
    out = tmp_path / "plan.json"
    assert ws.run("plan", "--out", str(out)).code == 0
    folder_id = next(iter(ws.remote()["Folder"]))
    provider(ws).edit_out_of_band("Folder", folder_id, {"size": 99}, user="jdoe")

    result = ws.run("apply", str(out))
    assert result.code == 3, result.text
    assert "99" in result.text and "25" in result.text
    assert ws.remote()["Folder"][folder_id]["fields"]["size"] == 99  # the other writer's value is live

    forced = ws.run("apply", str(out), "--force-conflicts")
    assert forced.code == 0, forced.text
    assert "Overwrote another writer's values on memory.Folder/docs (--force-conflicts):" in forced.out
    assert "size: theirs 99 replaced by ours 25 (planned from 10)" in forced.out
    assert ws.remote()["Folder"][folder_id]["fields"]["size"] == 25


def test_disjoint_edit_between_plan_and_apply_is_rebased(ws: Workspace, tmp_path: Path) -> None:
    assert ws.run("apply", "--auto-approve").code == 0
    main = ws.root / "manifests" / "main.yaml"
    main.write_text(main.read_text().replace("size: 10", "size: 25"))
    out = tmp_path / "plan.json"
    assert ws.run("plan", "--out", str(out)).code == 0
    folder_id = next(iter(ws.remote()["Folder"]))
    provider(ws).edit_out_of_band("Folder", folder_id, {"color": "red"}, user="jdoe")

    result = ws.run("apply", str(out))
    assert result.code == 0, result.text
    assert "rebase" in result.text.lower()
    fields = ws.remote()["Folder"][folder_id]["fields"]
    assert fields["size"] == 25 and fields["color"] == "red"  # both edits survive


def test_an_object_changed_again_while_rebasing_is_reported_as_a_conflict(
    ws: Workspace, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Another writer keeps editing a field the plan does not set: one rebase, then a conflict
    (exit 3), listed with the other conflicts although it names no field of ours."""
    assert ws.run("apply", "--auto-approve").code == 0
    main = ws.root / "manifests" / "main.yaml"
    main.write_text(main.read_text().replace("size: 10", "size: 25"))
    out = tmp_path / "plan.json"
    assert ws.run("plan", "--out", str(out)).code == 0
    real_update = MemoryProvider.update
    edits = iter(range(100))

    def racing_update(self: MemoryProvider, kind: str, remote_id: str, *args: object, **kwargs: object) -> object:
        self.edit_out_of_band(kind, remote_id, {"color": f"color-{next(edits)}"}, user="jdoe")  # before each write
        return real_update(self, kind, remote_id, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(MemoryProvider, "update", racing_update)
    result = ws.run("apply", str(out))
    assert result.code == 3, result.text
    assert "Conflict on memory.Folder/docs: the object changed again while rebasing; not updated" in result.out
    assert "conflict: conflict" not in result.text


def test_drift_reports_out_of_band_edit_with_attribution(ws: Workspace) -> None:
    assert ws.run("apply", "--auto-approve").code == 0
    clean = ws.run("drift")
    assert clean.code == 0, clean.text
    folder_id = next(iter(ws.remote()["Folder"]))
    provider(ws).edit_out_of_band("Folder", folder_id, {"size": 11}, user="jdoe")
    drifted = ws.run("drift")
    assert drifted.code == 2, drifted.text
    assert "memory.Folder/docs" in drifted.out and "jdoe" in drifted.out
    assert "10" in drifted.out and "11" in drifted.out
    as_json = json.loads(ws.run("drift", "--format", "json").out)
    assert as_json  # the JSON form parses


def test_state_rm_import_and_destroy(ws: Workspace) -> None:
    assert ws.run("apply", "--auto-approve").code == 0
    memo_id = json.loads(ws.run("state", "show", "memory.Item/memo").out)["remote_id"]
    removed = ws.run("state", "rm", "memory.Item/memo")
    assert removed.code == 0 and memo_id in ws.remote()["Item"]  # the live object stays
    forgotten = {c["address"]: c for c in plan_json(ws)["resource_changes"]}["memory.Item/memo"]  # type: ignore[union-attr]
    # found again by its natural key: adopted, never created a second time
    assert forgotten["reconciler_action"] == "adopt" and forgotten["change"]["importing"] == {"id": memo_id}

    imported = ws.run("import", "memory.Item/memo", memo_id)
    assert imported.code == 0, imported.text
    assert actions(plan_json(ws))["memory.Item/memo"] == ["no-op"]

    destroyed = ws.run("destroy", "--auto-approve")
    assert destroyed.code == 0, destroyed.text
    assert ws.remote()["Item"] == {} and ws.remote()["Folder"] == {}
    assert ws.run("state", "list").out.strip() == ""


@pytest.mark.parametrize("fmt", ["text", "json", "markdown"])
def test_plan_formats_on_an_empty_workspace(ws: Workspace, fmt: str) -> None:
    (ws.root / "manifests" / "main.yaml").unlink()
    result = ws.run("plan", "--format", fmt)
    assert result.code == 0, result.text
    if fmt == "json":
        Draft202012Validator(PLAN_SCHEMA).validate(json.loads(result.out))
