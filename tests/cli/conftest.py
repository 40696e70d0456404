"""Fixtures for command-line tests: a workspace on disk using the test ``memory`` provider
(``tests/support/memory_provider.py``), and two ways to run the CLI: in-process through click's
CliRunner (fast) and as a real subprocess (for SIGKILL and concurrency tests)."""

from __future__ import annotations

import json
import subprocess
import textwrap
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.adopt.conftest import sandbox, sandbox_ws  # noqa: F401 - fixtures of tests/cli/test_cli_validate_semantics.py
from tests.support.cli import REPO, Result, invoke, spawn

__all__ = ["REPO", "Result", "Workspace"]

WORKSPACE_YAML = """\
apiVersion: reconciler/v1
kind: Workspace
providers:
  memory:
    endpoint: memory://local
    factory: "tests.support.memory_provider:MemoryProvider"
{extra}
"""

MANIFESTS = """\
apiVersion: memory/v1
kind: Folder
metadata:
  name: docs
spec:
  name: Documents
  color: blue
  size: 10
---
apiVersion: memory/v1
kind: Item
metadata:
  name: report
spec:
  name: Q3 report
  folder_id: {ref: Folder/docs}
  price: 12.5
  tags: [finance]
---
apiVersion: memory/v1
kind: Item
metadata:
  name: memo
spec:
  name: Memo
  folder_id: {ref: Folder/docs}
  price: 1
"""


@dataclass
class Workspace:
    root: Path

    def write(self, name: str, text: str) -> Path:
        path = self.root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text), encoding="utf-8")
        return path

    def configure(self, extra: str = "") -> None:
        indented = textwrap.indent(textwrap.dedent(extra), "    ") if extra else ""
        self.write("reconciler.yaml", WORKSPACE_YAML.format(extra=indented))

    def run(self, *args: str, env: dict[str, str] | None = None) -> Result:
        """The CLI in-process (CliRunner)."""
        return invoke(self.root, *args, env=env)

    def spawn(self, *args: str, env: dict[str, str] | None = None) -> subprocess.Popen[str]:
        """The CLI as a real process (``python -m reconciler``)."""
        return spawn(self.root, *args, env=env)

    def remote(self) -> dict[str, dict[str, dict[str, object]]]:
        """The memory provider's "live" objects, by kind and id."""
        path = self.root / ".memory-remote.json"
        if not path.exists():
            return {}
        data = json.loads(path.read_text())
        objects: dict[str, dict[str, dict[str, object]]] = data.get("objects", data)
        return objects


@pytest.fixture
def ws(tmp_path: Path) -> Workspace:
    workspace = Workspace(tmp_path / "ws")
    workspace.root.mkdir()
    workspace.configure()
    workspace.write("manifests/main.yaml", MANIFESTS)
    return workspace
