"""open_backend: the workspace's ``state:`` block to a backend.

(Postgres settings: url, schema and workspace checked, the connection string never echoed.)

Covers: the default (None, {}, backend only) at ``<root>/.reconciler/state.json``; relative,
absolute and directory paths; journal and lock names for a non-default file name; an unknown
backend, a non-string backend, an unknown setting and a bad path as WorkspaceError naming the
field (and the workspace file's location when given); the package re-exports.
"""

from __future__ import annotations

from pathlib import Path

import pytest

import reconciler.state as state_pkg
from reconciler.errors import InputError, Location, WorkspaceError
from reconciler.manifest.workspace import load_workspace_config
from reconciler.state import LocalBackend, open_backend
from reconciler.state.base import StateBackend
from reconciler.state.postgres import PostgresBackend

from .factory import simple


@pytest.mark.parametrize("settings", [None, {}, {"backend": "local"}])
def test_default_is_the_local_file_beside_the_workspace(
    tmp_path: Path, settings: dict[str, str] | None
) -> None:
    backend = open_backend(settings, tmp_path)
    assert isinstance(backend, LocalBackend)
    assert backend.path == tmp_path / ".reconciler" / "state.json"
    assert backend.journal_path == tmp_path / ".reconciler" / "journal.jsonl"
    assert backend.lock_path == tmp_path / ".reconciler" / "state.lock"
    assert backend.record(simple("a")) == 1
    assert (tmp_path / ".reconciler" / "journal.jsonl").exists()


def test_paths(tmp_path: Path) -> None:
    relative = open_backend({"backend": "local", "path": "states/prod.json"}, tmp_path)
    assert isinstance(relative, LocalBackend)
    assert relative.path == tmp_path / "states" / "prod.json"
    assert relative.journal_path == tmp_path / "states" / "prod.journal.jsonl"
    assert relative.lock_path == tmp_path / "states" / "prod.lock"

    absolute = open_backend({"path": str(tmp_path / "abs" / "state.json")}, tmp_path / "elsewhere")
    assert isinstance(absolute, LocalBackend)
    assert absolute.path == tmp_path / "abs" / "state.json"

    directory = open_backend({"path": "shared/"}, tmp_path)
    assert isinstance(directory, LocalBackend)
    assert directory.path == tmp_path / "shared" / "state.json"


@pytest.mark.parametrize(
    ("settings", "expected"),
    [
        ({"backend": "s3"}, "state.backend: unknown state backend 's3' (available: local, postgres)"),
        ({"backend": "postgres"}, 'state.url: expected a PostgreSQL connection string, e.g. url: "${env:RECONCILER_PG_URL}"'),
        ({"backend": "postgres", "url": "host=h dbname=d", "path": "x"}, "state.path: unknown setting 'path' for the postgres"),
        ({"backend": "postgres", "url": "host=h dbname=d", "schema": "1x"}, "state.schema: expected a schema name"),
        ({"backend": "postgres", "url": "host=h dbname=d", "workspace": ""}, "state.workspace: expected a non-empty"),
        ({"backend": 3}, "state.backend: expected the name of a state backend"),
        (
            {"backend": "local", "pth": "x.json"},
            "state.pth: unknown setting 'pth' for the local state backend",
        ),
        ({"path": ""}, "state.path: expected a non-empty file path"),
        ({"path": ["a"]}, "state.path: expected a non-empty file path"),
        (["local"], "state: expected a mapping"),
        (
            {"backend": "postgres", "url": "postgresql://u:Hunter2-Secret@h/db x"},
            "state.url: not a PostgreSQL connection string",
        ),
    ],
)
def test_bad_settings_are_workspace_errors(tmp_path: Path, settings: object, expected: str) -> None:
    with pytest.raises(WorkspaceError) as caught:
        open_backend(settings, tmp_path)  # type: ignore[arg-type]
    assert str(caught.value).startswith(expected)
    with pytest.raises(WorkspaceError) as located:
        open_backend(settings, tmp_path, location=Location("reconciler.yaml", 4))  # type: ignore[arg-type]
    assert str(located.value).startswith(f"reconciler.yaml:4: {expected}")
    assert "Hunter2" not in str(caught.value)  # a connection string is never echoed


def test_postgres_settings_hide_the_connection_string(tmp_path: Path) -> None:
    backend = open_backend(
        {"backend": "postgres", "url": "postgresql://ops:Hunter2-Secret@db.internal:6432/state", "workspace": "prod"},
        tmp_path,
    )
    assert isinstance(backend, PostgresBackend)
    assert backend.where == "postgresql://ops@db.internal:6432/state (schema reconciler, workspace prod)"
    assert "Hunter2" not in repr(backend) + repr(backend.target) + backend.where


def test_package_reexports_the_base_names() -> None:
    for name in (
        "StateBackend",
        "ResourceState",
        "StateSnapshot",
        "Intent",
        "LockInfo",
        "LocalBackend",
        "open_backend",
    ):
        assert name in state_pkg.__all__
        assert getattr(state_pkg, name) is not None
    assert issubclass(LocalBackend, StateBackend)


@pytest.mark.parametrize(
    "url",
    ["postgresql://ops:Hunter2-Secret@db/state", "host=db password=Hunter2-Secret", "postgresql://db/s?password=Hunter2-Secret"],
)
def test_a_literal_password_in_the_workspace_file_is_refused_without_echo(tmp_path: Path, url: str) -> None:
    (tmp_path / "reconciler.yaml").write_text(
        f"apiVersion: reconciler/v1\nkind: Workspace\nstate:\n  backend: postgres\n  url: '{url}'\n"
    )
    with pytest.raises(WorkspaceError) as caught:
        load_workspace_config(tmp_path, {})
    assert str(caught.value).startswith("reconciler.yaml:5: state.url: a connection string with a password is not allowed")
    assert "Hunter2" not in str(caught.value)


def test_validate_needs_no_connection_string(tmp_path: Path) -> None:
    (tmp_path / "reconciler.yaml").write_text(
        'apiVersion: reconciler/v1\nkind: Workspace\nstate: {backend: postgres, url: "${env:RECONCILER_PG_URL}"}\n'
    )
    config = load_workspace_config(tmp_path, {}, resolve_credentials=False)
    assert dict(config.state) == {"backend": "postgres", "url_unset": "RECONCILER_PG_URL"}  # no local path
    with pytest.raises(WorkspaceError, match="state.url: the environment variable RECONCILER_PG_URL is not set"):
        open_backend(config.state, tmp_path)
    kept = load_workspace_config(tmp_path, {"RECONCILER_PG_URL": "host=db dbname=state"}, resolve_credentials=False)
    assert kept.state["url"] == "host=db dbname=state"  # state list/show need it even without provider secrets
    with pytest.raises(InputError, match="RECONCILER_PG_URL"):
        load_workspace_config(tmp_path, {})
    resolved = load_workspace_config(tmp_path, {"RECONCILER_PG_URL": "host=db dbname=state"})
    assert dict(resolved.state) == {"backend": "postgres", "url": "host=db dbname=state"}


def test_the_state_databases_connection_string_is_a_secret_manifests_may_not_read(tmp_path: Path) -> None:
    (tmp_path / "reconciler.yaml").write_text(
        'apiVersion: reconciler/v1\nkind: Workspace\nstate: {backend: postgres, url: "${env:RECONCILER_PG_URL}"}\n'
    )
    config = load_workspace_config(tmp_path, {"RECONCILER_PG_URL": "host=db dbname=state"})
    assert "RECONCILER_PG_URL" in config.secrets.env
