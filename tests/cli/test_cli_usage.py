"""The command line itself (issue 17): usage errors exit 1 with click's usage text (2 means
"changes present" to CI), global options work before or after the subcommand, a closed pipe
ends quietly, ``-C`` to a missing directory names it, and commands that only read the state need
no credentials."""

from __future__ import annotations

import json
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from click.testing import CliRunner

from reconciler.cli.main import cli, hoist_global_options
from tests.cli.conftest import REPO, Workspace


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, list(args), catch_exceptions=False, prog_name="reconciler")
    return result.exit_code, result.stdout, result.stderr


@pytest.mark.parametrize("args", [
    ["plan", "--bogus"],
    ["plan", "--format", "yaml"],
    ["apply", "--parallelism", "0"],
    ["no-such-command"],
    ["plan", "--detailed-exitcode", "--no-colour"],
])
def test_usage_errors_exit_1_with_the_usage_text(ws: Workspace, args: list[str]) -> None:
    code, _, err = run("-C", str(ws.root), *args)
    assert code == 1, err
    assert "Usage: reconciler" in err and "Error: " in err and "Traceback" not in err


def test_global_options_after_the_subcommand(ws: Workspace, tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    code, out, err = run("plan", "--detailed-exitcode", "--no-color", "-C", str(ws.root))
    assert code == 2, err  # changes present: the three manifests are not applied yet
    assert "3 to create" in out and "\x1b[" not in out
    code, out, err = run("validate", f"-C{ws.root}", "--debug")
    assert code == 0 and "Valid: 3 resources" in out, err
    code, _, err = run("-C", str(elsewhere), "validate", "-C", str(ws.root))  # the last -C wins, as in git
    assert code == 0, err
    assert hoist_global_options(["plan", "--target", "x", "--no-color", "--", "--debug"]) == [
        "--no-color", "plan", "--target", "x", "--", "--debug"]


def test_a_missing_directory_is_named(tmp_path: Path) -> None:
    code, _, err = run("-C", str(tmp_path / "nope"), "plan")
    assert code == 1
    assert f"Directory '{tmp_path / 'nope'}' does not exist" in err


def test_a_closed_pipe_ends_quietly(ws: Workspace) -> None:
    """``reconciler state list | head -1``: the reader goes away, reconciler stops without a word."""
    state = ws.root / ".reconciler" / "state.json"
    state.parent.mkdir()
    resources = {
        f"memory.Folder/f{i:05d}": {"provider": "memory", "kind": "Folder", "remote_id": f"folder-{i}",
                                     "applied_spec": {"name": f"F{i}"}, "fingerprint": "x" * 32}
        for i in range(6000)
    }
    state.write_text(json.dumps({"format_version": 1, "lineage": str(uuid.uuid4()), "serial": 1, "resources": resources}))
    listing = subprocess.Popen([sys.executable, "-m", "reconciler", "-C", str(ws.root), "state", "list"],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=REPO)
    assert listing.stdout is not None and listing.stderr is not None
    first = listing.stdout.readline()
    listing.stdout.close()  # like head -1
    err = listing.stderr.read().decode()
    assert listing.wait(timeout=60) == 0, err
    assert first.startswith(b"memory.Folder/f00000")
    assert err == ""


def test_reading_the_state_needs_no_credentials(ws: Workspace) -> None:
    ws.configure("credentials: {token: \"${env:RECONCILER_TEST_UNSET_TOKEN}\"}")
    assert ws.run("state", "list").code == 0
    assert ws.run("plan").code == 1  # talking to the API does need them
