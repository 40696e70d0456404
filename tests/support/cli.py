"""Running the ``reconciler`` command line in tests: in-process through click's CliRunner (fast),
or as a real ``python -m reconciler`` process (for SIGKILL, locks and concurrency)."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from click.testing import CliRunner

from reconciler.cli.main import cli

REPO = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class Result:
    """One CLI run: exit code, stdout and stderr."""

    code: int
    out: str
    err: str

    @property
    def text(self) -> str:
        return self.out + self.err

    def __str__(self) -> str:  # shown by failing asserts
        return f"exit {self.code}\n--- stdout ---\n{self.out}\n--- stderr ---\n{self.err}"


def invoke(root: Path, *args: str, env: Mapping[str, str] | None = None) -> Result:
    """``reconciler -C ROOT ARGS`` in-process."""
    result = CliRunner().invoke(cli, ["-C", str(root), *args], env=dict(env or {}), catch_exceptions=False)
    return Result(result.exit_code, result.stdout, result.stderr)


def spawn(root: Path, *args: str, env: Mapping[str, str] | None = None) -> subprocess.Popen[str]:
    """``python -m reconciler -C ROOT ARGS`` as its own process (CI mode, repo importable)."""
    full_env = {**os.environ, "PYTHONPATH": str(REPO), "CI": "true", **(env or {})}
    return subprocess.Popen(
        [sys.executable, "-m", "reconciler", "-C", str(root), *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=full_env,
    )
