"""State backends: pick one from the workspace's ``state:`` block.

``open_backend({"backend": "local", "path": ".reconciler/state.json"}, root)`` returns a
:class:`~reconciler.state.local.LocalBackend`; ``path`` is relative to the workspace root (the
directory of ``reconciler.yaml``) and defaults to ``.reconciler/state.json``.
``{"backend": "postgres", "url": ..., "schema": ..., "workspace": ...}`` returns a
:class:`~reconciler.state.postgres.PostgresBackend` (settings in :mod:`reconciler.state.pgconn`;
psycopg is imported only then). A new backend registers a factory in ``BACKENDS``. The engine only
sees :class:`StateBackend`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from reconciler.errors import Location, WorkspaceError
from reconciler.state.base import Intent, LockInfo, ResourceState, StateBackend, StateSnapshot
from reconciler.state.local import DEFAULT_STATE_PATH, LocalBackend
from reconciler.state.pgconn import open_postgres

__all__ = [
    "BACKENDS",
    "DEFAULT_STATE_PATH",
    "Intent",
    "LocalBackend",
    "LockInfo",
    "ResourceState",
    "StateBackend",
    "StateSnapshot",
    "open_backend",
]


def _open_local(settings: Mapping[str, Any], root: Path, location: Location | None) -> StateBackend:
    unknown = sorted(str(key) for key in settings if key not in ("backend", "path"))
    if unknown:
        raise WorkspaceError(
            f"unknown setting '{unknown[0]}' for the local state backend (allowed: backend, path)",
            location=location,
            path=f"state.{unknown[0]}",
        )
    raw = settings.get("path", DEFAULT_STATE_PATH)
    if not isinstance(raw, str) or not raw.strip():
        raise WorkspaceError("expected a non-empty file path", location=location, path="state.path")
    path = Path(raw).expanduser()
    if not path.is_absolute():
        path = root / path
    if raw.endswith(("/", "\\")) or path.is_dir():
        path = path / Path(DEFAULT_STATE_PATH).name
    return LocalBackend(path)


BACKENDS: dict[str, Callable[[Mapping[str, Any], Path, Location | None], StateBackend]] = {
    "local": _open_local,
    "postgres": open_postgres,
}


def open_backend(
    settings: Mapping[str, Any] | None, root: Path, *, location: Location | None = None
) -> StateBackend:
    """The backend the workspace's ``state:`` block names (``None`` or ``{}``: local default).

    ``location`` (of the ``state:`` block in ``reconciler.yaml``) is put into error messages.
    """
    if settings is None:
        settings = {}
    if not isinstance(settings, Mapping):
        raise WorkspaceError("expected a mapping with 'backend' and its settings", location=location, path="state")
    name = settings.get("backend", "local")
    if not isinstance(name, str):
        raise WorkspaceError("expected the name of a state backend", location=location, path="state.backend")
    factory = BACKENDS.get(name)
    if factory is None:
        raise WorkspaceError(
            f"unknown state backend '{name}' (available: {', '.join(sorted(BACKENDS))})",
            location=location,
            path="state.backend",
        )
    return factory(settings, Path(root), location)
