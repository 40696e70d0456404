"""Hostile manifest trees are contained (issue 16.4).

Each case runs ``validate`` and ``plan`` as a real process, under a time limit and an
address-space limit (so a regression fails the test instead of hanging or exhausting the
machine): exit 1, an ``Error:`` naming the path, never a traceback nor "internal error".
Cases: a symbolic link to ``/dev/zero`` named ``*.yaml`` among the manifests, a FIFO named
``*.yaml`` (would block a plain read for ever), a loop of symbolic links, the same three named
explicitly on the command line, a file over the size limit, and a YAML alias bomb whose keys are
long (few values, but each field path built for them is long), a dangling link (named with where
it points). A symbolic link to an ordinary manifest is still read, and named by the link.
"""

from __future__ import annotations

import os
import resource
import subprocess
import sys
from pathlib import Path

import pytest

from reconciler.manifest import yamlsource
from tests.cli.conftest import Workspace
from tests.support.cli import REPO

MEMORY_LIMIT = 2 * 1024**3  # bytes of address space for the CLI process
TIME_LIMIT = 60


def limited() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_LIMIT, MEMORY_LIMIT))


def run(ws: Workspace, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(REPO), "CI": "true", "NO_COLOR": "1"}
    return subprocess.run(
        [sys.executable, "-m", "reconciler", "-C", str(ws.root), *args],
        capture_output=True, text=True, env=env, timeout=TIME_LIMIT, preexec_fn=limited, check=False,
    )


def refused(ws: Workspace, expected: str, *args: str) -> None:
    for command in ("validate", "plan"):
        result = run(ws, command, *args)
        text = result.stdout + result.stderr
        assert result.returncode == 1, text
        assert result.stderr.startswith("Error: "), text
        assert expected in result.stderr, text
        assert "Traceback" not in text and "internal error" not in text, text


def test_a_link_to_dev_zero_is_refused_by_path(ws: Workspace) -> None:
    (ws.root / "manifests" / "zero.yaml").symlink_to("/dev/zero")
    refused(ws, "manifests/zero.yaml:1: not a regular file (a character device): only regular files are read")


def test_a_fifo_never_hangs(ws: Workspace) -> None:
    os.mkfifo(ws.root / "manifests" / "pipe.yaml")
    refused(ws, "manifests/pipe.yaml:1: not a regular file (a FIFO): only regular files are read")


def test_a_loop_of_symbolic_links_is_refused_by_path(ws: Workspace) -> None:
    (ws.root / "manifests" / "a.yaml").symlink_to("b.yaml")
    (ws.root / "manifests" / "b.yaml").symlink_to("a.yaml")
    refused(ws, "manifests/a.yaml:1: cannot read file: a loop of symbolic links")


@pytest.mark.parametrize("kind", ["fifo", "zero", "loop"])
def test_the_same_named_on_the_command_line(ws: Workspace, kind: str) -> None:
    target = ws.root / "odd.yaml"
    if kind == "fifo":
        os.mkfifo(target)
    elif kind == "zero":
        target.symlink_to("/dev/zero")
    else:
        target.symlink_to("odd.yaml")
    expected = {"fifo": "odd.yaml:1: not a regular file (a FIFO)", "zero": "odd.yaml:1: not a regular file (a character device)",
                "loop": "odd.yaml: cannot read: a loop of symbolic links"}[kind]
    refused(ws, expected, str(target))


def test_a_file_over_the_size_limit(ws: Workspace, tmp_path: Path) -> None:
    big = tmp_path / "big.yaml"
    big.write_bytes(b"# padding\n" * 100)
    with pytest.raises(Exception) as info:
        yamlsource.read_text(big, "big.yaml", limit=500)
    assert str(info.value) == "big.yaml:1: file too large (1000 bytes; the limit is 500)"


def alias_bomb(key_length: int, fan_out: int, levels: int) -> str:
    """Few values (fan_out ** levels), but every path carries ``levels`` keys of ``key_length``."""
    lines = ["apiVersion: memory/v1", "kind: Folder", "metadata: {name: bomb}", "x-bomb:", "  l0: &l0 {leaf: 1}"]
    for level in range(1, levels + 1):
        lines.append(f"  l{level}: &l{level}")
        for i in range(fan_out):  # explicit keys: YAML caps implicit ones at 1,024 characters
            lines += [f"    ? {chr(97 + i) * key_length}", f"    : *l{level - 1}"]
    lines.append(f"spec: *l{levels}")
    return "\n".join(lines) + "\n"


def test_an_alias_bomb_with_long_keys_is_bounded_by_what_is_built(ws: Workspace) -> None:
    # 8**6 = 262,144 values (under the node limit) whose paths are 6 x 4,000 characters: ~6 GB
    ws.write("manifests/bomb.yaml", alias_bomb(key_length=4000, fan_out=8, levels=6))
    refused(ws, "manifests/bomb.yaml:")
    assert "file too large once YAML aliases are expanded" in run(ws, "validate").stderr


def test_a_link_to_an_ordinary_manifest_is_read(ws: Workspace, tmp_path: Path) -> None:
    elsewhere = tmp_path / "shared.yaml"
    elsewhere.write_text("apiVersion: memory/v1\nkind: Folder\nmetadata: {name: shared}\nspec: {name: 7}\n")
    (ws.root / "manifests" / "linked.yaml").symlink_to(elsewhere)
    result = run(ws, "validate")
    assert result.returncode == 1 and "manifests/linked.yaml:4: spec.name: 7 is not of type 'string'" in result.stderr, result.stderr


def test_a_dangling_link_names_where_it_points(ws: Workspace, tmp_path: Path) -> None:
    (ws.root / "manifests" / "gone.yaml").symlink_to(tmp_path / "planted.yaml")
    refused(ws, f"manifests/gone.yaml:1: cannot read file: no such file or directory (a symbolic link to "
                f"{tmp_path / 'planted.yaml'}, which does not exist)")
