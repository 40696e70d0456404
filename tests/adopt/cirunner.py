"""A small local runner for the CI examples: runs a GitHub Actions job's steps or a GitLab CI
job's scripts for real, in order, with bash, in a checkout on disk.

It is deliberately strict, so the examples stay runnable outside the CI service:

- GitHub: ``${{ ... }}`` may appear only in ``env:``, ``with:`` and ``if:`` values (never inside
  ``run:``); expressions are plain context paths (``secrets.X``, ``github.event.pull_request.number``,
  ``steps.ID.outputs.NAME``), looked up in the context the test gives (missing: ""). Step ``if:``
  supports ``always()``, ``success()`` and ``failure()``. ``uses:`` is limited to
  ``actions/checkout`` and ``actions/setup-python`` (no-ops: the checkout is already there) and
  ``actions/upload-artifact`` / ``actions/download-artifact`` (a local artifact directory).
  ``GITHUB_OUTPUT``, ``GITHUB_ENV`` and ``GITHUB_STEP_SUMMARY`` work as on GitHub.
- GitLab: global and job ``variables``, ``default.before_script``, ``script`` (one bash session,
  ``set -eo pipefail``, stopping at the first failing line, as the runner does),
  ``after_script`` (its own session; its result does not change the job's), and ``artifacts.paths``
  copied to the artifact directory under the job's name.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

EXPRESSION = re.compile(r"\$\{\{\s*([^}]*?)\s*\}\}")
KNOWN_ACTIONS = (
    "actions/checkout@",
    "actions/setup-python@",
    "actions/upload-artifact@",
    "actions/download-artifact@",
)
PASS_THROUGH = ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR", "PYTHONPATH", "VIRTUAL_ENV", "SYSTEMROOT")


@dataclass
class StepResult:
    name: str
    code: int
    output: str = ""
    skipped: bool = False


@dataclass
class JobResult:
    steps: list[StepResult] = field(default_factory=list)
    outputs: dict[str, dict[str, str]] = field(default_factory=dict)
    summary: str = ""

    @property
    def failed(self) -> StepResult | None:
        return next((s for s in self.steps if not s.skipped and s.code != 0), None)

    @property
    def code(self) -> int:
        failed = self.failed
        return failed.code if failed else 0

    @property
    def output(self) -> str:
        return "\n".join(
            f"--- {s.name} (exit {s.code}{', skipped' if s.skipped else ''})\n{s.output}" for s in self.steps
        )


def load_workflow(path: Path) -> dict[str, Any]:
    """A workflow file as data (PyYAML reads the ``on:`` key as True; put it back)."""
    data: dict[Any, Any] = yaml.safe_load(path.read_text(encoding="utf-8"))
    if True in data:
        data["on"] = data.pop(True)
    return data


def lookup(context: Mapping[str, Any], expression: str) -> str:
    value: Any = context
    for part in expression.split("."):
        if not isinstance(value, Mapping) or part not in value:
            return ""
        value = value[part]
    if isinstance(value, bool):
        return "true" if value else "false"
    return "" if value is None else str(value)


def evaluate(text: Any, context: Mapping[str, Any]) -> str:
    if not isinstance(text, str):
        return "true" if text is True else "false" if text is False else str(text)
    return EXPRESSION.sub(lambda m: lookup(context, m.group(1)), text)


def _base_env(extra: Mapping[str, str]) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k in PASS_THROUGH}
    env.update(extra)
    return env


def _read_pairs(path: Path) -> dict[str, str]:
    """``name=value`` lines (and ``name<<EOF`` blocks) of GITHUB_OUTPUT / GITHUB_ENV."""
    out: dict[str, str] = {}
    lines = path.read_text(encoding="utf-8").splitlines() if path.exists() else []
    i = 0
    while i < len(lines):
        line = lines[i]
        if "<<" in line and "=" not in line.split("<<", 1)[0]:
            name, marker = line.split("<<", 1)
            block = []
            i += 1
            while i < len(lines) and lines[i] != marker:
                block.append(lines[i])
                i += 1
            out[name] = "\n".join(block)
        elif "=" in line:
            name, value = line.split("=", 1)
            out[name] = value
        i += 1
    return out


class GitHubRunner:
    """Runs one job of a workflow file in ``workspace`` (see the module docstring)."""

    def __init__(
        self, workspace: Path, artifacts: Path, context: Mapping[str, Any], env: Mapping[str, str]
    ) -> None:
        self.workspace = workspace
        self.artifacts = artifacts
        self.context = dict(context)
        self.env = dict(env)

    def run(self, workflow: Path, job_id: str) -> JobResult:
        data = load_workflow(workflow)
        job = data["jobs"][job_id]
        result = JobResult()
        context = {
            **self.context,
            "steps": {},
            "runner": {"temp": str(self.workspace.parent / "runner-temp")},
        }
        Path(context["runner"]["temp"]).mkdir(exist_ok=True)
        job_env = {k: evaluate(v, context) for k, v in {**data.get("env", {}), **job.get("env", {})}.items()}
        shell = job.get("defaults", {}).get("run", {}).get("shell", "bash")
        assert shell == "bash", f"{workflow.name}: only bash steps are supported here"
        with tempfile.TemporaryDirectory() as tmp:
            files = {name: Path(tmp) / name for name in ("output", "env", "summary")}
            for index, step in enumerate(job["steps"]):
                name = step.get("name") or step.get("uses") or f"step {index}"
                condition = str(step.get("if", "success()")).strip()
                failed = result.failed is not None
                wanted = {"always()": True, "success()": not failed, "failure()": failed}.get(condition)
                assert wanted is not None, f"{workflow.name}: unsupported if: {condition}"
                if not wanted:
                    result.steps.append(StepResult(name, 0, skipped=True))
                    continue
                files["output"].write_text("", encoding="utf-8")
                files["env"].write_text("", encoding="utf-8")
                files["summary"].touch()
                step_env = {k: evaluate(v, context) for k, v in step.get("env", {}).items()}
                env = {**job_env, **step_env}
                if "uses" in step:
                    code, output = self._uses(step, context, files["output"])
                else:
                    code, output = self._run(step["run"], env, files)
                outputs = _read_pairs(files["output"])
                if step.get("id"):
                    context["steps"][step["id"]] = {
                        "outputs": outputs,
                        "outcome": "success" if code == 0 else "failure",
                    }
                    result.outputs[step["id"]] = outputs
                job_env.update(_read_pairs(files["env"]))
                result.steps.append(StepResult(name, code, output))
            result.summary = files["summary"].read_text(encoding="utf-8")
        return result

    def _run(self, script: str, env: Mapping[str, str], files: Mapping[str, Path]) -> tuple[int, str]:
        assert "${{" not in script, "expressions belong in env:, not inside run:"
        full = _base_env(
            {
                **env,
                **self.env,
                "CI": "true",
                "GITHUB_ACTIONS": "true",
                "GITHUB_WORKSPACE": str(self.workspace),
                "GITHUB_OUTPUT": str(files["output"]),
                "GITHUB_ENV": str(files["env"]),
                "GITHUB_STEP_SUMMARY": str(files["summary"]),
                "RUNNER_TEMP": str(self.workspace.parent / "runner-temp"),
            }
        )
        done = subprocess.run(
            ["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", script],
            cwd=self.workspace,
            env=full,
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        return done.returncode, done.stdout + done.stderr

    def _uses(self, step: Mapping[str, Any], context: Mapping[str, Any], outputs: Path) -> tuple[int, str]:
        action = str(step["uses"])
        assert action.startswith(KNOWN_ACTIONS), f"action {action} is not known to the local runner"
        inputs = {k: evaluate(v, context) for k, v in (step.get("with") or {}).items()}
        if action.startswith(("actions/checkout@", "actions/setup-python@")):
            return 0, f"{action}: nothing to do locally"
        store = self.artifacts / inputs["name"]
        if action.startswith("actions/upload-artifact@"):
            source = self.workspace / inputs["path"]
            if store.exists():
                shutil.rmtree(store)
            if source.is_dir():
                shutil.copytree(source, store)
                # like actions/upload-artifact@v4's outputs (the address is the local copy's)
                outputs.write_text(f"artifact-id=1\nartifact-url=file://{store}\n", encoding="utf-8")
                return 0, f"uploaded {inputs['name']}"
            return 0, f"warning: nothing to upload at {inputs['path']}"
        if not inputs.get("run-id"):
            return 1, "download-artifact: no run-id"
        if not store.is_dir():
            return 1, f"artifact {inputs['name']} not found"
        shutil.copytree(store, self.workspace / inputs["path"], dirs_exist_ok=True)
        return 0, f"downloaded {inputs['name']} from run {inputs['run-id']}"


class GitLabRunner:
    """Runs one job of a ``.gitlab-ci.yml`` in ``workspace`` (see the module docstring)."""

    def __init__(self, workspace: Path, artifacts: Path, variables: Mapping[str, str]) -> None:
        self.workspace = workspace
        self.artifacts = artifacts
        self.variables = dict(variables)

    def run(self, config: Path, job_id: str) -> JobResult:
        data = yaml.safe_load(config.read_text(encoding="utf-8"))
        job = data[job_id]
        env = _base_env(
            {
                **{k: str(v) for k, v in data.get("variables", {}).items()},
                **{k: str(v) for k, v in job.get("variables", {}).items()},
                **self.variables,
                "CI": "true",
                "GITLAB_CI": "true",
                "CI_PROJECT_DIR": str(self.workspace),
                "CI_JOB_NAME": job_id,
            }
        )
        before = job.get("before_script", data.get("default", {}).get("before_script", []))
        result = JobResult()
        code, output = self._session([*before, *job["script"]], env)
        result.steps.append(StepResult("script", code, output))
        if job.get("after_script"):
            after_code, after_output = self._session(job["after_script"], env)
            result.steps.append(StepResult("after_script", 0, f"(exit {after_code})\n{after_output}"))
        artifacts = job.get("artifacts", {})
        when = artifacts.get("when", "on_success")
        if artifacts.get("paths") and (when == "always" or (when == "on_success") == (code == 0)):
            store = self.artifacts / job_id
            if store.exists():
                shutil.rmtree(store)
            for path in artifacts["paths"]:
                source = self.workspace / path
                if source.is_dir():
                    shutil.copytree(source, store / path, dirs_exist_ok=True)
        return result

    def _session(self, lines: list[str], env: Mapping[str, str]) -> tuple[int, str]:
        # each line runs in the same shell; the first failing line ends the session
        script = "set -eo pipefail\n" + "\n".join(lines) + "\n"
        done = subprocess.run(
            ["bash", "--noprofile", "--norc", "-c", script],
            cwd=self.workspace,
            env=dict(env),
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        return done.returncode, done.stdout + done.stderr
