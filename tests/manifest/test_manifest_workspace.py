"""The workspace file reconciler.yaml.

Covers: find_workspace from nested directories (and None without one), defaults without a
file, provider settings (credentials interpolated from env, other keys as options, factory,
location), credentials never shown by repr/str, variables from env, state defaults merged,
drift ignore rules and their glob matching, paths resolved against the root,
resolve_credentials=False for runs without secrets, and invalid files (empty, several
documents, bad endpoint, ${var:} inside variables, missing credential env var).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from reconciler.errors import InterpolationError, WorkspaceError
from reconciler.manifest import find_workspace, load_workspace_config

WORKSPACE = """\
apiVersion: reconciler/v1
kind: Workspace
providers:
  mediamath:
    endpoint: sandbox
    credentials: {username: "${env:MM_USERNAME}", password: "${env:MM_PASSWORD}"}
    rate_limit: 40
    writes: ${var:writes}
  liveramp:
    endpoint: https://api.habu.com
    factory: tests.fake:FakeProvider
state: {path: .reconciler/other.json}
variables: {region: REGION_US, writes: enabled, owner: "${env:USER_NAME}"}
drift:
  ignore:
    - {address: "mediamath.Strategy/*", fields: [bid_aggressiveness]}
    - {address: "*", fields: [updated_on, version]}
paths: [manifests/]
"""
ENV = {"MM_USERNAME": "robot", "MM_PASSWORD": "s3cr3t-pw", "USER_NAME": "ops"}


def write(root: Path, text: str) -> None:
    (root / "reconciler.yaml").write_text(text, encoding="utf-8")


def test_find_workspace(tmp_path: Path) -> None:
    assert find_workspace(tmp_path) is None
    write(tmp_path, WORKSPACE)
    deep = tmp_path / "a" / "b"
    deep.mkdir(parents=True)
    assert find_workspace(deep) == (tmp_path / "reconciler.yaml").resolve()
    assert find_workspace(tmp_path) == (tmp_path / "reconciler.yaml").resolve()


def test_defaults_without_a_file(tmp_path: Path) -> None:
    config = load_workspace_config(tmp_path, {})
    assert config.file is None
    assert config.root == tmp_path.resolve()
    assert dict(config.providers) == {}
    assert dict(config.state) == {"backend": "local", "path": ".reconciler/state.json"}
    assert config.paths == (tmp_path.resolve(),)
    assert config.drift_ignore == ()


def test_full_file(tmp_path: Path) -> None:
    write(tmp_path, WORKSPACE)
    config = load_workspace_config(tmp_path, ENV)
    assert config.file == tmp_path.resolve() / "reconciler.yaml"
    mm = config.providers["mediamath"]
    assert mm.endpoint == "sandbox"
    assert dict(mm.credentials) == {"password": "s3cr3t-pw", "username": "robot"}
    assert dict(mm.options) == {"rate_limit": 40, "writes": "enabled"}
    assert mm.factory is None
    assert str(mm.location) == "reconciler.yaml:4"
    lr = config.providers["liveramp"]
    assert (lr.endpoint, lr.factory, dict(lr.credentials), dict(lr.options)) == (
        "https://api.habu.com",
        "tests.fake:FakeProvider",
        {},
        {},
    )
    assert list(config.providers) == ["liveramp", "mediamath"]
    assert dict(config.variables) == {"region": "REGION_US", "writes": "enabled", "owner": "ops"}
    assert dict(config.state) == {"backend": "local", "path": ".reconciler/other.json"}
    assert config.paths == (tmp_path.resolve() / "manifests",)
    rule = config.drift_ignore[0]
    assert (rule.address, rule.fields) == ("mediamath.Strategy/*", ("bid_aggressiveness",))
    assert rule.matches("mediamath.Strategy/prospecting") and not rule.matches("mediamath.Campaign/x")
    assert config.ignored_drift_fields("mediamath.Strategy/s1") == {
        "bid_aggressiveness",
        "updated_on",
        "version",
    }
    assert config.ignored_drift_fields("liveramp.Cleanroom/r") == {"updated_on", "version"}


def test_credentials_never_in_repr(tmp_path: Path) -> None:
    write(tmp_path, WORKSPACE)
    config = load_workspace_config(tmp_path, ENV)
    for text in (
        repr(config),
        str(config),
        repr(config.providers["mediamath"]),
        str(config.providers["mediamath"]),
    ):
        assert "s3cr3t-pw" not in text and "robot" not in text
    assert "password" in repr(config.providers["mediamath"])  # the names are fine
    provider_config = config.providers["mediamath"].provider_config(config.root)
    assert provider_config.credentials["password"] == "s3cr3t-pw"
    assert provider_config.options["rate_limit"] == 40 and provider_config.workspace_dir == config.root
    assert "s3cr3t-pw" not in repr(provider_config)


def test_without_resolving_credentials(tmp_path: Path) -> None:
    write(tmp_path, WORKSPACE)
    config = load_workspace_config(tmp_path, {"USER_NAME": "ops"}, resolve_credentials=False)
    assert dict(config.providers["mediamath"].credentials) == {}
    with pytest.raises(InterpolationError) as caught:
        load_workspace_config(tmp_path, {"USER_NAME": "ops"})
    assert str(caught.value).startswith(
        "reconciler.yaml:6: providers.mediamath.credentials.password: environment variable MM_PASSWORD is not set"
    )


@pytest.mark.parametrize(
    ("text", "error_type", "expected"),
    [
        ("", WorkspaceError, "reconciler.yaml:1: the workspace file is empty"),
        (
            "apiVersion: reconciler/v1\nkind: Workspace\n---\nkind: Workspace\n",
            WorkspaceError,
            "reconciler.yaml:4: ",
        ),
        ("- a\n", WorkspaceError, "reconciler.yaml:1: the workspace file must be a mapping, not a list"),
        ("apiVersion: reconciler/v2\nkind: Workspace\n", WorkspaceError, "reconciler.yaml:1: apiVersion: "),
        ("kind: Workspace\n", WorkspaceError, "reconciler.yaml:1: 'apiVersion' is a required property"),
        (
            "apiVersion: reconciler/v1\nkind: Workspace\nproviders:\n  mediamath: {endpoint: ftp://x}\n",
            WorkspaceError,
            "reconciler.yaml:4: providers.mediamath.endpoint: endpoint 'ftp://x' is neither an http(s) URL nor 'sandbox'",
        ),
        (
            "apiVersion: reconciler/v1\nkind: Workspace\nvariables:\n  a: 1\n  b: ${var:a}\n",
            InterpolationError,
            "reconciler.yaml:5: variables.b: ${var:a} cannot be used here",
        ),
        (
            "apiVersion: reconciler/v1\nkind: Workspace\npaths: []\n",
            WorkspaceError,
            "reconciler.yaml:3: paths: list must have at least 1 item",
        ),
        (
            "apiVersion: reconciler/v1\nkind: Workspace\nproviders:\n  Media-Math: {endpoint: sandbox}\n",
            WorkspaceError,
            "reconciler.yaml:4: providers.Media-Math: 'Media-Math' does not match",
        ),
    ],
)
def test_invalid_files(tmp_path: Path, text: str, error_type: type, expected: str) -> None:
    write(tmp_path, text)
    with pytest.raises(error_type) as caught:
        load_workspace_config(tmp_path, {})
    assert str(caught.value).startswith(expected), str(caught.value)
