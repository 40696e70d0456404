"""Fixtures for the end-to-end tests of ``examples/<api>``.

- :class:`ExampleWorkspace`: a copy of an example directory in ``tmp_path`` whose
  ``reconciler.yaml`` is rewritten the production way: ``endpoint: "${env:...}"`` and
  ``credentials: {...: "${env:...}"}``, the variables pointing at a :class:`SandboxServer` on
  127.0.0.1 (port 0) and holding the emulator's demo credentials. It runs the real CLI
  in-process (click's CliRunner, fast) or as real processes (``python -m reconciler``).
- :class:`Sandbox`: the sandbox's control endpoints over HTTP (faults, counters, seeds and
  each emulator's ``/_sandbox/<api>/<action>`` hooks).
"""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import requests
import yaml

from reconciler.sandbox import SandboxServer, create_sandbox
from tests.support.cli import REPO, Result, invoke, spawn

EXAMPLES = REPO / "examples"
TIMEOUT = 10.0


@dataclass
class ExampleWorkspace:
    """A copy of ``examples/<name>`` wired to a sandbox through environment variables."""

    root: Path
    env: dict[str, str] = field(repr=False)  # holds the (demo) credentials

    def run(self, *args: str) -> Result:
        """The CLI in-process (CliRunner), with this workspace's environment."""
        return invoke(self.root, *args, env=self.env)

    def spawn(self, *args: str) -> subprocess.Popen[str]:
        """The CLI as a separate process (``python -m reconciler``)."""
        return spawn(self.root, *args, env=self.env)

    def edit(self, file: str, old: str, new: str) -> None:
        """Change one manifest the way a user would (exactly one occurrence of ``old``)."""
        path = self.root / file
        text = path.read_text(encoding="utf-8")
        assert text.count(old) == 1, f"{old!r} occurs {text.count(old)} times in {path}"
        path.write_text(text.replace(old, new), encoding="utf-8")

    def state_of(self, address: str) -> dict[str, Any]:
        """What the state records for ``address`` (``reconciler state show``)."""
        shown = self.run("state", "show", address)
        assert shown.code == 0, shown
        data: dict[str, Any] = json.loads(shown.out)
        return data

    def remote_id(self, address: str) -> str:
        return str(self.state_of(address)["remote_id"])


def copy_example(
    name: str,
    dest: Path,
    server_url: str,
    credentials: Mapping[str, str],
    extra_env: Mapping[str, str] | None = None,
    provider: str | None = None,
) -> ExampleWorkspace:
    """Copy ``examples/<name>`` to ``dest`` and point its provider (``provider``, by default
    ``name``) at ``server_url/<provider>``.

    The example's own file must use ``endpoint: sandbox`` (what the README's quick start runs);
    every other provider setting is kept. Endpoint and credentials become ``${env:...}``.
    """
    shutil.copytree(EXAMPLES / name, dest, ignore=shutil.ignore_patterns(".reconciler"))
    config_path = dest / "reconciler.yaml"
    config: dict[str, Any] = yaml.safe_load(config_path.read_text(encoding="utf-8"))
    provider = provider or name
    block: dict[str, Any] = config["providers"][provider]
    assert block.get("endpoint") == "sandbox", f"examples/{name}/reconciler.yaml no longer uses the sandbox"
    prefix = f"RECONCILER_E2E_{provider.upper()}"
    env = {
        f"{prefix}_ENDPOINT": f"{server_url}/{provider}",
        "CI": "true",
        "NO_COLOR": "1",
        **dict(extra_env or {}),
    }
    block["endpoint"] = f"${{env:{prefix}_ENDPOINT}}"
    block["credentials"] = {}
    for key, value in credentials.items():
        variable = f"{prefix}_{key.upper()}"
        block["credentials"][key] = f"${{env:{variable}}}"
        env[variable] = value
    config_path.write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
    return ExampleWorkspace(dest, env)


@dataclass
class Sandbox:
    """Control endpoints of a running sandbox (``/_sandbox/...``)."""

    url: str
    session: requests.Session = field(default_factory=requests.Session)

    def control(self, method: str, path: str, body: Any = None) -> Any:
        response = self.session.request(method, f"{self.url}/_sandbox/{path}", json=body, timeout=TIMEOUT)
        assert response.status_code == 200, (
            f"{method} /_sandbox/{path} -> {response.status_code}: {response.text}"
        )
        return response.json()

    def faults(self, **settings: Any) -> Any:
        return self.control("POST", "faults", settings)

    def counters(self) -> dict[str, int]:
        routes: dict[str, int] = self.control("GET", "counters")["routes"]
        return routes

    def clear_counters(self) -> None:
        self.control("DELETE", "counters")


def serve(names: list[str]) -> Iterator[SandboxServer]:
    with SandboxServer(create_sandbox(names=names)) as server:
        yield server


@pytest.fixture
def mm_server() -> Iterator[SandboxServer]:
    yield from serve(["mediamath"])


@pytest.fixture
def lr_server() -> Iterator[SandboxServer]:
    yield from serve(["liveramp"])


class MediaMathUser:
    """A logged-in session on the MediaMath emulator's v2.0 API (XML), as a console user would
    have: ``base`` is the API root, every call carries the api key. A 429 (the emulator enforces
    MediaMath's rate limit, which a test's reads share with reconciler's) is waited out and retried
    as the vendor asks (``Retry-After``), as any client of the real API must."""

    def __init__(self, url: str, user: str = "demo", password: str = "demo-password") -> None:
        from requests.adapters import HTTPAdapter
        from urllib3.util.retry import Retry

        from reconciler.sandbox.mediamath.app import MediaMathEmulator

        self.base = f"{url}/mediamath/api/v2.0"
        self.session = requests.Session()
        retry = Retry(total=8, status_forcelist=(429,), allowed_methods=None, backoff_factor=0.2,
                      respect_retry_after_header=True, raise_on_status=False)
        self.session.mount("http://", HTTPAdapter(max_retries=retry))
        self.session.mount("https://", HTTPAdapter(max_retries=retry))
        self.session.params = {"api_key": MediaMathEmulator.demo_credentials["api_key"]}  # type: ignore[assignment]
        login = self.session.post(f"{self.base}/login", data={"user": user, "password": password}, timeout=TIMEOUT)
        assert login.status_code == 200, login.text


# -- the MediaMath example on its own sandbox (a test file may define its own ``ws``/``applied``) --
@pytest.fixture
def mm(mm_server: SandboxServer) -> Sandbox:
    """The MediaMath sandbox's control API and vendor calls (as the second user, jdoe, too)."""
    return Sandbox(mm_server.url)


@pytest.fixture
def ws(mm_server: SandboxServer, tmp_path: Path) -> ExampleWorkspace:
    """A copy of examples/mediamath pointed at ``mm_server`` with the demo credentials."""
    from reconciler.sandbox.mediamath.app import MediaMathEmulator

    return copy_example("mediamath", tmp_path / "mediamath", mm_server.url, dict(MediaMathEmulator.demo_credentials))


@pytest.fixture
def applied(ws: ExampleWorkspace) -> ExampleWorkspace:
    """``ws`` applied once (exit 0)."""
    result = ws.run("apply", "--auto-approve")
    assert result.code == 0, result
    return ws
