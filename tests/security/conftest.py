"""Fixtures for the security tests (issue 16): the memory-provider workspace of the CLI tests,
the sandbox workspaces of the adoption tests and the Reporting API sandbox."""

from __future__ import annotations

from tests.adopt.conftest import sandbox, sandbox_ws  # noqa: F401 - fixtures
from tests.cli.conftest import ws  # noqa: F401 - fixture
from tests.sandbox.mediamath_reporting.fixtures import checker, rep, rep_sandbox, rep_server  # noqa: F401 - fixtures
