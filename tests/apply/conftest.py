"""Fixtures for executor tests: a MemoryProvider on a temp file, and state backends.

``state`` runs each test against the real :class:`LocalBackend` (files in tmp_path), the real
PostgreSQL backend (a fresh schema in the session's throwaway cluster) and the in-memory test
backend, so the executor is held to the backend contract, not one implementation.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from reconciler.state import open_backend
from reconciler.state.base import StateBackend
from reconciler.state.local import LocalBackend
from tests.support.memory_provider import MemoryProvider
from tests.support.memory_state import MemoryStateBackend


@pytest.fixture
def remote(tmp_path: Path) -> MemoryProvider:
    return MemoryProvider.at(tmp_path / "remote.json")


@pytest.fixture(params=["local", "postgres", "memory"])
def state(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[StateBackend]:
    if request.param == "local":
        yield LocalBackend(tmp_path / ".reconciler" / "state.json")
    elif request.param == "postgres":
        backend = open_backend(request.getfixturevalue("pg_settings"), tmp_path)
        yield backend
        backend.close()
    else:
        yield MemoryStateBackend()


@pytest.fixture(params=["local", "postgres"])
def state_settings(request: pytest.FixtureRequest, tmp_path: Path) -> dict[str, Any]:
    """A ``state:`` block of a real backend, for tests whose writer is another process."""
    if request.param == "local":
        return {"backend": "local", "path": str(tmp_path / "st" / "state.json")}
    return dict(request.getfixturevalue("pg_settings"))
