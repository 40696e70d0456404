"""Fixtures for executor tests: a MemoryProvider on a temp file, and state backends.

``state`` runs each test against the real :class:`LocalBackend` (files in tmp_path) and the
in-memory test backend, so the executor is held to the backend contract, not one implementation.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from reconciler.state.base import StateBackend
from reconciler.state.local import LocalBackend
from tests.support.memory_provider import MemoryProvider
from tests.support.memory_state import MemoryStateBackend


@pytest.fixture
def remote(tmp_path: Path) -> MemoryProvider:
    return MemoryProvider.at(tmp_path / "remote.json")


@pytest.fixture(params=["local", "memory"])
def state(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[StateBackend]:
    if request.param == "local":
        yield LocalBackend(tmp_path / ".reconciler" / "state.json")
    else:
        yield MemoryStateBackend()
