"""Fixtures for the security tests (issue 16): the memory-provider workspace of the CLI tests and
the sandbox workspaces of the adoption tests."""

from __future__ import annotations

from tests.adopt.conftest import sandbox, sandbox_ws  # noqa: F401 - fixtures
from tests.cli.conftest import ws  # noqa: F401 - fixture
