"""Fixtures for adoption tests: workspaces on disk, the CLI in-process (with ``export`` and
``state mv`` registered), the sandbox on 127.0.0.1, and helpers reading state and plans."""

from __future__ import annotations

import json
import shutil
import textwrap
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import requests

import reconciler.cli.adopt  # noqa: F401 - registers 'export' and 'state mv'
from reconciler.sandbox import SandboxServer, create_sandbox
from reconciler.state.base import StateSnapshot
from reconciler.state.local import LocalBackend
from tests.support.cli import REPO, Result, invoke
from tests.support.memory_provider import MemoryProvider

__all__ = ["REPO", "Result"]  # re-exported to the test modules

MEMORY_WORKSPACE = """\
apiVersion: reconciler/v1
kind: Workspace
providers:
  memory:
    endpoint: memory://local
    factory: "tests.support.memory_provider:MemoryProvider"
"""

SANDBOX_ENV = {
    "MM_USERNAME": "demo",
    "MM_PASSWORD": "demo-password",
    "MM_API_KEY": "demo-api-key",
    "LIVERAMP_CLIENT_ID": "demo-client",
    "LIVERAMP_CLIENT_SECRET": "demo-secret",
    "MICS_API_TOKEN": "demo-token",
    "NO_COLOR": "1",
}
AUTH_ROUTES = {"login", "op_token"}  # logging in is not a write


def sandbox_workspace(url: str, *, mics_writes: bool = False) -> str:
    """A reconciler.yaml pointing every provider at the sandbox on ``url``."""
    return textwrap.dedent(
        f"""\
        apiVersion: reconciler/v1
        kind: Workspace
        providers:
          mediamath:
            endpoint: {url}/mediamath
            credentials: {{username: "${{env:MM_USERNAME}}", password: "${{env:MM_PASSWORD}}", api_key: "${{env:MM_API_KEY}}"}}
          liveramp:
            endpoint: {url}/liveramp
            credentials: {{client_id: "${{env:LIVERAMP_CLIENT_ID}}", client_secret: "${{env:LIVERAMP_CLIENT_SECRET}}"}}
            token_cache_dir: .reconciler/tokens
          mediarithmics:
            endpoint: {url}/mediarithmics
            credentials: {{token: "${{env:MICS_API_TOKEN}}"}}
            organisation_id: "1863"
        """
    ) + ("    writes: enabled\n" if mics_writes else "")


@dataclass
class Workspace:
    root: Path
    env: dict[str, str] = field(default_factory=dict)

    def write(self, name: str, text: str) -> Path:
        path = self.root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text), encoding="utf-8")
        return path

    def run(self, *args: str) -> Result:
        """The CLI in-process (CliRunner), as ``reconciler -C ROOT ARGS``."""
        return invoke(self.root, *args, env=self.env)

    def ok(self, *args: str) -> Result:
        result = self.run(*args)
        assert result.code == 0, result.text
        return result

    def plan_json(self, *args: str) -> dict[str, Any]:
        data: dict[str, Any] = json.loads(self.ok("plan", "--format", "json", *args).out)
        return data

    def snapshot(self) -> StateSnapshot:
        return LocalBackend(self.root / ".reconciler" / "state.json").read()

    def backend(self) -> LocalBackend:
        return LocalBackend(self.root / ".reconciler" / "state.json")


def actions(plan: dict[str, Any]) -> dict[str, str]:
    """address -> reconciler action of a JSON plan."""
    return {
        c["address"]: c.get("reconciler_action") or "+".join(c["change"]["actions"])
        for c in plan["resource_changes"]
    }


def changed(plan: dict[str, Any]) -> dict[str, str]:
    """Only the resources whose action is not a no-op."""
    return {a: act for a, act in actions(plan).items() if act not in ("no-op",)}


@pytest.fixture
def memory_ws(tmp_path: Path) -> Workspace:
    ws = Workspace(tmp_path / "ws", {"NO_COLOR": "1"})
    ws.root.mkdir()
    ws.write("reconciler.yaml", MEMORY_WORKSPACE)
    return ws


@pytest.fixture
def remote(memory_ws: Workspace) -> MemoryProvider:
    """The memory provider's 'live' side for ``memory_ws`` (objects made by hand)."""
    return MemoryProvider.at(memory_ws.root / ".memory-remote.json")


@pytest.fixture
def sandbox() -> Iterator[SandboxServer]:
    with SandboxServer(create_sandbox()) as server:
        yield server


def new_sandbox_workspace(root: Path, server: SandboxServer) -> Workspace:
    """An empty workspace at ``root`` with every provider pointed at ``server``."""
    ws = Workspace(root, dict(SANDBOX_ENV))
    ws.root.mkdir()
    ws.write("reconciler.yaml", sandbox_workspace(server.url))
    return ws


@pytest.fixture
def sandbox_ws(tmp_path: Path, sandbox: SandboxServer) -> Workspace:
    return new_sandbox_workspace(tmp_path / "sbx", sandbox)


def seed(server: SandboxServer, api: str, name: str | None, data: Any = None) -> Any:
    response = requests.post(
        f"{server.url}/_sandbox/seed", json={"api": api, "name": name, "data": data}, timeout=10
    )
    assert response.status_code == 200, response.text
    return response.json()


def writes(server: SandboxServer) -> dict[str, int]:
    """Requests other than GET (and logins) the sandbox has answered, by route."""
    routes: dict[str, int] = requests.get(f"{server.url}/_sandbox/counters", timeout=10).json()["routes"]
    out = {}
    for key, count in routes.items():
        _api, method, route = key.split(" ", 2)
        if method != "GET" and route not in AUTH_ROUTES:
            out[key] = count
    return out


def applied_liveramp_example(sandbox: SandboxServer, root: Path) -> Workspace:
    """A workspace at ``root`` on the sandbox with ``examples/liveramp``'s manifests applied."""
    origin = Workspace(root, dict(SANDBOX_ENV))
    origin.root.mkdir()
    origin.write("reconciler.yaml", sandbox_workspace(sandbox.url))
    for path in sorted((REPO / "examples" / "liveramp").glob("0*.yaml")):
        shutil.copy(path, origin.root / path.name)
    origin.ok("apply", "--auto-approve")
    return origin
