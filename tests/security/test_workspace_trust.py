"""What a repository's files can make reconciler do is bounded (issue 16.12).

Aspects covered:
- ``factory:`` naming a module that sits beside ``reconciler.yaml`` is refused before anything is
  imported, also with ``python -m reconciler`` run from the repository root (the module would be
  importable there): exit 1, a message naming the setting, and the module never ran; a factory
  that ``$RECONCILER_PROVIDER_FACTORIES`` lists still works (the suite's memory provider);
- ``plan --out`` refuses to overwrite a file that is not a plan (a manifest, any text), before
  planning, and leaves it as it was; it replaces an older plan;
- a state entry whose key is not an address (or names another provider or kind than the entry)
  is an error on load naming it, and apply deletes nothing.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from tests.cli.conftest import Workspace
from tests.support.cli import REPO

EVIL = """\
from pathlib import Path
Path(__file__).with_name("ran.txt").write_text("the workspace's own code ran")
"""


def test_a_factory_beside_the_workspace_is_never_imported(ws: Workspace) -> None:
    ws.write("reconciler.yaml", (ws.root / "reconciler.yaml").read_text().replace(
        "tests.support.memory_provider:MemoryProvider", "evil_provider:Provider"))
    ws.write("evil_provider.py", EVIL)
    env = {**os.environ, "PYTHONPATH": str(REPO), "CI": "true", "NO_COLOR": "1"}
    for command in ("validate", "plan"):
        result = subprocess.run([sys.executable, "-m", "reconciler", command], cwd=ws.root, env=env,
                                capture_output=True, text=True, timeout=120, check=False)
        assert result.returncode == 1, result.stdout + result.stderr
        assert result.stderr.startswith("Error: providers.memory.factory: 'evil_provider:Provider' is not an installed "
                                        "reconciler provider"), result.stderr
        assert "RECONCILER_PROVIDER_FACTORIES" in result.stderr and "Traceback" not in result.stderr
        assert not (ws.root / "ran.txt").exists()


def test_plan_out_never_overwrites_what_is_not_a_plan(ws: Workspace, tmp_path: Path) -> None:
    manifest = ws.root / "manifests" / "main.yaml"
    before = manifest.read_bytes()
    for target in (manifest, tmp_path / "notes.txt"):
        if not target.exists():
            target.write_text("my notes\n")
        kept = target.read_bytes()
        result = ws.run("plan", "--out", str(target))
        assert result.code == 1, result.text
        assert result.err == (f"Error: {target}: exists and is not a reconciler plan; plan --out replaces only a plan it "
                              "wrote (choose another file name, or remove the file first)\n"), result.err
        assert result.out == ""  # refused before planning
        assert target.read_bytes() == kept
    assert manifest.read_bytes() == before
    plan_file = tmp_path / "plan.json"
    assert ws.run("plan", "--out", str(plan_file)).code == 0
    assert ws.run("plan", "--out", str(plan_file)).code == 0  # an older plan is replaced


def test_a_state_key_that_is_not_an_address_is_an_error(ws: Workspace) -> None:
    assert ws.run("apply", "--auto-approve").code == 0
    state_file = ws.root / ".reconciler" / "state.json"
    remote_before = ws.remote()
    for bad_key, message in (
        ("memory.Folder/docs extra", "'memory.Folder/docs extra' is not an address (provider.Kind/name)"),
        ("../../etc", "'../../etc' is not an address (provider.Kind/name)"),
        ("memory.Item/docs", "the address names memory.Item but the entry says memory.Folder"),
    ):
        data = json.loads(state_file.read_text())
        resources = data["resources"]
        resources[bad_key] = resources.pop("memory.Folder/docs")
        state_file.write_text(json.dumps(data))
        stored = state_file.read_bytes()
        for args in (("plan",), ("apply", "--auto-approve"), ("state", "list")):
            result = ws.run(*args)
            assert result.code == 1, result.text
            assert message in result.err and "Traceback" not in result.text, result.err
        assert state_file.read_bytes() == stored
        assert ws.remote() == remote_before  # nothing deleted
        resources["memory.Folder/docs"] = resources.pop(bad_key)
        state_file.write_text(json.dumps(data))
